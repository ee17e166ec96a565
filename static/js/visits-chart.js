// The waiting-time chart of the office visits figures: average and 90th-percentile wait
// per office (the same figures as the table under it); bar-chart.js draws.
(function () {
  "use strict";

  var charts = window.barChart;

  function draw(canvas) {
    var data = charts.dataFor(canvas);
    if (!data) {
      return false;
    }
    return charts.draw(canvas, {
      labels: data.labels,
      datasets: data.datasets.map(function (set, index) {
        return { label: set.label, data: set.data, backgroundColor: charts.COLOURS[index % charts.COLOURS.length] };
      }),
      axis: data.axis,
      unit: data.unit,
      stacked: false,
      fractionDigits: 1
    });
  }

  charts.drawAll("canvas[data-visits-chart]", draw);
})();
