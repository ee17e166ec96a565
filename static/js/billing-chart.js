// The charts of the payments page: charges by month stacked by service, and one
// consumption chart per service. Each canvas names its data (data-chart-source) and its
// part of them (data-billing-chart, data-chart-index); bar-chart.js draws.
(function () {
  "use strict";

  var charts = window.barChart;

  function specFor(canvas, data) {
    if (canvas.getAttribute("data-billing-chart") === "charges") {
      return { spec: data.charges, colourOffset: 0 };
    }
    var index = parseInt(canvas.getAttribute("data-chart-index"), 10) || 0;
    return { spec: data.consumption[index], colourOffset: index };
  }

  function draw(canvas) {
    var data = charts.dataFor(canvas);
    if (!data) {
      return false;
    }
    var found = specFor(canvas, data);
    var spec = found.spec;
    if (!spec) {
      return false;
    }
    return charts.draw(canvas, {
      labels: data.labels,
      datasets: spec.datasets.map(function (set, index) {
        return {
          label: set.label,
          data: set.data,
          backgroundColor: charts.COLOURS[(index + found.colourOffset) % charts.COLOURS.length]
        };
      }),
      axis: spec.axis,
      unit: spec.unit,
      stacked: spec.stacked,
      fractionDigits: 2
    });
  }

  if (charts) {
    charts.drawAll("canvas[data-billing-chart]", draw);
  }
})();
