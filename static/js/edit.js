// Edit page: the mask painter (pointer, touch and keyboard; undo, clear), the preview of an
// uploaded image, and the references limit. Without JavaScript the form still works: upload
// the image (and a mask file) or edit from the gallery.
(function () {
  "use strict";
  var form = document.getElementById("edit-form");
  if (!form) return;
  var errors = document.getElementById("edit-errors");
  if (errors) errors.focus();

  var stage = document.getElementById("mask-stage");
  var img = document.getElementById("edit-source");
  var canvas = document.getElementById("mask-canvas");
  var tools = document.getElementById("mask-tools");
  var sizeInput = document.getElementById("brush-size");
  var statusEl = document.getElementById("mask-status");
  var maskData = document.getElementById("id_mask_data");
  var fileInput = document.getElementById("id_image_file");
  var ctx = canvas.getContext("2d");
  var PAINT = "#ff1f8f";
  var MAX_SIDE = 2048;
  var mode = "paint";
  var undo = [];
  var drawing = false;
  var last = null;
  var cursor = { x: 0, y: 0 };
  var penDown = false;
  var painted = false;
  var ring = document.createElement("div");
  ring.className = "mask-cursor";
  ring.hidden = true;
  stage.appendChild(ring);

  function scale() { return canvas.width / canvas.getBoundingClientRect().width || 1; }
  function brush() { return parseInt(sizeInput.value, 10) * scale(); }

  function setup() {
    var w = img.naturalWidth, h = img.naturalHeight;
    if (!w || !h) return;
    var k = Math.min(1, MAX_SIDE / Math.max(w, h));
    canvas.width = Math.round(w * k);
    canvas.height = Math.round(h * k);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    undo = [];
    cursor = { x: canvas.width / 2, y: canvas.height / 2 };
    stage.hidden = false;
    tools.hidden = false;
    report();
  }
  if (img.getAttribute("src")) {
    if (img.complete) setup(); else img.addEventListener("load", setup);
  }
  if (fileInput) {
    fileInput.addEventListener("change", function () {
      var file = fileInput.files && fileInput.files[0];
      if (!file) return;
      var reader = new FileReader();
      reader.onload = function () {
        img.removeAttribute("width");
        img.removeAttribute("height");
        img.onload = setup;
        img.src = reader.result;
      };
      reader.readAsDataURL(file);
    });
  }

  function snapshot() {
    undo.push(ctx.getImageData(0, 0, canvas.width, canvas.height));
    if (undo.length > 25) undo.shift();
  }
  function stroke(from, to) {
    ctx.save();
    ctx.globalCompositeOperation = mode === "erase" ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = PAINT;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineWidth = brush();
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x + 0.01, to.y);
    ctx.stroke();
    ctx.restore();
  }
  function point(event) {
    var box = canvas.getBoundingClientRect();
    return { x: (event.clientX - box.left) * scale(), y: (event.clientY - box.top) * scale() };
  }
  function coverage() {
    var probe = document.createElement("canvas");
    probe.width = probe.height = 96;
    var p = probe.getContext("2d");
    p.drawImage(canvas, 0, 0, 96, 96);
    var data = p.getImageData(0, 0, 96, 96).data, count = 0;
    for (var i = 3; i < data.length; i += 4) if (data[i] > 0) count++;
    return count / (96 * 96);
  }
  function report() {
    var share = coverage();
    painted = share > 0;
    statusEl.innerHTML = "";
    var small = document.createElement("small");
    small.textContent = painted
      ? "Painted: about " + Math.max(1, Math.round(share * 100)) + "% of the image may change; the rest stays as it is."
      : "Nothing painted: the whole image may change.";
    statusEl.appendChild(small);
  }
  function showRing() {
    var box = canvas.getBoundingClientRect(), k = scale(), size = brush() / k;
    ring.hidden = false;
    ring.style.width = ring.style.height = size + "px";
    ring.style.left = (cursor.x / k - size / 2) + "px";
    ring.style.top = (cursor.y / k - size / 2) + "px";
    if (!box.width) ring.hidden = true;
  }

  canvas.addEventListener("pointerdown", function (event) {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    snapshot();
    drawing = true;
    last = point(event);
    stroke(last, last);
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) return;
    var next = point(event);
    stroke(last, next);
    last = next;
  });
  function end() { if (drawing) { drawing = false; report(); } }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  canvas.addEventListener("keydown", function (event) {
    var step = Math.max(4, brush() / 3) * (event.shiftKey ? 4 : 1);
    var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      event.preventDefault();
      var from = { x: cursor.x, y: cursor.y };
      cursor.x = Math.max(0, Math.min(canvas.width, cursor.x + moves[event.key][0]));
      cursor.y = Math.max(0, Math.min(canvas.height, cursor.y + moves[event.key][1]));
      if (penDown) { stroke(from, cursor); report(); }
      showRing();
    } else if (event.key === " " || event.key === "Enter") {
      event.preventDefault();
      penDown = !penDown;
      if (penDown) { snapshot(); stroke(cursor, cursor); report(); }
      statusEl.firstChild.textContent += penDown ? " Brush down: arrows paint." : " Brush up.";
    } else if (event.key === "[" || event.key === "]") {
      sizeInput.value = parseInt(sizeInput.value, 10) + (event.key === "]" ? 8 : -8);
      showRing();
    } else if (event.key === "e" || event.key === "E") {
      setMode(mode === "erase" ? "paint" : "erase");
    } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
      event.preventDefault();
      doUndo();
    } else if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      doClear();
    }
  });
  canvas.addEventListener("focus", showRing);
  canvas.addEventListener("blur", function () { ring.hidden = true; penDown = false; });

  function setMode(next) {
    mode = next;
    form.querySelectorAll("[data-mask-mode]").forEach(function (button) {
      var on = button.getAttribute("data-mask-mode") === mode;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.classList.toggle("outline", !on);
    });
  }
  function doUndo() {
    if (!undo.length) return;
    ctx.putImageData(undo.pop(), 0, 0);
    report();
  }
  function doClear() {
    snapshot();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    report();
  }
  form.querySelectorAll("[data-mask-mode]").forEach(function (button) {
    button.addEventListener("click", function () { setMode(button.getAttribute("data-mask-mode")); });
  });
  form.querySelector("[data-mask-undo]").addEventListener("click", doUndo);
  form.querySelector("[data-mask-clear]").addEventListener("click", doClear);

  // White where painted, black elsewhere, at the canvas's size (the server fits it to the image).
  function maskPng() {
    var out = document.createElement("canvas");
    out.width = canvas.width;
    out.height = canvas.height;
    var o = out.getContext("2d");
    var src = ctx.getImageData(0, 0, canvas.width, canvas.height);
    var dst = o.createImageData(canvas.width, canvas.height);
    for (var i = 0; i < src.data.length; i += 4) {
      var v = src.data[i + 3] > 0 ? 255 : 0;
      dst.data[i] = dst.data[i + 1] = dst.data[i + 2] = v;
      dst.data[i + 3] = 255;
    }
    o.putImageData(dst, 0, 0);
    return out.toDataURL("image/png");
  }

  // References: at most max-references, picked and uploaded together.
  var maxRefs = parseInt(form.getAttribute("data-max-references"), 10) || 2;
  var refStatus = document.getElementById("reference-status");
  var refFiles = form.querySelector("[data-reference-files]");
  function refCount() {
    var picked = form.querySelectorAll("[data-reference]:checked").length;
    return picked + (refFiles && refFiles.files ? refFiles.files.length : 0);
  }
  function checkRefs(event) {
    var count = refCount();
    if (count > maxRefs && event && event.target.matches("[data-reference]")) {
      event.target.checked = false;
      count = refCount();
    }
    refStatus.textContent = count > maxRefs
      ? "Too many references: at most " + maxRefs + "."
      : count ? count + " of " + maxRefs + " references chosen." : "";
  }
  form.addEventListener("change", function (event) {
    if (event.target.matches("[data-reference], [data-reference-files]")) checkRefs(event);
  });

  form.addEventListener("submit", function () {
    maskData.value = painted && canvas.width ? maskPng() : "";
  });
})();
