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

// The list follows task changes live: the socket /ws/v1/ops/tasks (a single-use ticket from the staff session, as
// the fleet map gets one) announces every task opened, assigned, reprioritised or closed in the technician's cities.
// A closed task's card goes at once; then the page re-reads its own list (one GET, at most one per second), because
// the server owns the order (priority, then distance from the technician) and the kind filter.
(function () {
  "use strict";
  const REFRESH_MS = 1000;
  let lists, state, socket = null, retry = 0, connected = false, refreshTimer = null, lastRefresh = 0;

  function say(text, kind) {
    if (state) {
      state.textContent = text;
      state.className = "live-state " + kind;
    }
  }

  function socketBase() {
    const origin = lists.dataset.socketOrigin;
    if (origin) {
      return origin.replace(/^http/, "ws");
    }
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
  }

  function refreshSoon() {
    if (refreshTimer !== null) {
      return;
    }
    const wait = Math.max(0, lastRefresh + REFRESH_MS - Date.now());
    refreshTimer = setTimeout(refresh, wait);
  }

  async function refresh() {
    lastRefresh = Date.now();
    try {
      const answer = await fetch(location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}});
      if (answer.ok && !answer.redirected) {
        const page = new DOMParser().parseFromString(await answer.text(), "text/html");
        const fresh = page.getElementById("task-lists");
        if (fresh) {
          lists.innerHTML = fresh.innerHTML;
          lists.dataset.refreshed = String(Number(lists.dataset.refreshed || 0) + 1);
        }
      }
    } catch (err) {
      // offline for a moment: the next event or reconnect reads the list again
    } finally {
      refreshTimer = null;
    }
  }

  function removeCard(id) {
    lists.querySelectorAll('li.card[data-task-id="' + id + '"]').forEach(function (card) {
      const list = card.parentElement;
      card.remove();
      const count = list && list.previousElementSibling && list.previousElementSibling.querySelector(".count");
      if (count) {
        count.textContent = String(list.querySelectorAll("li.card").length);
      }
    });
  }

  function receive(message) {
    if (message.type === "ping") {
      socket.send(JSON.stringify({type: "pong", seq: message.seq}));
    } else if (message.type === "snapshot") {
      say("Live: changes appear by themselves", "on");
      if (connected) {
        refreshSoon();  // reconnected: whatever happened meanwhile
      }
      connected = true;
    } else if (typeof message.type === "string" && message.type.indexOf("ops_task.") === 0) {
      if (message.type === "ops_task.closed" && message.data) {
        removeCard(message.data.id);
      }
      refreshSoon();
    }
  }

  async function connect() {
    let ticket;
    try {
      const answer = await fetch(lists.dataset.ticketUrl, {
        method: "POST", credentials: "same-origin", headers: {"X-CSRFToken": lists.dataset.csrf}});
      if (answer.status === 403) {
        say("Live updates are off (no permission): reload to see changes.", "off");
        return;
      }
      if (!answer.ok || answer.redirected) {
        throw new Error("ticket " + answer.status);
      }
      ticket = (await answer.json()).ticket;
    } catch (err) {
      return later();
    }
    socket = new WebSocket(socketBase() + "/ws/v1/ops/tasks?ticket=" + encodeURIComponent(ticket), ["freewheel.v1"]);
    socket.onmessage = function (event) { retry = 0; receive(JSON.parse(event.data)); };
    socket.onclose = function (event) {
      socket = null;
      if (event.code === 4001) {  // the session's ticket ran out: a new one at once
        connect();
        return;
      }
      later();
    };
  }

  function later() {
    retry = Math.min(retry + 1, 6);
    const wait = Math.min(30, Math.pow(2, retry - 1));
    say("Offline: reconnecting in " + wait + " s", "off");
    setTimeout(connect, wait * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    lists = document.getElementById("task-lists");
    state = document.getElementById("live-state");
    if (lists && lists.dataset.ticketUrl && "WebSocket" in window) {
      say("Connecting for live updates…", "off");
      connect();
    }
  });
})();
