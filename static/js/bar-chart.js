// The set-up the portal's bar charts share (Chart.js): data from a JSON block, colours,
// numbers in the page's language, axes, legend and tooltips. billing-chart.js and
// consumption-chart.js say what to draw. The same figures are always in a table, which
// stays for screen readers and for browsers without JavaScript; once a chart is drawn
// the tables are only folded away.
(function () {
  "use strict";

  var COLOURS = ["#0b5e55", "#c77700", "#4a5bc4", "#b03a5b"];
  var cache = {};

  // The figures in <script type="application/json" id="..."> named by the canvas's
  // data-chart-source (read once for all the canvases that name it); null if unreadable.
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

  // Draws a bar chart on the canvas and shows its box. chart: labels, datasets, axis (the
  // title of the values), unit, stacked, fractionDigits, and optionally note(item), a text
  // added to an item's tooltip. False when Chart.js is missing.
  function draw(canvas, chart) {
    if (typeof window.Chart === "undefined") {
      return false;
    }
    var locale = document.documentElement.lang || "ru";
    var number = new Intl.NumberFormat(locale, { maximumFractionDigits: chart.fractionDigits });
    var box = canvas.closest("[data-chart-box]");
    if (box) {
      box.classList.remove("d-none");
    }
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: chart.labels, datasets: chart.datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        locale: locale,
        animation: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : undefined,
        datasets: { bar: { maxBarThickness: 36 } },
        scales: {
          y: {
            stacked: chart.stacked,
            beginAtZero: true,
            title: { display: true, text: chart.axis },
            ticks: { callback: function (value) { return number.format(value); } }
          },
          x: { stacked: chart.stacked, ticks: { autoSkip: true, maxRotation: 0 } }
        },
        plugins: {
          legend: { display: chart.datasets.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (item) {
                var text = item.dataset.label + ": " + number.format(item.parsed.y) + " " + chart.unit;
                var note = chart.note ? chart.note(item) : "";
                return note ? text + " (" + note + ")" : text;
              }
            }
          }
        }
      }
    });
    return true;
  }

  // Draws every canvas the selector finds with drawOne(canvas), which answers whether it
  // drew; once any chart is drawn, folds the tables away (each stays one click from every reader).
  function drawAll(selector, drawOne) {
    var drawn = false;
    document.querySelectorAll(selector).forEach(function (canvas) {
      drawn = drawOne(canvas) || drawn;
    });
    if (drawn) {
      document.querySelectorAll("[data-chart-table]").forEach(function (table) {
        table.open = false;
      });
    }
  }

  window.barChart = { COLOURS: COLOURS, dataFor: dataFor, draw: draw, drawAll: drawAll };
})();
