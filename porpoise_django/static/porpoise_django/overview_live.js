// Live overview (opt-in): every N seconds, fetch the figures of the rows on
// the page as JSON (the same view, ?format=json) and update them in place, so
// a launch can be watched without reloading the page.
(function () {
  "use strict";
  var toggle = document.getElementById("porpoise-live");
  var seconds = document.getElementById("porpoise-live-seconds");
  var status = document.getElementById("porpoise-live-status");
  if (!toggle || !seconds) { return; }
  // The app's catalogue (admin:porpoise_jsi18n, loaded by base.html) defines these.
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (text, args) {
    return text.replace(/%\((\w+)\)s/g, function (_, key) { return args[key]; });
  };
  var lang = document.documentElement.lang || undefined;  // the page's language
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
      // a figure that links to its users keeps its link
      ["today", "week"].forEach(function (column) {
        var cell = tr.querySelector(".porpoise-" + column);
        (cell.querySelector("a") || cell).textContent = number(row[column]);
      });
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
        status.textContent = interpolate(gettext("updated %(time)s"),
          { time: new Date().toLocaleTimeString(lang) }, true);
      })
      .catch(function (error) {
        status.textContent = interpolate(gettext("not updated: %(error)s"),
          { error: error.message }, true);
      });
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
