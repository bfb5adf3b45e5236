// Held images (flagged or reported) are blurred for their owner and staff: a "Show" button over
// each one toggles the blur. Without this file the blur stays and the image's link opens the
// full picture. Delegated, so images added later (infinite scroll, the job page) work too.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-reveal]");
    if (!button) return;
    event.preventDefault();
    event.stopPropagation();
    var box = button.closest(".held");
    if (!box) return;
    var blurred = box.classList.toggle("sensitive");
    button.textContent = blurred ? button.dataset.showLabel || "Show" : button.dataset.hideLabel || "Hide";
  });
})();
