/* The vehicle page's commands panel (console/templates/console/vehicle_commands.html): while a command waits for
   the vehicle's answer (queued, sending, sent), the panel is fetched again every few seconds and replaced, so the
   acknowledgement (or the refusal, the timeout) shows without a reload. It stops when nothing waits any more, and
   after MAX_TRIES in any case (a command expires within two minutes). */
(function () {
  "use strict";

  var EVERY_MS = 3000;
  var MAX_TRIES = 45;

  function watch(tries) {
    var panel = document.getElementById("vehicle-commands");
    if (!panel || panel.dataset.waiting !== "true" || tries >= MAX_TRIES) {
      return;
    }
    window.setTimeout(function () {
      fetch(panel.dataset.url, {credentials: "same-origin", headers: {"Accept": "text/html"}})
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html.trim();
          var fresh = holder.querySelector("#vehicle-commands");
          if (fresh) {
            panel.replaceWith(fresh);
          }
          watch(tries + 1);
        })
        .catch(function () { watch(tries + 1); });
    }, EVERY_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { watch(0); });
  } else {
    watch(0);
  }
})();
