// Job page: poll the job's status and show progress and images without reloading.
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root) return;
  var url = root.dataset.statusUrl;
  var statusEl = document.getElementById("job-status");
  var phaseEl = document.getElementById("job-phase");
  var timingEl = document.getElementById("job-timing");
  var progressEl = document.getElementById("job-progress");
  var errorEl = document.getElementById("job-error");
  var imagesEl = document.getElementById("job-images");
  var liveEl = document.getElementById("job-live");
  var cancelForm = document.getElementById("cancel-form");
  var initial = JSON.parse(document.getElementById("job-payload").textContent);
  var active = { queued: true, running: true };
  var lastStatus = initial.status;
  var failures = 0;

  function phase(job) {
    if (job.status === "queued") {
      return job.error ? "Retrying soon (attempt " + (job.attempts + 1) + ")…" : "Waiting for a worker…";
    }
    if (job.status === "running") {
      return job.progress > 0 ? "Generating… " + Math.round(job.progress * 100) + "%" : "Generating…";
    }
    return "";
  }

  function renderImages(images) {
    if (!images.length || imagesEl.children.length === images.length) return;
    imagesEl.textContent = "";
    images.forEach(function (image, i) {
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

  function render(job) {
    statusEl.textContent = job.status.charAt(0).toUpperCase() + job.status.slice(1);
    statusEl.className = "status status-" + job.status;
    phaseEl.textContent = phase(job);
    // No progress reported yet (queued, or a remote call in flight): an indeterminate bar.
    if (active[job.status] && job.progress > 0) {
      progressEl.value = job.progress;
    } else {
      progressEl.removeAttribute("value");
    }
    progressEl.hidden = !active[job.status];
    if (cancelForm) cancelForm.hidden = !active[job.status];
    timingEl.textContent =
      !active[job.status] && job.run_seconds != null ? "Took " + job.run_seconds.toFixed(1) + " s" : "";
    errorEl.textContent = job.error && job.status !== "succeeded" ? job.error.message : "";
    errorEl.className = job.status === "failed" ? "error" : "notice";
    if (job.status !== lastStatus) {
      liveEl.textContent = "Job " + job.status;
      lastStatus = job.status;
    }
    renderImages(job.images);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (job) {
        failures = 0;
        render(job);
        if (active[job.status]) setTimeout(poll, 700);
      })
      .catch(function () {
        failures += 1;
        setTimeout(poll, Math.min(30000, 1500 * failures));
      });
  }
  render(initial);
  if (active[initial.status]) setTimeout(poll, 500);
})();
