// Live overview (opt-in): every N seconds, fetch the figures of the rows on
// the page as JSON (the same view, ?format=json) and update them in place, so
// a launch can be watched without reloading the page.
(function () {
  "use strict";
  var toggle = document.getElementById("porpoise-live");
  var seconds = document.getElementById("porpoise-live-seconds");
  var status = document.getElementById("porpoise-live-status");
  if (!toggle || !seconds) { return; }
  var timer = null;

  function number(value) {
    if (value === null || value === undefined) { return "-"; }
    return Math.round(value * 100) / 100;
  }

  function update(tableId, rows) {
    rows.forEach(function (row) {
      var table = document.getElementById(tableId);
      if (!table) { return; }
      var tr = Array.prototype.find.call(table.querySelectorAll("tbody tr[data-name]"),
        function (candidate) { return candidate.dataset.name === row.name; });
      if (!tr) { return; }
      tr.querySelector(".porpoise-today").textContent = number(row.today);
      tr.querySelector(".porpoise-week").textContent = number(row.week);
      var line = tr.querySelector("polyline");
      if (line) { line.setAttribute("points", row.spark); }
    });
  }

  function refresh() {
    var url = new URL(window.location.href);
    url.searchParams.set("format", "json");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        update("porpoise-events-table", data.events);
        update("porpoise-counters-table", data.counters);
        status.textContent = "updated " + new Date().toLocaleTimeString();
      })
      .catch(function (error) { status.textContent = "not updated: " + error.message; });
  }

  function schedule() {
    if (timer) { clearInterval(timer); timer = null; }
    if (toggle.checked) {
      var every = Math.max(2, parseInt(seconds.value, 10) || 10);
      timer = setInterval(refresh, every * 1000);
      refresh();
    } else {
      status.textContent = "";
    }
  }
  toggle.addEventListener("change", schedule);
  seconds.addEventListener("change", schedule);
})();
