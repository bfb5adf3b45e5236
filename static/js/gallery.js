// Gallery: infinite scroll over the "Load more" link, stars without a reload, the bulk bar,
// copy buttons and confirmations. Every feature works without this file (plain links/forms).
(function () {
  "use strict";

  // --- Infinite scroll: fetch the next page's fragment when "Load more" comes into view.
  var grid = document.getElementById("gallery-grid");
  var loading = false;

  function loadMore(link) {
    if (loading) return;
    loading = true;
    link.setAttribute("aria-busy", "true");
    var url = new URL(link.href, window.location.href);
    url.searchParams.set("partial", "1");
    fetch(url.toString(), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var items = doc.querySelectorAll("#gallery-page > li");
        items.forEach(function (li) { grid.appendChild(document.importNode(li, true)); });
        var wrap = document.getElementById("load-more-wrap");
        var next = doc.getElementById("load-more-wrap");
        if (wrap && next) wrap.replaceWith(document.importNode(next, true));
        loading = false;
        watch();
        updateBulk();
      })
      .catch(function () { loading = false; link.removeAttribute("aria-busy"); });
  }

  var observer = null;
  function watch() {
    var link = document.querySelector("a.load-more[data-partial]");
    if (!link || !grid) return;
    link.addEventListener("click", function (event) {
      event.preventDefault();
      loadMore(link);
    });
    if ("IntersectionObserver" in window) {
      if (observer) observer.disconnect();
      observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) { if (entry.isIntersecting) loadMore(link); });
      }, { rootMargin: "600px 0px" });
      observer.observe(link);
    }
  }
  watch();

  // --- Stars: post with fetch and flip the button in place.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches(".star-form")) {
      event.preventDefault();
      var data = new FormData(form);
      fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { Accept: "application/json" }
      })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (result) { renderStar(form, result.favorite); })
        .catch(function () { form.submit(); });
      return;
    }
  });

  function renderStar(form, on) {
    var button = form.querySelector("button");
    var field = form.querySelector("input[name=favorite]");
    if (field) field.value = on ? "0" : "1";
    button.setAttribute("aria-pressed", on ? "true" : "false");
    if (button.classList.contains("star-wide")) {
      button.textContent = on ? "★ Starred" : "☆ Star";
    } else {
      button.title = on ? "Unstar" : "Star";
      button.innerHTML = "";
      button.appendChild(document.createTextNode(on ? "★" : "☆"));
      var label = document.createElement("span");
      label.className = "visually-hidden";
      label.textContent = on ? " Unstar" : " Star";
      button.appendChild(label);
    }
  }

  // --- Bulk bar: count the selection; show only the extra field the action needs.
  var bulkForm = document.getElementById("bulk-form");
  var countEl = document.getElementById("bulk-count");
  var actionEl = document.getElementById("bulk-action");
  function updateBulk() {
    if (!bulkForm) return;
    var n = document.querySelectorAll('input[name=images][form="bulk-form"]:checked').length;
    countEl.textContent = n ? n + " selected" : "Select images to act on them";
    var action = actionEl.value;
    bulkForm.querySelectorAll(".bulk-extra").forEach(function (el) {
      el.hidden = el.getAttribute("data-for").split(" ").indexOf(action) < 0;
    });
  }
  if (bulkForm) {
    document.addEventListener("change", function (event) {
      if (event.target.name === "images" || event.target === actionEl) updateBulk();
    });
    bulkForm.addEventListener("submit", function (event) {
      if (actionEl.value === "delete") {
        var n = document.querySelectorAll('input[name=images][form="bulk-form"]:checked').length;
        if (!window.confirm("Delete " + n + " image(s) for good? Only your own are deleted.")) {
          event.preventDefault();
        }
      }
    });
    updateBulk();
  }

  // --- Copy buttons: copy the text of the element named by data-copy-target.
  var statusEl = document.getElementById("copy-status");
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-target]");
    if (!button) return;
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) return;
    var text = target.value !== undefined ? target.value : target.textContent;
    var done = function () {
      var original = button.textContent;
      button.textContent = "Copied";
      if (statusEl) statusEl.textContent = button.getAttribute("data-copied") || "Copied";
      setTimeout(function () { button.textContent = original; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { target.select(); });
    } else if (target.select) {
      target.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* selected for manual copy */ }
    }
  });
})();
