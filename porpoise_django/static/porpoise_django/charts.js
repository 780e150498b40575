// Draws the chart described by the JSON the page embeds (Chart.js ships with the app).
(function () {
  "use strict";
  var source = document.getElementById("porpoise-chart-data");
  var canvas = document.getElementById("porpoise-chart");
  if (!source || !canvas || typeof Chart === "undefined") { return; }
  var spec = JSON.parse(source.textContent);
  var colours = ["#417690", "#e07a1f", "#4caf50", "#9c27b0", "#e91e63", "#607d8b"];
  spec.datasets.forEach(function (dataset, i) {
    dataset.borderColor = colours[i % colours.length];
    dataset.backgroundColor = colours[i % colours.length] + "99";
    dataset.tension = 0.2;
    dataset.spanGaps = true;
  });
  window.porpoiseChart = new Chart(canvas, {
    type: spec.type,
    data: { labels: spec.labels, datasets: spec.datasets },
    options: { responsive: true, maintainAspectRatio: false, animation: false,
               scales: { x: { stacked: !!spec.stacked }, y: { beginAtZero: true, stacked: !!spec.stacked } } }
  });
})();
