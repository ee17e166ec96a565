// The monthly consumption chart of a meter's history page: one bar set per tariff zone,
// estimated months lighter. The canvas names its data (data-chart-source); bar-chart.js draws.
(function () {
  "use strict";

  var charts = window.barChart;

  function faded(hex) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + ((n >> 16) & 255) + ", " + ((n >> 8) & 255) + ", " + (n & 255) + ", 0.35)";
  }

  function draw(canvas) {
    var data = charts.dataFor(canvas);
    if (!data) {
      return false;
    }
    return charts.draw(canvas, {
      labels: data.labels,
      datasets: data.datasets.map(function (set, index) {
        var colour = charts.COLOURS[index % charts.COLOURS.length];
        return {
          label: set.label,
          data: set.data,
          estimated: set.estimated,
          backgroundColor: set.estimated.map(function (flag) { return flag ? faded(colour) : colour; }),
          borderColor: colour,
          borderWidth: set.estimated.map(function (flag) { return flag ? 1 : 0; })
        };
      }),
      axis: data.axis,
      unit: data.unit,
      fractionDigits: 3,
      note: function (item) {
        return item.dataset.estimated[item.dataIndex] ? data.estimatedLabel : "";
      }
    });
  }

  if (charts) {
    charts.drawAll("canvas[data-chart-source]", draw);
  }
})();
