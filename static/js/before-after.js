// Before/after: the result laid over its source, cut at the slider (keyboard: the range input).
(function () {
  "use strict";
  document.querySelectorAll("[data-before-after]").forEach(function (figure) {
    var after = figure.querySelector(".ba-after");
    var range = figure.querySelector("[data-ba-range]");
    if (!after || !range) return;
    figure.classList.add("ba-js");
    function cut() {
      after.style.clipPath = "inset(0 0 0 " + range.value + "%)";
    }
    range.addEventListener("input", cut);
    cut();
  });
})();
