// Draws the charts of the payments page with Chart.js: charges by month stacked by
// service, and one consumption chart per service. The data sit in
// <script type="application/json" id="..."> named by each canvas's data-chart-source;
// the same figures are in tables, which stay for screen readers and for browsers
// without JavaScript (this file only folds them away once the charts are drawn).
(function () {
  "use strict";

  var COLOURS = ["#0b5e55", "#c77700", "#4a5bc4", "#b03a5b"];
  var cache = {};

  function dataFor(canvas) {
    var id = canvas.getAttribute("data-chart-source");
    if (!(id in cache)) {
      var source = document.getElementById(id);
      try {
        cache[id] = source ? JSON.parse(source.textContent) : null;
      } catch (error) {
        cache[id] = null;
      }
    }
    return cache[id];
  }

  function specFor(canvas, data) {
    if (canvas.getAttribute("data-billing-chart") === "charges") {
      return { spec: data.charges, colourOffset: 0 };
    }
    var index = parseInt(canvas.getAttribute("data-chart-index"), 10) || 0;
    return { spec: data.consumption[index], colourOffset: index };
  }

  function draw(canvas) {
    var data = dataFor(canvas);
    if (!data || typeof window.Chart === "undefined") {
      return false;
    }
    var found = specFor(canvas, data);
    var spec = found.spec;
    if (!spec) {
      return false;
    }
    var locale = document.documentElement.lang || "ru";
    var number = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
    var datasets = spec.datasets.map(function (set, index) {
      return {
        label: set.label,
        data: set.data,
        backgroundColor: COLOURS[(index + found.colourOffset) % COLOURS.length],
        maxBarThickness: 36
      };
    });
    var box = canvas.closest("[data-chart-box]");
    if (box) {
      box.classList.remove("d-none");
    }
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        locale: locale,
        animation: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : undefined,
        scales: {
          y: {
            stacked: spec.stacked,
            beginAtZero: true,
            title: { display: true, text: spec.axis },
            ticks: { callback: function (value) { return number.format(value); } }
          },
          x: { stacked: spec.stacked, ticks: { autoSkip: true, maxRotation: 0 } }
        },
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (item) {
                return item.dataset.label + ": " + number.format(item.parsed.y) + " " + spec.unit;
              }
            }
          }
        }
      }
    });
    return true;
  }

  var drawn = false;
  document.querySelectorAll("canvas[data-billing-chart]").forEach(function (canvas) {
    drawn = draw(canvas) || drawn;
  });
  if (drawn) {
    // The charts are drawn: fold the tables away (each stays one click from every reader).
    document.querySelectorAll("[data-chart-table]").forEach(function (table) {
      table.open = false;
    });
  }
})();
