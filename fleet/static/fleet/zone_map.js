/* The zone change page: draw and edit the zone on a map (Leaflet + Geoman, from the map foundation's
   {% map_assets draw=True %}), the GeoJSON field kept as the form's source of truth and synced both ways, the
   city's other zones drawn faintly, the geometry's problem marked where it lies, and a live preview of the GBFS
   rules the zone produces (posted to feeds' preview endpoint with the unsaved form).
   Data comes from <script type="application/json" id="zone-map-data"> (json_script): no inline script (CSP). */
(function () {
  "use strict";

  var KIND_COLOURS = {
    operating_area: "#2b8a3e", no_parking: "#e67700", no_ride: "#c92a2a", slow: "#1971c2",
    parking_mandatory: "#6741d9", parking_preferred: "#9c36b5", cap: "#495057"
  };
  // Before anything is drawn in a city without zones. SVG, not the foundation's canvas: Geoman edits SVG paths.
  var DEFAULT_VIEW = {center: [52.52, 13.405], zoom: 12, preferCanvas: false};

  function readJSON(id) {
    var element = document.getElementById(id);
    if (!element) { return null; }
    try { return JSON.parse(element.textContent); } catch (e) { return null; }
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  function text(tag, content, className) {
    var element = document.createElement(tag);
    if (content !== undefined && content !== null) { element.textContent = String(content); }
    if (className) { element.className = className; }
    return element;
  }

  function ZoneMap(element, data) {
    this.element = element;
    this.data = data || {};
    this.form = element.closest("form");
    this.field = document.getElementById("id_geometry");
    this.city = document.getElementById("id_city");
    this.kind = document.getElementById("id_kind");
    this.problemBox = document.getElementById("zone-map-problem");
    this.previewBox = document.getElementById("zone-gbfs-preview");
    var urlHolder = document.getElementById("zone-gbfs-preview-url");
    this.previewUrl = urlHolder ? urlHolder.getAttribute("data-url") : "";
    this.editable = this.data.editable !== false && this.field && !this.field.disabled;

    this.map = window.FreewheelMap.create(element, DEFAULT_VIEW);
    this.context = L.layerGroup().addTo(this.map);   // the city's other zones: faint, never editable
    this.drawn = L.featureGroup().addTo(this.map);   // this zone's polygons
    this.problems = L.layerGroup().addTo(this.map);  // the geometry's problem, where it lies
    this.writing = false;
    this.schedulePreview = debounce(this.preview.bind(this), 400);

    this.drawContext();
    this.readField();
    this.fit();
    if (this.editable) { this.enableDrawing(); }
    this.showProblem(this.data.problem || null);
    this.listen();
    this.preview();
  }

  ZoneMap.prototype.colour = function () {
    return KIND_COLOURS[this.kind && this.kind.value] || "#1971c2";
  };

  ZoneMap.prototype.drawContext = function () {
    var city = this.city ? this.city.value : "";
    var features = ((this.data.context || {}).features || []).filter(function (feature) {
      return !city || feature.properties.city === city;
    });
    this.context.clearLayers();
    if (!features.length) { return; }
    var layer = L.geoJSON({type: "FeatureCollection", features: features}, {
      pmIgnore: true, interactive: true,
      style: function (feature) {
        var colour = KIND_COLOURS[feature.properties.kind] || "#868e96";
        return {color: colour, weight: 1, opacity: 0.6, fillColor: colour, fillOpacity: 0.08, dashArray: "4 4"};
      },
      onEachFeature: function (feature, featureLayer) {
        featureLayer.bindTooltip(feature.properties.name + " (" + feature.properties.kind.replace(/_/g, " ") + ")",
                                 {sticky: true});
      }
    });
    this.context.addLayer(layer);
  };

  ZoneMap.prototype.style = function () {
    var colour = this.colour();
    return {color: colour, weight: 2, fillColor: colour, fillOpacity: 0.3};
  };

  // The field -> the map (on load, and when GeoJSON is pasted or typed). Invalid JSON leaves the map as it is.
  ZoneMap.prototype.readField = function () {
    if (!this.field) { return false; }
    var raw = this.field.value.trim();
    if (raw === "null") { this.field.value = raw = ""; }  // an empty JSONField renders as "null": not for pasting into
    var geometry = null;
    if (raw) {
      try { geometry = JSON.parse(raw); } catch (e) { return false; }
    }
    this.drawn.clearLayers();
    if (!geometry) { return true; }
    var self = this;
    try {
      L.geoJSON(geometry, {style: this.style()}).eachLayer(function (layer) { self.adopt(layer); });
    } catch (e) {
      return false;  // not GeoJSON Leaflet can draw: the server's validation says why
    }
    return true;
  };

  ZoneMap.prototype.adopt = function (layer) {
    var self = this;
    layer.setStyle && layer.setStyle(this.style());
    this.drawn.addLayer(layer);
    layer.on("pm:edit pm:dragend pm:rotateend", function () { self.writeField(); });
  };

  // The map -> the field: every polygon drawn becomes part of one MultiPolygon.
  ZoneMap.prototype.geometry = function () {
    var polygons = [];
    this.drawn.eachLayer(function (layer) {
      if (!layer.toGeoJSON) { return; }
      var geometry = layer.toGeoJSON(7).geometry;
      if (geometry.type === "Polygon") { polygons.push(geometry.coordinates); }
      if (geometry.type === "MultiPolygon") { polygons.push.apply(polygons, geometry.coordinates); }
    });
    return polygons.length ? {type: "MultiPolygon", coordinates: polygons} : null;
  };

  ZoneMap.prototype.writeField = function () {
    var geometry = this.geometry();
    this.field.value = geometry ? JSON.stringify(geometry) : "";
    this.field.dispatchEvent(new Event("change", {bubbles: true}));
  };

  ZoneMap.prototype.fit = function () {
    var own = this.drawn.getLayers().length > 0;
    var group = own ? this.drawn : L.featureGroup(this.context.getLayers());
    var bounds = group.getLayers().length ? group.getBounds() : null;
    if (bounds && bounds.isValid()) {
      this.map.fitBounds(bounds, {padding: [24, 24], maxZoom: 16, animate: false});
      // One level out from the zone's own tight fit, so that the zones around it show too.
      if (own) { this.map.setZoom(Math.max(this.map.getZoom() - 1, 2), {animate: false}); }
    }
  };

  // GEOS's reasons in words for the marker on the map (the banner keeps the full message).
  function problemInWords(message) {
    if (/Ring Self-intersection/.test(message)) { return "A ring touches itself here"; }
    if (/Self-intersection/.test(message)) {
      return /overlap/.test(message) ? "The polygons overlap here" : "The outline crosses itself here";
    }
    if (/at least 4 positions/.test(message)) { return "Too few points: a zone needs at least 3 corners"; }
    if (/not closed/.test(message)) { return "The outline is not closed"; }
    return message;
  }

  ZoneMap.prototype.enableDrawing = function () {
    var self = this;
    this.map.pm.addControls({
      position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawCircle: false,
      drawText: false, rotateMode: false, drawPolygon: true, drawRectangle: true, editMode: true, dragMode: true,
      cutPolygon: true, removalMode: true
    });
    this.map.pm.setGlobalOptions({layerGroup: this.drawn, pathOptions: this.style(), snappable: true});
    this.map.on("pm:create", function (event) { self.adopt(event.layer); self.writeField(); });
    this.map.on("pm:remove", function () { self.writeField(); });
    this.map.on("pm:cut", function (event) {
      self.drawn.removeLayer(event.originalLayer);
      if (!self.drawn.hasLayer(event.layer)) { self.adopt(event.layer); }
      self.writeField();
    });
  };

  ZoneMap.prototype.listen = function () {
    var self = this;
    if (this.field) {
      this.field.addEventListener("input", debounce(function () {
        if (self.readField()) { self.fit(); }
        self.schedulePreview();
      }, 300));
      this.field.addEventListener("change", function () { self.schedulePreview(); });
    }
    if (this.city) {
      this.city.addEventListener("change", function () { self.drawContext(); if (!self.drawn.getLayers().length) { self.fit(); } });
    }
    if (this.kind) {
      this.kind.addEventListener("change", function () {
        var style = self.style();
        self.drawn.eachLayer(function (layer) { layer.setStyle && layer.setStyle(style); });
        self.map.pm.setGlobalOptions({layerGroup: self.drawn, pathOptions: style, snappable: true});
      });
    }
    if (this.form) {
      this.form.addEventListener("change", function (event) {
        if (event.target !== self.field) { self.schedulePreview(); }
      });
    }
  };

  // A problem of the geometry: a banner above the map and, where it can be placed, a marker on the spot. A warning
  // (the zone lies outside the operating area) looks the same in amber and does not stop a save.
  ZoneMap.prototype.showProblem = function (problem, warning) {
    this.problems.clearLayers();
    if (!this.problemBox) { return; }
    this.problemBox.classList.toggle("fw-zone-warning", Boolean(warning));
    if (!problem) { this.problemBox.hidden = true; this.problemBox.textContent = ""; return; }
    this.problemBox.hidden = false;
    this.problemBox.textContent = (warning ? "Warning: " : "Geometry: ") + problem.message +
      (problem.location ? " (marked on the map)" : "");
    if (problem.location) {
      var colour = warning ? "#b35c00" : "#c92a2a";
      var at = [problem.location[1], problem.location[0]];
      var marker = L.circleMarker(at, {radius: 9, color: colour, weight: 3, fillColor: warning ? "#fff4e0" : "#ffe3e3",
                                       fillOpacity: 0.9, pmIgnore: true,
                                       className: warning ? "fw-zone-warning-marker" : "fw-zone-problem-marker"});
      marker.bindTooltip(warning ? "Outside the operating area" : problemInWords(problem.message),
                         {permanent: true, direction: "top",
                          className: warning ? "fw-zone-warning-tip" : "fw-zone-problem-tip"});
      this.problems.addLayer(marker);
    }
  };

  ZoneMap.prototype.preview = function () {
    if (!this.previewUrl || !this.form || !this.previewBox) { return; }
    var self = this;
    var body = new FormData(this.form);
    var token = body.get("csrfmiddlewaretoken") || "";
    fetch(this.previewUrl, {method: "POST", body: body, credentials: "same-origin",
                            headers: {"X-CSRFToken": token, "Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (answer) { self.renderPreview(answer); })
      .catch(function (error) {
        self.previewBox.replaceChildren(text("p", "The GBFS preview is not available (" + error.message + ").", "help"));
      });
  };

  ZoneMap.prototype.renderPreview = function (answer) {
    var box = this.previewBox;
    box.replaceChildren();
    if (!answer.valid) {
      this.showProblem(answer.geometry_problem || null);
      box.appendChild(text("p", "Not a valid zone yet, so no GBFS preview:", "fw-gbfs-invalid"));
      var list = text("ul", null, "errorlist");
      Object.keys(answer.errors).forEach(function (field) {
        answer.errors[field].forEach(function (error) {
          list.appendChild(text("li", (field === "__all__" ? "" : field.replace(/_/g, " ") + ": ") + error.message));
        });
      });
      box.appendChild(list);
      return;
    }
    this.showProblem(answer.warning || null, true);
    if (answer.warning) { box.appendChild(text("p", "Warning: " + answer.warning.message, "fw-gbfs-warning")); }
    if (!answer.published) { box.appendChild(text("p", answer.note, "fw-gbfs-note")); return; }
    var v3 = answer.v3.geofencing_zones.features[0].properties;
    var v2 = answer.v2.geofencing_zones.features[0].properties;
    var table = text("table", null, "fw-gbfs-rules");
    var head = text("tr");
    ["GBFS", "Vehicle types", "Start", "End", "Ride through", "Max speed", "Station parking"].forEach(function (h) {
      var th = text("th", h); th.scope = "col"; head.appendChild(th);
    });
    table.appendChild(text("thead")).appendChild(head);
    var rows = table.appendChild(text("tbody"));
    function yesNo(value) { return value === undefined ? "–" : (value ? "yes" : "no"); }
    (v3.rules || []).forEach(function (rule) {
      var tr = rows.appendChild(text("tr"));
      ["3.0", (rule.vehicle_type_ids || ["all"]).join(", "), yesNo(rule.ride_start_allowed), yesNo(rule.ride_end_allowed),
       yesNo(rule.ride_through_allowed), rule.maximum_speed_kph === undefined ? "–" : rule.maximum_speed_kph + " km/h",
       yesNo(rule.station_parking)].forEach(function (cell) { tr.appendChild(text("td", cell)); });
    });
    (v2.rules || []).forEach(function (rule) {
      var tr = rows.appendChild(text("tr"));
      ["2.3", (rule.vehicle_type_id || ["all"]).join(", "), yesNo(rule.ride_allowed) + " (ride_allowed)",
       yesNo(rule.ride_allowed) + " (ride_allowed)", yesNo(rule.ride_through_allowed),
       rule.maximum_speed_kph === undefined ? "–" : rule.maximum_speed_kph + " km/h",
       yesNo(rule.station_parking)].forEach(function (cell) { tr.appendChild(text("td", cell)); });
    });
    box.appendChild(table);
    var schedule = (v3.start || v3.end) ? "Active from " + (v3.start || "always") + " until " + (v3.end || "further notice") + " (UTC)." : "Always active.";
    box.appendChild(text("p", schedule, "help"));
    if ((answer.v3.global_rules || []).length) {
      box.appendChild(text("p", "Outside the operating area (the city's global rules): no ride starts or ends there.", "help"));
    }
    var details = box.appendChild(text("details"));
    details.appendChild(text("summary", "The GBFS 3.0 feature as published (geometry left out)"));
    details.appendChild(text("pre", JSON.stringify(answer.v3.geofencing_zones.features[0], null, 2), "fw-gbfs-json"));
  };

  document.addEventListener("DOMContentLoaded", function () {
    var element = document.getElementById("zone-map");
    if (!element || !window.FreewheelMap || !window.L) { return; }
    var help = document.querySelector(".fw-zone-map-help");
    if (help) { help.hidden = true; }
    window.freewheelZoneMap = new ZoneMap(element, readJSON("zone-map-data"));
  });
}());
