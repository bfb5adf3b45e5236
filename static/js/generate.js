// Generate form: draw aspect-ratio boxes for the size choices; show width/height for "custom".
(function () {
  "use strict";
  var form = document.getElementById("generate-form");
  if (!form) return;
  var custom = document.getElementById("custom-size");
  form.querySelectorAll(".aspect").forEach(function (box) {
    var label = box.parentElement.textContent;
    var match = label.match(/(\d+)×(\d+)/);
    var w = 18, h = 18;
    if (match) {
      var ratio = parseInt(match[1], 10) / parseInt(match[2], 10);
      if (ratio >= 1) { h = Math.round(18 / ratio); } else { w = Math.round(18 * ratio); }
    }
    box.style.width = w + "px";
    box.style.height = h + "px";
  });
  function sync() {
    var checked = form.querySelector("input[name=size]:checked");
    custom.hidden = !(checked && checked.value === "custom");
  }
  form.addEventListener("change", sync);
  sync();
})();
