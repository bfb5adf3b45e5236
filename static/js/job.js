// Job page: poll the job's status and show progress and images without reloading.
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root) return;
  var url = root.dataset.statusUrl;
  var statusEl = document.getElementById("job-status");
  var progressEl = document.getElementById("job-progress");
  var errorEl = document.getElementById("job-error");
  var imagesEl = document.getElementById("job-images");
  var liveEl = document.getElementById("job-live");
  var cancelForm = document.getElementById("cancel-form");
  var initial = JSON.parse(document.getElementById("job-payload").textContent);
  var active = { queued: true, running: true };
  var lastStatus = initial.status;

  function render(job) {
    statusEl.textContent = job.status.charAt(0).toUpperCase() + job.status.slice(1);
    statusEl.className = "status status-" + job.status;
    progressEl.value = job.progress;
    progressEl.hidden = !active[job.status];
    if (cancelForm) cancelForm.hidden = !active[job.status];
    errorEl.textContent = job.error && job.status !== "succeeded" ? job.error.message : "";
    if (job.status !== lastStatus) {
      liveEl.textContent = "Job " + job.status;
      lastStatus = job.status;
    }
    if (job.images.length && imagesEl.children.length !== job.images.length) {
      imagesEl.textContent = "";
      job.images.forEach(function (image, i) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        // The image's gallery page (parameters, lineage, reseed, share), else the file.
        var detail = imagesEl.dataset.detailUrl;
        a.href = detail ? detail.replace("00000000-0000-0000-0000-000000000000", image.id) : image.url;
        var img = document.createElement("img");
        img.src = image.thumbnail_url;
        img.width = image.width;
        img.height = image.height;
        img.alt = "Image " + (i + 1) + " · seed " + image.seed;
        a.appendChild(img);
        li.appendChild(a);
        var caption = document.createElement("small");
        caption.textContent = "seed " + image.seed + " · " + image.width + "×" + image.height;
        li.appendChild(caption);
        imagesEl.appendChild(li);
      });
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (job) {
        render(job);
        if (active[job.status]) setTimeout(poll, 700);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  render(initial);
  if (active[initial.status]) setTimeout(poll, 500);
})();
