// Moderation queue: keyboard shortcuts (j/n next, k/p previous, a approve, r reject, v show or
// blur, o open, ? help) and decisions without a reload. Without this file the page works with
// its buttons (plain POST forms).
(function () {
  "use strict";
  var list = document.getElementById("queue");
  if (!list) return;
  var status = document.getElementById("queue-status");
  var current = null;

  function items() {
    return Array.prototype.slice.call(list.querySelectorAll(".queue-item:not(.done)"));
  }

  function select(item, scroll) {
    if (current) current.classList.remove("current");
    current = item || null;
    if (!current) return;
    current.classList.add("current");
    current.focus({ preventScroll: !scroll });
    if (scroll) current.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function move(step) {
    var all = items();
    if (!all.length) return;
    var index = all.indexOf(current);
    index = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[index], true);
  }

  function say(text) {
    status.textContent = text;
  }

  function decide(item, decision) {
    var form = item.querySelector(".queue-decide");
    var button = form.querySelector('[data-decision="' + decision + '"]');
    var data = new FormData(form);
    data.set("decision", decision);
    button.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (result) {
        var next = items()[items().indexOf(item) + 1] || null;
        item.classList.add("done");
        item.setAttribute("aria-disabled", "true");
        item.querySelectorAll("button, input").forEach(function (el) { el.disabled = true; });
        var mark = item.querySelector(".state");
        if (mark) {
          mark.textContent = result.state;
          mark.className = "state state-" + result.state;
        }
        say("Image " + result.state + ".");
        select(next || items()[items().length - 1] || null, true);
      })
      .catch(function () {
        // Let the server answer with a full page (and its message). form.submit() sends no
        // submit button, so the decision goes in a hidden field.
        var field = document.createElement("input");
        field.type = "hidden";
        field.name = "decision";
        field.value = decision;
        form.appendChild(field);
        form.submit();
      });
  }

  list.addEventListener("submit", function (event) {
    var form = event.target;
    var item = form.closest(".queue-item");
    var submitter = event.submitter;
    if (!item || !submitter || !submitter.dataset.decision) return;
    event.preventDefault();
    select(item, false);
    decide(item, submitter.dataset.decision);
  });

  list.addEventListener("focusin", function (event) {
    var item = event.target.closest(".queue-item");
    if (item && item !== current && !item.classList.contains("done")) {
      if (current) current.classList.remove("current");
      current = item;
      current.classList.add("current");
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var key = event.key;
    if (key === "?") {
      var help = document.getElementById("shortcuts");
      if (help) help.open = !help.open;
      event.preventDefault();
      return;
    }
    if (key === "j" || key === "n") { move(1); event.preventDefault(); return; }
    if (key === "k" || key === "p") { move(-1); event.preventDefault(); return; }
    if (!current) return;
    if (key === "a") { decide(current, "approve"); event.preventDefault(); }
    else if (key === "r") { decide(current, "reject"); event.preventDefault(); }
    else if (key === "v") {
      var reveal = current.querySelector("[data-reveal]");
      if (reveal) reveal.click();
      event.preventDefault();
    } else if (key === "o") {
      var open = current.querySelector("[data-open]");
      if (open) window.location.href = open.href;
      event.preventDefault();
    }
  });

  select(items()[0], false);
})();
