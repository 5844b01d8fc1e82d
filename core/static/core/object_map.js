/* Maps on object pages (a vehicle's position and track, a ride's track with start, end and zone crossings):
   every element with class "fw-object-map" draws the JSON of the json_script its data-map-source names:
   {track: [[lat, lon], ...], markers: [{lat, lon, kind, label, status?}], zones?: GeoJSON FeatureCollection}.
   Uses FreewheelMap.create (core/map.js) and no inline script or style (the CSP allows neither).
   When drawn, the element gets data-drawn="<number of track points>" (the browser tests wait for it). */
(function () {
  "use strict";

  var MARKER_COLORS = {start: "#2b8a3e", end: "#c92a2a", enter: "#1c7ed6", leave: "#f08c00"};
  var ZONE_COLORS = {
    operating_area: "#2f9e44", no_parking: "#e03131", no_ride: "#862e9c", slow: "#f08c00",
    parking_mandatory: "#1971c2", parking_preferred: "#1971c2", cap: "#495057"
  };

  function markerColor(marker) {
    if (marker.kind === "vehicle") {
      return FreewheelMap.statusColor(marker.status);
    }
    return MARKER_COLORS[marker.kind] || "#495057";
  }

  function draw(element) {
    var source = document.getElementById(element.dataset.mapSource);
    if (!source) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var map = FreewheelMap.create(element, {preferCanvas: false});  // SVG: a few layers, each with its class
    var bounds = L.latLngBounds([]);
    if (data.zones && data.zones.features && data.zones.features.length) {
      L.geoJSON(data.zones, {
        style: function (feature) {
          var color = ZONE_COLORS[feature.properties.kind] || "#495057";
          return {color: color, weight: 1, fillOpacity: 0.08, className: "fw-zone"};
        },
        onEachFeature: function (feature, layer) {
          layer.bindTooltip(feature.properties.name + " (" + feature.properties.kind.replace(/_/g, " ") + ")");
        }
      }).addTo(map);
    }
    if (data.track && data.track.length > 1) {
      var line = L.polyline(data.track, {color: "#1864ab", weight: 4, opacity: 0.85, className: "fw-track"});
      line.addTo(map);
      bounds.extend(line.getBounds());
    }
    (data.markers || []).forEach(function (marker) {
      var big = marker.kind === "vehicle" || marker.kind === "start" || marker.kind === "end";
      var dot = L.circleMarker([marker.lat, marker.lon], {
        radius: big ? 8 : 6, color: "#fff", weight: 2, fillColor: markerColor(marker), fillOpacity: 1,
        className: "fw-marker fw-marker-" + marker.kind
      });
      dot.bindTooltip(marker.label);
      dot.addTo(map);
      bounds.extend(dot.getLatLng());
    });
    if (bounds.isValid()) {
      map.fitBounds(bounds, {padding: [24, 24], maxZoom: 17, animate: false});  // opens on it, no zoom race
    }
    element.dataset.drawn = String((data.track || []).length);
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".fw-object-map"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
