// The Create feed: one poll for every running job on the page (never one per job), cards
// redrawn by the server when a job changes state, and the image actions without a reload.
// Polling stops while no job is running and while the tab is hidden.
(function () {
  "use strict";
  var feed = document.getElementById("feed");
  var form = document.getElementById("generate-form");
  if (!feed || !form) return;
  var liveUrl = form.dataset.liveUrl;
  var pollMs = parseInt(form.dataset.pollMs, 10) || 1500;
  var announce = document.getElementById("feed-announce");
  var timer = null;
  var failures = 0;

  function activeCards() {
    return Array.prototype.slice.call(feed.querySelectorAll("li.job-card[data-active='1']"));
  }

  function replaceCard(card, html) {
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var fresh = holder.firstElementChild;
    var hadFocus = card.contains(document.activeElement);
    card.replaceWith(fresh);
    if (hadFocus) {
      var target = fresh.querySelector("button, a");
      if (target) target.focus();
    }
    return fresh;
  }

  function apply(job) {
    var card = document.getElementById("job-" + job.id);
    if (!card) return;
    if (job.html) {
      var before = card.dataset.active;
      card = replaceCard(card, job.html);
      if (before === "1" && card.dataset.active === "0") {
        announce.textContent = "“" + job.params.prompt.slice(0, 60) + "”: " + job.phase;
      }
      return;
    }
    var phase = card.querySelector("[data-phase]");
    if (phase && phase.textContent !== job.phase) phase.textContent = job.phase;
    var bar = card.querySelector("[data-progress]");
    if (bar) {
      if (job.status === "running" && job.progress > 0) bar.value = job.progress;
      else bar.removeAttribute("value");
    }
  }

  function poll() {
    timer = null;
    var cards = activeCards();
    if (!cards.length || document.hidden) return;
    var url = new URL(liveUrl, window.location.href);
    cards.forEach(function (card) {
      url.searchParams.append("job", card.dataset.jobId + ":" + card.dataset.renderKey);
    });
    fetch(url.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        failures = 0;
        data.jobs.forEach(apply);
        schedule(data.poll_ms || pollMs);
      })
      .catch(function () {
        failures += 1;
        schedule(Math.min(30000, pollMs * Math.pow(2, failures)));
      });
  }

  function schedule(delay) {
    if (timer) clearTimeout(timer);
    timer = setTimeout(poll, delay);
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) schedule(100);
  });

  function add(job, html) {
    var empty = document.getElementById("feed-empty");
    if (empty) empty.remove();
    var existing = document.getElementById("job-" + job.id);
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var card = holder.firstElementChild;
    if (existing) existing.replaceWith(card); else feed.insertBefore(card, feed.firstChild);
    announce.textContent = "Job added: " + job.phase;
    schedule(pollMs);
  }

  function addById(id) {
    var url = new URL(liveUrl, window.location.href);
    url.searchParams.append("job", id + ":");
    return fetch(url.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) { data.jobs.forEach(function (job) { add(job, job.html); }); });
  }

  // --- Actions on cards and images: one fetch, the answer applied in place.
  feed.addEventListener("submit", function (event) {
    var target = event.target;
    if (!target.matches("form[data-feed-action]") || event.defaultPrevented) return;
    var submitter = event.submitter;
    var action = (submitter && submitter.getAttribute("formaction")) || target.action;
    if (/\/edit\/$/.test(action)) return;  // opens the form with the job's settings: a page load
    event.preventDefault();
    var data = new FormData(target);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    fetch(action, {
      method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (result) {
      var body = result.body;
      if (!result.ok) { announce.textContent = body.error || "That did not work."; window.alert(body.error || "That did not work."); return; }
      if ("favorite" in body) {
        submitter.value = body.favorite ? "0" : "1";
        submitter.setAttribute("aria-pressed", body.favorite ? "true" : "false");
        submitter.title = body.favorite ? "Unstar" : "Star";
        submitter.querySelector("[aria-hidden]").textContent = body.favorite ? "★" : "☆";
        announce.textContent = body.favorite ? "Starred" : "Star removed";
      } else if (body.job_id) {
        addById(body.job_id);
      } else if (body.initial) {
        window.QISFill(body.initial);
        announce.textContent = "The form holds this image's settings.";
      } else if (body.deleted) {
        trashed(target.closest("li"), body);
      } else if (body.id && body.status) {
        var card = document.getElementById("job-" + body.id);
        if (card) { card.dataset.active = "1"; card.dataset.renderKey = ""; }
        schedule(100);
      }
    }).catch(function () { target.submit(); });
  });

  // A deleted image goes to the trash: its tile says so and offers Undo (the same restore
  // the page's undo toast posts to without JavaScript).
  function trashed(tile, body) {
    var token = form.querySelector("[name=csrfmiddlewaretoken]").value;
    var card = tile.closest("li.job-card");
    tile.style.minHeight = tile.offsetHeight + "px";  // the row keeps its height: no jump
    tile.classList.add("deleted");
    tile.textContent = "";
    var note = document.createElement("p");
    note.className = "held-removed";
    note.textContent = "In the trash";
    var undo = document.createElement("button");
    undo.type = "button";
    undo.className = "small";
    undo.textContent = "Undo";
    undo.addEventListener("click", function () {
      var data = new FormData();
      data.append("csrfmiddlewaretoken", token);
      data.append("kind", body.undo.kind);
      body.undo.ids.forEach(function (id) { data.append("ids", id); });
      fetch(body.undo.url, {
        method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" }
      }).then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (answer) {
          announce.textContent = answer.message;
          if (card) addById(card.dataset.jobId);
        })
        .catch(function () { announce.textContent = "Undo did not work: restore it from the Trash page."; });
    });
    tile.appendChild(note);
    tile.appendChild(undo);
    undo.focus();
    announce.textContent = body.message || "Image moved to the trash.";
  }

  window.QISFeed = { add: add };
  schedule(pollMs);
})();
