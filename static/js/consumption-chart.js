// Draws the monthly consumption chart of a meter's history page with Chart.js.
// The data sit in <script type="application/json" id="..."> named by the canvas's
// data-chart-source; the same figures are in a table, which stays for screen readers
// and for browsers without JavaScript (this file only folds it away).
(function () {
  "use strict";

  var COLOURS = ["#0b5e55", "#c77700", "#4a5bc4"];

  function faded(hex) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + ((n >> 16) & 255) + ", " + ((n >> 8) & 255) + ", " + (n & 255) + ", 0.35)";
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart-source"));
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (error) {
      return;
    }
    var locale = document.documentElement.lang || "ru";
    var number = new Intl.NumberFormat(locale, { maximumFractionDigits: 3 });
    var datasets = data.datasets.map(function (set, index) {
      var colour = COLOURS[index % COLOURS.length];
      return {
        label: set.label,
        data: set.data,
        estimated: set.estimated,
        backgroundColor: set.estimated.map(function (flag) { return flag ? faded(colour) : colour; }),
        borderColor: colour,
        borderWidth: set.estimated.map(function (flag) { return flag ? 1 : 0; }),
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
            beginAtZero: true,
            title: { display: true, text: data.axis },
            ticks: { callback: function (value) { return number.format(value); } }
          },
          x: { ticks: { autoSkip: true, maxRotation: 0 } }
        },
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (item) {
                var text = item.dataset.label + ": " + number.format(item.parsed.y) + " " + data.unit;
                if (item.dataset.estimated[item.dataIndex]) {
                  text += " (" + data.estimatedLabel + ")";
                }
                return text;
              }
            }
          }
        }
      }
    });
    // The chart is drawn: fold the table away (it stays one click from every reader).
    var table = document.querySelector("[data-chart-table]");
    if (table) {
      table.open = false;
    }
  }

  document.querySelectorAll("canvas[data-chart-source]").forEach(draw);
})();
