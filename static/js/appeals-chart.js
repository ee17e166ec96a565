// The chart of the appeals figures: received, answered and answered on time by period.
// The figures come from the JSON block the canvas names; the same are in the table below.
(function () {
  "use strict";

  var charts = window.barChart;

  function draw(canvas) {
    var data = charts.dataFor(canvas);
    if (!data || !data.labels.length) {
      return false;
    }
    return charts.draw(canvas, {
      labels: data.labels,
      datasets: data.datasets.map(function (set, index) {
        return { label: set.label, data: set.data, backgroundColor: charts.COLOURS[index % charts.COLOURS.length] };
      }),
      axis: data.axis,
      unit: "",
      stacked: false,
      fractionDigits: 0
    });
  }

  if (charts) {
    charts.drawAll("canvas[data-appeals-chart]", draw);
  }
})();
