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

// "e" on an image page opens the editor (not while typing).
(function () {
  "use strict";
  var link = document.querySelector("a.edit-button");
  if (!link) return;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "e" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target.closest("input, textarea, select, [contenteditable]")) return;
    window.location.href = link.href;
  });
})();
