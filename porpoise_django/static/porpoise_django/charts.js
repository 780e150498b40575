// Draws the chart described by the JSON the page embeds (Chart.js ships with the app).
(function () {
  "use strict";
  var source = document.getElementById("porpoise-chart-data");
  var canvas = document.getElementById("porpoise-chart");
  if (!source || !canvas || typeof Chart === "undefined") { return; }
  var spec = JSON.parse(source.textContent);
  // The app's catalogue (admin:porpoise_jsi18n, loaded by base.html) defines these.
  var gettext = window.gettext || function (text) { return text; };
  var ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
  var interpolate = window.interpolate || function (text, args) {
    return text.replace(/%\((\w+)\)s/g, function (_, key) { return args[key]; });
  };
  var colours = ["#417690", "#e07a1f", "#4caf50", "#9c27b0", "#e91e63", "#607d8b"];
  var strong = 0;
  var partial = spec.partial || [];
  spec.datasets.forEach(function (dataset) {
    if (dataset.faint) {
      // One cohort among many: a thin pale line behind the averages.
      dataset.borderColor = "rgba(65, 118, 144, 0.22)";
      dataset.backgroundColor = "rgba(65, 118, 144, 0.22)";
      dataset.borderWidth = 1;
      dataset.pointRadius = 0;
    } else {
      dataset.borderColor = colours[strong % colours.length];
      dataset.backgroundColor = colours[strong % colours.length] + "99";
      dataset.borderWidth = 3;
      strong += 1;
    }
    dataset.tension = 0.2;
    dataset.spanGaps = true;
    if (partial.length && !dataset.faint && !dataset.previous) {
      // A period not over yet (labelled "(so far)"): a pale bar, a dashed line into it.
      var solid = dataset.backgroundColor;
      dataset.backgroundColor = spec.labels.map(function (_, i) {
        return partial.indexOf(i) >= 0 ? solid.slice(0, 7) + "33" : solid;
      });
      dataset.borderDash = dataset.borderDash || [];
      dataset.segment = { borderDash: function (ctx) {
        return partial.indexOf(ctx.p1DataIndex) >= 0 ? [4, 4] : dataset.borderDash;
      } };
    }
  });
  var legend = { labels: { filter: function (item, data) { return !data.datasets[item.datasetIndex].faint; } } };
  // What the chart shows, for screen readers: its series (the faint ones aside).
  var shown = spec.datasets.filter(function (d) { return !d.faint; }).map(function (d) { return d.label; });
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", interpolate(
    ngettext("Chart of %(count)s series: %(names)s", "Chart of %(count)s series: %(names)s", shown.length),
    { count: shown.length, names: shown.join(", ") }, true));
  // Under a point's figures: a period not over yet says so; a point with its
  // users listed says a click opens them.
  var tooltip = { callbacks: { footer: function (items) {
    var lines = [];
    if (items.some(function (item) { return partial.indexOf(item.dataIndex) >= 0; })) {
      lines.push(gettext("Period not over yet: not comparable with whole periods"));
    }
    var first = items[0] || {};
    if (target([{ datasetIndex: first.datasetIndex, index: first.dataIndex }])) {
      lines.push(gettext("Click: the users behind this point"));
    }
    return lines.join("\n");
  } } };
  var y = { beginAtZero: true, stacked: !!spec.stacked };
  if (spec.percent) { y.ticks = { callback: function (value) { return value + "%"; } }; }
  var png = document.getElementById("porpoise-png");
  if (png) {
    // The chart as drawn, as a PNG file (the link's download name is the page's).
    png.addEventListener("click", function () { png.href = canvas.toDataURL("image/png"); });
  }
  // spec.people[dataset][point]: the People page of that point's users (charts
  // of ids only); a click on a point or bar goes there, the pointer says so.
  var people = spec.people || null;
  function target(elements) {
    if (!people || !elements.length) { return null; }
    var hit = elements[0];
    return (people[hit.datasetIndex] || [])[hit.index] || null;
  }
  window.porpoiseChart = new Chart(canvas, {
    type: spec.type,
    data: { labels: spec.labels, datasets: spec.datasets },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
               plugins: { legend: legend, tooltip: tooltip },
               scales: { x: { stacked: !!spec.stacked }, y: y },
               onHover: function (event, elements) {
                 canvas.style.cursor = target(elements) ? "pointer" : "default";
               },
               onClick: function (event, elements) {
                 var url = target(elements);
                 if (url) { window.location.assign(url); }
               } }
  });
})();
