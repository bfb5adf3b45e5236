// The image viewer: ←/→ (and swipes) step through the gallery query the image came from,
// f stars, z zooms, Esc goes back to the grid. Every step is a real link without this file.
(function () {
  "use strict";
  var viewer = document.getElementById("viewer");
  if (!viewer) return;
  var figure = document.getElementById("viewer-figure");
  var zoom = viewer.querySelector("[data-zoom]");

  function go(url) { if (url) window.location.assign(url); }
  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable], details.report-box");
  }
  function toggleZoom() {
    var on = figure.classList.toggle("zoomed");
    figure.classList.toggle("fit", !on);
    zoom.setAttribute("aria-pressed", on ? "true" : "false");
    zoom.textContent = on ? "Fit to screen" : "Zoom";
  }
  if (zoom) {
    zoom.hidden = false;
    zoom.addEventListener("click", toggleZoom);
    // A click on the picture zooms instead of opening the file.
    figure.querySelector(".held-media").addEventListener("click", function (event) {
      if (figure.classList.contains("sensitive")) return;
      event.preventDefault();
      toggleZoom();
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
    if (event.key === "ArrowLeft") go(viewer.dataset.prevUrl);
    else if (event.key === "ArrowRight") go(viewer.dataset.nextUrl);
    else if (event.key === "Escape") go(viewer.dataset.backUrl);
    else if (event.key === "z" && zoom) toggleZoom();
    else if (event.key === "f") {
      var star = document.querySelector(".detail-actions .star-form button");
      if (star) star.click();
    } else return;
    event.preventDefault();
  });

  // Swipe left/right on the picture (not while zoomed: then the finger pans).
  var startX = null, startY = null;
  figure.addEventListener("touchstart", function (event) {
    if (event.touches.length !== 1) return;
    startX = event.touches[0].clientX;
    startY = event.touches[0].clientY;
  }, { passive: true });
  figure.addEventListener("touchend", function (event) {
    if (startX === null || figure.classList.contains("zoomed")) return;
    var dx = event.changedTouches[0].clientX - startX;
    var dy = event.changedTouches[0].clientY - startY;
    startX = null;
    if (Math.abs(dx) > 60 && Math.abs(dx) > 2 * Math.abs(dy)) {
      go(dx < 0 ? viewer.dataset.nextUrl : viewer.dataset.prevUrl);
    }
  });
})();
