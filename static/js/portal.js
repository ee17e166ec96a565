// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // <form data-confirm="Question?">: ask before submitting (forms without htmx).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // After htmx swaps in new content, move focus to an element that asks for it,
  // so keyboard and screen-reader users land on the result.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target.querySelector("[data-autofocus]");
    if (target) {
      target.focus();
    }
  });
})();
