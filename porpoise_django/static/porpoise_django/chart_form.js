// The chart form shows only the fields of the chosen kind: metrics and a
// dimension for metrics, a top-N breakdown for counters and metrics.
(function () {
  "use strict";
  var form = document.getElementById("porpoise-chart-form");
  if (!form) { return; }
  var kind = form.querySelector("[name=kind]");
  var only = { metrics: ["metric"], dimension: ["metric"], top: ["counter", "metric"] };
  function update() {
    Object.keys(only).forEach(function (name) {
      var row = form.querySelector(".field-" + name);
      if (row) { row.hidden = only[name].indexOf(kind.value) < 0; }
    });
  }
  kind.addEventListener("change", update);
  update();
})();
