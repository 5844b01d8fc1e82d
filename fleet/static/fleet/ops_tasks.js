// The technicians' task page: sort by the phone's position (browser geolocation), else the manual form stays.
(function () {
  "use strict";
  function withPosition(lat, lon) {
    const params = new URLSearchParams(window.location.search);
    params.set("lat", lat.toFixed(5));
    params.set("lon", lon.toFixed(5));
    window.location.search = params.toString();
  }
  function locate(button, hint) {
    if (!("geolocation" in navigator)) {
      if (hint) hint.textContent = "This browser gives no location: enter a position by hand.";
      return;
    }
    if (hint) hint.textContent = "Finding your location...";
    navigator.geolocation.getCurrentPosition(
      function (pos) { withPosition(pos.coords.latitude, pos.coords.longitude); },
      function () {
        if (hint) hint.textContent = "No location (denied or unavailable): enter a position by hand.";
        if (button) button.hidden = false;
      },
      {enableHighAccuracy: true, timeout: 10000, maximumAge: 60000});
  }
  document.addEventListener("DOMContentLoaded", function () {
    const where = document.getElementById("where");
    const button = document.getElementById("locate");
    if (where && button) {
      button.hidden = false;
      button.addEventListener("click", function () { locate(button, document.getElementById("locating")); });
      if (where.dataset.hasPosition === "0" && !sessionStorage.getItem("fwTasksAsked")) {
        sessionStorage.setItem("fwTasksAsked", "1");  // ask once per visit, not on every reload
        locate(button, document.getElementById("locating"));
      }
    }
    document.querySelectorAll("select.autosubmit").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  });
})();
