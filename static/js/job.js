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
  var noticeEl = document.getElementById("job-notice");
  var imagesEl = document.getElementById("job-images");
  var liveEl = document.getElementById("job-live");
  var cancelForm = document.getElementById("cancel-form");
  var initial = JSON.parse(document.getElementById("job-payload").textContent);
  var active = { queued: true, running: true };
  var lastStatus = initial.status;
  var failures = 0;

  function phase(job) {
    if (job.phase !== undefined) return active[job.status] ? job.phase : "";
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
    var blurHeld = imagesEl.dataset.blurHeld === "1";
    var staff = imagesEl.dataset.staff === "1";
    images.forEach(function (image, i) {
      var li = document.createElement("li");
      var state = image.moderation_state || "clear";
      var caption = document.createElement("small");
      caption.textContent = "seed " + image.seed + " · " + image.width + "×" + image.height;
      if (state === "rejected" && !staff) {
        var removed = document.createElement("div");
        removed.className = "held-removed";
        removed.textContent = "Removed by a moderator";
        li.appendChild(removed);
        li.appendChild(caption);
        imagesEl.appendChild(li);
        return;
      }
      var held = state !== "clear" && state !== "approved";
      var a = document.createElement("a");
      a.className = "held-media";
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
      if (held) {
        // Held for review: blurred unless the profile shows sensitive images (sensitive.js).
        var label = state.charAt(0).toUpperCase() + state.slice(1);
        li.className = blurHeld ? "held sensitive" : "held";
        var reveal = document.createElement("button");
        reveal.type = "button";
        reveal.className = "reveal";
        reveal.setAttribute("data-reveal", "");
        reveal.dataset.showLabel = label + " · Show";
        reveal.dataset.hideLabel = "Blur";
        reveal.textContent = blurHeld ? reveal.dataset.showLabel : "Blur";
        li.appendChild(reveal);
        var badge = document.createElement("mark");
        badge.className = "held-badge";
        badge.textContent = "Held for review";
        caption.appendChild(document.createTextNode(" · "));
        caption.appendChild(badge);
      }
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
    // Queued with nobody to run it (no consumer serves its backend): say so, not just "waiting".
    if (noticeEl) {
      noticeEl.textContent = job.notice || "";
      noticeEl.hidden = !job.notice;
    }
    errorEl.textContent = job.error && job.status !== "succeeded" ? job.error.message : "";
    errorEl.className = job.status === "failed" ? "error" : "notice";
    if (job.status !== lastStatus) {
      liveEl.textContent = "Job " + job.status;
      // Retry and edit buttons come with the page: draw it again once the job has ended.
      if (active[lastStatus] && (job.status === "failed" || job.status === "canceled")) {
        window.location.reload();
      }
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
