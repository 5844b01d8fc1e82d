/* Freewheel's admin maps (docs/admin.md "Maps"): one way to make a Leaflet map with the configured tiles.
   Loaded by {% map_assets %} after Leaflet; the tile settings come from the json_script "fw-map-config". */
(function () {
  "use strict";

  var STATUS_COLORS = {
    available: "#2e7d32", reserved: "#1565c0", on_trip: "#6a1b9a", elsewhere: "#546e7a",
    low_battery: "#ef6c00", maintenance: "#c62828", off_hours: "#78909c", suspended: "#ad1457",
    in_workshop: "#b71c1c", charging: "#f9a825", rebalancing: "#00838f", impounded: "#4e342e",
    retired: "#9e9e9e", non_contactable: "#37474f", missing: "#000000"
  };

  function config() {
    var node = document.getElementById("fw-map-config");
    return node ? JSON.parse(node.textContent) : {tile_url: "", attribution: ""};
  }

  /* A Leaflet map in `element` with the tile layer of MAP_TILE_URL (none when it is empty: vectors and markers
     still draw). `options` are Leaflet's map options plus `center` and `zoom`. Tiles that fail to load (no
     network) leave the background blank; nothing else depends on them. */
  function create(element, options) {
    var opts = Object.assign({preferCanvas: true, zoomControl: true}, options || {});
    var map = L.map(element, opts);
    var cfg = config();
    if (cfg.tile_url) {
      L.tileLayer(cfg.tile_url, {maxZoom: 19, attribution: cfg.attribution}).addTo(map);
    } else {
      map.attributionControl.addAttribution("No map tiles configured (MAP_TILE_URL)");
    }
    if (!opts.center) {
      map.setView([0, 0], 2);
    }
    return map;
  }

  function statusColor(status) {
    return STATUS_COLORS[status] || "#607d8b";
  }

  window.FreewheelMap = {create: create, statusColor: statusColor, STATUS_COLORS: STATUS_COLORS};
})();
