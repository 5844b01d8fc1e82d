/* The admin's live fleet map (docs/console.md "Fleet map"). A static file: the Content-Security-Policy allows no
   inline script. Data comes from the page (json_script "fw-map-config"), the fleet socket (/ws/v1/fleet, with a
   single-use ticket from /admin/map/ticket) and the panel's JSON endpoints. The server decides what is shown
   (box, filters, grid cells or single vehicles); this script only draws it. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("fw-fleet-map-config").textContent);
  const el = document.getElementById("fw-map");
  const statusLine = document.getElementById("fw-map-status");
  const panel = document.getElementById("fw-map-panel");
  const panelBody = document.getElementById("fw-map-panel-body");
  const csrf = document.querySelector("#fw-map-filters input[name=csrfmiddlewaretoken]").value;

  const MAX_VEHICLES = 1500;   // a view with more vehicles than this shows grid cells
  const CELL_PX = 64;          // a grid cell is about this many pixels wide
  const LOW_BATTERY = 20;
  const LOW_RING = "#111827";
  // Zones are drawn on the map's canvas, which CSS classes cannot colour: one style per kind here.
  const ZONE_STYLES = {
    operating_area: {color: "#2563eb", fillColor: "#2563eb", fillOpacity: 0.03, dashArray: "6 4", weight: 2},
    no_parking: {color: "#dc2626", fillColor: "#dc2626", fillOpacity: 0.12, weight: 2},
    no_ride: {color: "#7f1d1d", fillColor: "#7f1d1d", fillOpacity: 0.2, weight: 2},
    slow: {color: "#d97706", fillColor: "#f59e0b", fillOpacity: 0.12, weight: 2},
    parking_mandatory: {color: "#059669", fillColor: "#10b981", fillOpacity: 0.15, weight: 2},
    parking_preferred: {color: "#059669", fillColor: "#10b981", fillOpacity: 0.1, weight: 2, dashArray: "3 3"},
    cap: {color: "#7c3aed", fillColor: "#8b5cf6", fillOpacity: 0.06, weight: 2},
  };

  const extent = config.extent;
  const map = FreewheelMap.create(el, {center: extent ? [(extent[1] + extent[3]) / 2, (extent[0] + extent[2]) / 2]
    : [52.52, 13.405], zoom: 13});
  if (extent) {
    // At once, not animated: the page opens on the fleet, and a zoom asked for at once is not dropped (Leaflet
    // ignores a new zoom while a zoom animation runs).
    map.fitBounds([[extent[1], extent[0]], [extent[3], extent[2]]], {padding: [20, 20], maxZoom: 16, animate: false});
  }

  const vehicleLayer = L.layerGroup().addTo(map);
  const cellLayer = L.layerGroup().addTo(map);
  const alertLayer = L.layerGroup().addTo(map);
  const taskLayer = L.layerGroup().addTo(map);
  const zoneLayers = {};
  const markers = new Map();     // vehicle id -> circle marker (its data in marker.fw)
  const cells = new Map();       // cell key -> marker
  const pending = new Map();     // command id -> {element, kind}
  let mode = "vehicles";
  let selected = null;           // vehicle id of the open panel

  // ---- drawing ---------------------------------------------------------------------------------------------
  function radiusFor(battery) {
    return battery == null ? 6 : 5 + Math.round(battery / 25);  // 5 (empty) to 9 px (full)
  }

  function styleFor(v) {
    const low = v.battery_pct != null && v.battery_pct < LOW_BATTERY;
    return {
      radius: radiusFor(v.battery_pct), fillColor: FreewheelMap.statusColor(v.status), fillOpacity: 0.9,
      color: low ? LOW_RING : "#ffffff", weight: low ? 3 : 1.5,
      className: "fw-vehicle fw-status-" + v.status + (low ? " fw-low" : ""),
    };
  }

  function vehicleTitle(v) {
    const battery = v.battery_pct == null ? "battery ?" : v.battery_pct + " %";
    return v.code + " · " + v.status.replace(/_/g, " ") + " · " + battery;
  }

  function putVehicle(v) {
    if (v.removed) {
      dropVehicle(v.id);
      return;
    }
    let marker = markers.get(v.id);
    const data = Object.assign(marker ? marker.fw : {}, v);
    if (data.lat == null || data.lon == null) {
      return;
    }
    if (!marker) {
      marker = L.circleMarker([data.lat, data.lon], styleFor(data));
      marker.fw = data;
      marker.bindTooltip(vehicleTitle(data));
      marker.on("click", function () { openPanel(data.id); });
      marker.addTo(vehicleLayer);
      markers.set(v.id, marker);
    } else {
      marker.setLatLng([data.lat, data.lon]);
      marker.setStyle(styleFor(data));
      marker.setRadius(radiusFor(data.battery_pct));
      marker.setTooltipContent(vehicleTitle(data));
    }
    const path = marker.getElement && marker.getElement();
    if (path) {
      path.setAttribute("data-vehicle", data.code);
    }
  }

  function dropVehicle(id) {
    const marker = markers.get(id);
    if (marker) {
      vehicleLayer.removeLayer(marker);
      markers.delete(id);
    }
  }

  function cellIcon(c) {
    const size = c.n < 10 ? 30 : c.n < 100 ? 36 : c.n < 1000 ? 44 : 52;
    const available = c.statuses.available || 0;
    const share = Math.round(100 * available / c.n);
    const div = document.createElement("div");
    div.className = "fw-cell";
    div.style.setProperty("--fw-share", share + "%");  // CSSOM, not an inline style attribute: allowed by the CSP
    div.style.width = div.style.height = size + "px";
    const count = document.createElement("span");
    count.textContent = c.n >= 10000 ? Math.round(c.n / 1000) + "k" : String(c.n);
    div.appendChild(count);
    if (c.low_battery) {
      const badge = document.createElement("b");
      badge.className = "fw-cell-low";
      badge.textContent = c.low_battery;
      badge.title = c.low_battery + " below " + LOW_BATTERY + " % battery";
      div.appendChild(badge);
    }
    return L.divIcon({html: div, className: "fw-cell-icon", iconSize: [size, size]});
  }

  function cellTitle(c) {
    const parts = Object.keys(c.statuses).sort().map(function (s) { return c.statuses[s] + " " + s.replace(/_/g, " "); });
    return c.n + " vehicles (" + parts.join(", ") + "), battery ⌀ " + c.battery_avg + " %";
  }

  function putCell(c) {
    let marker = cells.get(c.key);
    if (!c.n) {
      if (marker) {
        cellLayer.removeLayer(marker);
        cells.delete(c.key);
      }
      return;
    }
    if (!marker) {
      marker = L.marker([c.lat, c.lon], {icon: cellIcon(c), keyboard: true, title: cellTitle(c)});
      marker.on("click", function () { map.setView(marker.getLatLng(), Math.min(map.getZoom() + 2, 18)); });
      marker.addTo(cellLayer);
      cells.set(c.key, marker);
    } else {
      marker.setLatLng([c.lat, c.lon]);
      marker.setIcon(cellIcon(c));
      const node = marker.getElement();
      if (node) {
        node.title = cellTitle(c);
      }
    }
  }

  function clearAll() {
    vehicleLayer.clearLayers();
    cellLayer.clearLayers();
    markers.clear();
    cells.clear();
  }

  // ---- the view the server shows ----------------------------------------------------------------------------
  const statusList = document.getElementById("fw-map-status-list");
  const statusSummary = document.getElementById("fw-map-status-summary");
  config.statuses.forEach(function (s) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = s.value;
    box.className = "fw-status-box";
    const swatch = document.createElement("i");
    swatch.className = "fw-swatch";
    swatch.style.background = FreewheelMap.statusColor(s.value);
    label.append(box, swatch, " " + s.label);
    statusList.appendChild(label);
  });
  const typeSelect = document.getElementById("fw-map-type");
  config.types.forEach(function (t) {
    typeSelect.add(new Option(t.label, t.value));
  });
  const batteryInput = document.getElementById("fw-map-battery");
  const unseenSelect = document.getElementById("fw-map-unseen");

  function filters() {
    const statuses = Array.from(statusList.querySelectorAll("input:checked")).map(function (b) { return b.value; });
    statusSummary.textContent = statuses.length ? statuses.length + " status" + (statuses.length > 1 ? "es" : "")
      : "All statuses";
    const battery = parseInt(batteryInput.value, 10);
    const unseen = parseInt(unseenSelect.value, 10);
    return {status: statuses, type: typeSelect.value ? [typeSelect.value] : [],
            battery_below: isNaN(battery) ? null : Math.min(101, Math.max(1, battery)),
            unseen_s: isNaN(unseen) ? null : unseen};
  }

  function currentView() {
    const b = map.getBounds().pad(0.25);  // a margin: a small pan needs no new snapshot
    const clamp = function (x, lo, hi) { return Math.min(hi, Math.max(lo, x)); };
    const bbox = [clamp(b.getWest(), -180, 179.9), clamp(b.getSouth(), -90, 89.9),
                  clamp(b.getEast(), -179.9, 180), clamp(b.getNorth(), -89.9, 90)];
    const grid = Math.min(1, Math.max(0.0002, CELL_PX * 360 / (256 * Math.pow(2, map.getZoom()))));
    return {type: "view", bbox: bbox, grid: Number(grid.toPrecision(3)), max_vehicles: MAX_VEHICLES, filter: filters()};
  }

  let viewSent = null;
  let viewTimer = null;
  function sendView() {
    clearTimeout(viewTimer);
    viewTimer = setTimeout(function () {
      const view = currentView();
      const key = JSON.stringify(view);
      if (key !== viewSent && socket && socket.readyState === WebSocket.OPEN) {
        viewSent = key;
        socket.send(key);
      }
    }, 250);
  }
  map.on("moveend", sendView);
  document.getElementById("fw-map-filters").addEventListener("change", function (event) {
    if (event.target.id === "fw-map-city") {
      window.location.search = "?city=" + encodeURIComponent(event.target.value);
      return;
    }
    if (!event.target.closest(".fw-map-layers")) {
      sendView();
    }
  });
  document.getElementById("fw-map-filters").addEventListener("submit", function (event) { event.preventDefault(); });

  // ---- the socket -------------------------------------------------------------------------------------------
  let socket = null;
  let lastSeq = 0;
  let retry = 0;
  let shown = 0;

  function say(text, kind) {
    statusLine.textContent = text;
    statusLine.className = "fw-map-status" + (kind ? " " + kind : "");
  }

  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
                       headers: {"X-CSRFToken": csrf, "Content-Type": "application/json"},
                       body: JSON.stringify(body || {})});
  }

  function socketBase() {
    if (config.socket_origin) {
      return config.socket_origin;
    }
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
  }

  async function connect() {
    say(retry ? "Reconnecting…" : "Connecting…", "wait");
    let ticket;
    try {
      const answer = await post(config.urls.ticket);
      if (answer.status === 403) {
        say("You may not watch the fleet (permission fleet.view_vehicle).", "error");
        return;
      }
      if (!answer.ok || answer.redirected) {
        throw new Error("ticket " + answer.status);
      }
      ticket = (await answer.json()).ticket;
    } catch (err) {
      return later();
    }
    const view = currentView();
    viewSent = JSON.stringify(view);
    let url = socketBase() + "/ws/v1/fleet?city=" + config.city.id + "&ticket=" + encodeURIComponent(ticket) +
      "&view=" + encodeURIComponent(viewSent);
    if (lastSeq) {
      url += "&last_seq=" + lastSeq;
    }
    socket = new WebSocket(url, ["freewheel.v1"]);
    socket.onmessage = function (event) { receive(JSON.parse(event.data)); };
    socket.onclose = function (event) {
      socket = null;
      if (event.code === 4001) {   // the ticket's session ended: a new ticket at once
        retry = 0;
        connect();
        return;
      }
      later();
    };
  }

  function later() {
    retry = Math.min(retry + 1, 6);
    const wait = Math.min(30, Math.pow(2, retry - 1));
    say("Disconnected: retrying in " + wait + " s", "error");
    setTimeout(connect, wait * 1000);
  }

  function receive(message) {
    lastSeq = message.seq || lastSeq;
    const data = message.data || {};
    switch (message.type) {
      case "snapshot":
        retry = 0;
        clearAll();
        mode = data.mode || "vehicles";
        shown = data.total != null ? data.total : (data.vehicles || []).length;
        (data.vehicles || []).forEach(putVehicle);
        (data.cells || []).forEach(putCell);
        if (!data.more) {
          ready();
        }
        break;
      case "snapshot.part":
        (data.vehicles || []).forEach(putVehicle);
        (data.cells || []).forEach(putCell);
        if (!data.more) {
          ready();
        }
        break;
      case "fleet.positions":
        data.vehicles.forEach(putVehicle);
        if (selected) {
          const v = data.vehicles.find(function (x) { return x.id === selected; });
          if (v && !v.removed) {
            refreshPanelState(v);
          }
        }
        break;
      case "fleet.cells":
        data.cells.forEach(putCell);
        break;
      case "command.closed":
        commandClosed(data);
        break;
      case "ops_alert.opened": case "ops_alert.resolved": case "ops_alert.updated":
      case "ops_task.opened": case "ops_task.closed": case "ops_task.assigned":
        loadLayersSoon();
        break;
      case "view.refused":
        say("The map's view was refused: " + data.error, "error");
        break;
      case "ping":
        socket.send(JSON.stringify({type: "pong", seq: message.seq}));
        break;
      default:
        break;
    }
  }

  function ready() {
    const vehicles = shown + (shown === 1 ? " vehicle" : " vehicles");
    const what = mode === "cells" ? cells.size + (cells.size === 1 ? " area, " : " areas, ") + vehicles : vehicles;
    say("Live · " + what + " in view", "live");
    el.setAttribute("data-mode", mode);
    legend.setAttribute("data-mode", mode);
    el.setAttribute("data-ready", String(Date.now()));
  }

  // ---- layers: zones by kind, open alerts, open tasks ----------------------------------------------------------
  const layerList = document.getElementById("fw-map-layer-list");
  config.zone_kinds.forEach(function (k) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.id = "fw-layer-zone-" + k.value;
    box.checked = k.value !== "cap";
    const swatch = document.createElement("i");
    swatch.className = "fw-swatch fw-zone-" + k.value;
    label.append(box, swatch, " " + k.label);
    layerList.appendChild(label);
    zoneLayers[k.value] = L.layerGroup();
    box.addEventListener("change", function () { toggle(zoneLayers[k.value], box.checked); });
    if (box.checked) {
      zoneLayers[k.value].addTo(map);
    }
  });
  function toggle(layer, on) {
    if (on) {
      layer.addTo(map);
    } else {
      map.removeLayer(layer);
    }
  }
  document.getElementById("fw-layer-alerts").addEventListener("change", function (e) { toggle(alertLayer, e.target.checked); });
  document.getElementById("fw-layer-tasks").addEventListener("change", function (e) { toggle(taskLayer, e.target.checked); });

  function pin(item, kind) {
    const div = document.createElement("div");
    div.className = "fw-pin fw-pin-" + kind + (item.severity ? " fw-sev-" + item.severity : "");
    div.textContent = kind === "alert" ? "!" : "✓";
    const marker = L.marker([item.lat, item.lon], {icon: L.divIcon({html: div, className: "fw-pin-icon", iconSize: [20, 20],
                                                               iconAnchor: [10, 26]}),
                                                   title: item.code + ": " + item.kind + (item.message ? " – " + item.message : item.reason ? " – " + item.reason : "")});
    marker.on("click", function () { openPanel(item.vehicle_id); });
    return marker;
  }

  async function loadLayers() {
    const answer = await fetch(config.urls.layers, {credentials: "same-origin"});
    if (!answer.ok) {
      return;
    }
    const data = await answer.json();
    Object.values(zoneLayers).forEach(function (layer) { layer.clearLayers(); });
    data.zones.features.forEach(function (feature) {
      const kind = feature.properties.kind;
      const layer = zoneLayers[kind];
      if (layer) {
        L.geoJSON(feature, {style: ZONE_STYLES[kind] || {}, interactive: false}).addTo(layer);
      }
    });
    alertLayer.clearLayers();
    taskLayer.clearLayers();
    data.alerts.forEach(function (a) { pin(a, "alert").addTo(alertLayer); });
    data.tasks.forEach(function (t) { pin(t, "task").addTo(taskLayer); });
  }
  let layersTimer = null;
  function loadLayersSoon() {
    clearTimeout(layersTimer);
    layersTimer = setTimeout(loadLayers, 500);
  }

  // ---- legend -------------------------------------------------------------------------------------------------
  const legend = document.getElementById("fw-map-legend");
  ["available", "reserved", "on_trip", "low_battery", "maintenance", "non_contactable", "missing"].forEach(function (s) {
    const row = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.className = "fw-swatch";
    swatch.style.background = FreewheelMap.statusColor(s);
    row.append(swatch, " " + s.replace(/_/g, " "));
    legend.appendChild(row);
  });
  const lowRow = document.createElement("span");
  const lowSwatch = document.createElement("i");
  lowSwatch.className = "fw-swatch fw-swatch-low";
  lowRow.append(lowSwatch, " battery < " + LOW_BATTERY + " % (dark ring); the fuller, the bigger");
  legend.appendChild(lowRow);
  const cellRow = document.createElement("span");
  const cellSwatch = document.createElement("i");
  cellSwatch.className = "fw-swatch fw-swatch-cell";
  cellRow.append(cellSwatch, " area: vehicles in it, green share available, red badge under " + LOW_BATTERY + " %");
  cellRow.className = "fw-legend-cells";
  legend.appendChild(cellRow);

  // ---- the vehicle panel ------------------------------------------------------------------------------------
  const timeFormat = new Intl.DateTimeFormat(undefined, {dateStyle: "short", timeStyle: "medium",
                                                        timeZone: config.time_zone});
  function when(iso) {
    return iso ? timeFormat.format(new Date(iso)) : "never";
  }

  function node(tag, text, className) {
    const n = document.createElement(tag);
    if (text != null) {
      n.textContent = text;
    }
    if (className) {
      n.className = className;
    }
    return n;
  }

  function link(href, text) {
    const a = node("a", text);
    a.href = href;
    return a;
  }

  function row(table, name, value) {
    const tr = table.insertRow();
    tr.appendChild(node("th", name));
    const td = tr.insertCell();
    if (value instanceof Node) {
      td.appendChild(value);
    } else {
      td.textContent = value == null ? "–" : String(value);
    }
    return td;
  }

  async function openPanel(id) {
    selected = id;
    if (panel.hidden) {
      panel.hidden = false;
      map.invalidateSize();  // the panel took some of the map's width
    }
    panelBody.replaceChildren(node("p", "Loading…"));
    const answer = await fetch(config.urls.vehicle.replace("00000000-0000-0000-0000-000000000000", id),
                               {credentials: "same-origin"});
    if (selected !== id) {
      return;
    }
    if (!answer.ok) {
      panelBody.replaceChildren(node("p", answer.status === 404 ? "This vehicle no longer exists." : "Could not load the vehicle (" + answer.status + ")."));
      return;
    }
    renderPanel(await answer.json());
  }

  function renderPanel(v) {
    const head = node("h2");
    head.appendChild(link(v.url, v.code));
    head.append(" ", node("span", v.type, "fw-quiet"));
    const table = node("table", null, "fw-panel-table");
    const statusCell = row(table, "Status", v.status_label);
    statusCell.id = "fw-panel-status";
    const batteryCell = row(table, "Battery", v.battery_pct == null ? "unknown" : v.battery_pct + " %");
    batteryCell.id = "fw-panel-battery";
    row(table, "Lock", v.locked ? "locked" : "unlocked");
    const seenCell = row(table, "Last seen", when(v.position_at));
    seenCell.id = "fw-panel-seen";
    row(table, "Ride", v.ride ? link(v.ride.url, v.ride.state + " since " + when(v.ride.started_at)) : "none");
    const parts = [head, table];

    if (v.allowed.length) {
      const box = node("div", null, "fw-panel-commands");
      box.appendChild(node("h3", "Commands"));
      const labels = {};
      config.commands.forEach(function (c) { labels[c.kind] = c.label; });
      v.allowed.forEach(function (kind) {
        if (kind === "back_in_service" && v.status !== "maintenance") {
          return;  // only a vehicle in maintenance goes back in service (the server refuses the others too)
        }
        if (kind === "set_speed_limit") {
          const wrap = node("span", null, "fw-speed");
          const input = node("input");
          input.type = "number";
          input.min = "0";
          input.max = "100";
          input.value = "20";
          input.id = "fw-speed-kph";
          input.setAttribute("aria-label", "Speed limit in km/h");
          const button = node("button", labels[kind], "button");
          button.type = "button";
          button.dataset.kind = kind;
          button.addEventListener("click", function () { send(v, kind, {max_speed_kph: parseInt(input.value, 10)}); });
          wrap.append(button, input, " km/h");
          box.appendChild(wrap);
          return;
        }
        const button = node("button", labels[kind], "button");
        button.type = "button";
        button.dataset.kind = kind;
        button.addEventListener("click", function () { send(v, kind, {}); });
        box.appendChild(button);
      });
      box.appendChild(node("ul", null, "fw-panel-acks"));
      parts.push(box);
    }
    if (config.task_kinds && config.task_kinds.length) {
      parts.push(taskForm(v));
    }
    parts.push(list("Open alerts", v.alerts, function (a) { return link(a.url, a.kind + (a.message ? ": " + a.message : "") + " (" + when(a.opened_at) + ")"); }));
    parts.push(list("Open tasks", v.tasks, function (t) { return link(t.url, t.kind + " · " + t.state + (t.reason ? ": " + t.reason : "")); }));
    parts.push(list("Recent commands", v.commands, function (c) {
      return node("span", c.kind + (c.params && c.params.max_speed_kph != null ? " " + c.params.max_speed_kph + " km/h" : "") +
                  " · " + c.state.replace(/_/g, " ") + " · " + when(c.created_at) + (c.failure_reason ? " (" + c.failure_reason + ")" : ""));
    }));
    panelBody.replaceChildren.apply(panelBody, parts);
  }

  // "Open a task": a field task for this vehicle (the one already open of that kind comes back as it is).
  function taskForm(v) {
    const box = node("div", null, "fw-panel-commands fw-panel-task");
    box.appendChild(node("h3", "Open a task"));
    const select = node("select");
    select.id = "fw-task-kind";
    select.setAttribute("aria-label", "Task kind");
    config.task_kinds.forEach(function (k) {
      const option = node("option", k.label);
      option.value = k.kind;
      select.appendChild(option);
    });
    const button = node("button", "Create task", "button");
    button.type = "button";
    button.id = "fw-task-create";
    button.addEventListener("click", async function () {
      button.disabled = true;
      const answer = await post(config.urls.task.replace("00000000-0000-0000-0000-000000000000", v.id), {kind: select.value});
      const body = await answer.json().catch(function () { return {}; });
      button.disabled = false;
      if (answer.ok) {
        say("Task " + body.kind.replace(/_/g, " ") + " open for " + v.code + ".");
        openPanel(v.id);  // the panel's "Open tasks" list shows it
      } else {
        say((body.error && body.error.message) || ("Could not open the task (" + answer.status + ")."), "error");
      }
    });
    box.append(select, " ", button);
    return box;
  }

  function list(title, items, render) {
    const box = node("div", null, "fw-panel-list");
    box.appendChild(node("h3", title));
    if (!items.length) {
      box.appendChild(node("p", "None.", "fw-quiet"));
      return box;
    }
    const ul = node("ul");
    items.forEach(function (item) { const li = node("li"); li.appendChild(render(item)); ul.appendChild(li); });
    box.appendChild(ul);
    return box;
  }

  function refreshPanelState(v) {
    const status = document.getElementById("fw-panel-status");
    if (status) {
      status.textContent = v.status.replace(/_/g, " ");
      document.getElementById("fw-panel-battery").textContent = v.battery_pct == null ? "unknown" : v.battery_pct + " %";
      document.getElementById("fw-panel-seen").textContent = when(v.at);
    }
  }

  const OUTCOME = {acked: "acknowledged by the vehicle", failed: "failed", timed_out: "timed out (no answer)",
                   expired: "expired before delivery", cancelled: "cancelled"};

  async function send(v, kind, extra) {
    const acks = panelBody.querySelector(".fw-panel-acks");
    const item = node("li", kind.replace(/_/g, " ") + ": sending…", "fw-ack fw-ack-wait");
    acks.prepend(item);
    const key = (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random();
    let answer;
    try {
      answer = await post(config.urls.command.replace("00000000-0000-0000-0000-000000000000", v.id),
                          Object.assign({kind: kind, key: key}, extra));
    } catch (err) {
      item.textContent = kind + ": not sent (network)";
      item.className = "fw-ack fw-ack-failed";
      return;
    }
    const body = await answer.json().catch(function () { return {}; });
    if (answer.status === 202) {
      item.textContent = kind.replace(/_/g, " ") + ": queued, waiting for the vehicle…";
      item.dataset.command = body.command_id;
      pending.set(body.command_id, item);
    } else if (answer.ok) {
      item.textContent = kind.replace(/_/g, " ") + ": done";
      item.className = "fw-ack fw-ack-acked";
      setTimeout(function () { if (selected === v.id) { openPanel(v.id); } }, 300);
    } else {
      const error = body.error || {message: answer.status === 403 ? "not allowed" : "refused (" + answer.status + ")"};
      item.textContent = kind.replace(/_/g, " ") + ": " + error.message;
      item.className = "fw-ack fw-ack-failed";
    }
  }

  function commandClosed(data) {
    const item = pending.get(data.command_id);
    if (!item) {
      return;
    }
    pending.delete(data.command_id);
    item.textContent = data.kind.replace(/_/g, " ") + ": " + (OUTCOME[data.state] || data.state) +
      (data.failure_reason && data.state !== "acked" ? " (" + data.failure_reason + ")" : "");
    item.className = "fw-ack fw-ack-" + (data.state === "acked" ? "acked" : "failed");
  }

  document.getElementById("fw-map-panel-close").addEventListener("click", function () {
    panel.hidden = true;
    selected = null;
    map.invalidateSize();
  });

  window.fwMap = {map: map, markers: markers, cells: cells};  // for the browser tests and the curious
  loadLayers();
  connect();
}());
