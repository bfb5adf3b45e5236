// Create page form: size boxes, custom size, the prompt's counter and keys, and a submit that
// stays on the page (the new job's card goes to the top of the feed; the prompt stays). Without
// this file the form posts and the server redirects back with the job on top.
(function () {
  "use strict";
  var form = document.getElementById("generate-form");
  if (!form) return;
  var prompt = form.querySelector("textarea[name=prompt]");
  var custom = document.getElementById("custom-size");
  var LAST = "qis:last-prompt";

  // --- Phone: the settings fold under the prompt (open when one of them has an error).
  var fold = form.querySelector("[data-fold-on-phone]");
  if (fold && !fold.hasAttribute("data-has-errors") && window.matchMedia("(max-width: 767px)").matches) {
    fold.open = false;
  }

  // --- Size choices: a box drawn in each preset's aspect ratio; width/height for "custom".
  form.querySelectorAll(".aspect").forEach(function (box) {
    var match = box.parentElement.textContent.match(/(\d+)×(\d+)/);
    var w = 18, h = 18;
    if (match) {
      var ratio = parseInt(match[1], 10) / parseInt(match[2], 10);
      if (ratio >= 1) { h = Math.round(18 / ratio); } else { w = Math.round(18 * ratio); }
    }
    box.style.width = w + "px";
    box.style.height = h + "px";
  });
  function syncCustom() {
    var checked = form.querySelector("input[name=size]:checked");
    if (custom) custom.hidden = !(checked && checked.value === "custom");
  }
  form.addEventListener("change", syncCustom);
  syncCustom();

  // --- Counter: characters against the limit; over it, red and said once (never truncated).
  var counter = form.querySelector("[data-counter]");
  var count = form.querySelector("[data-count]");
  var announce = form.querySelector("[data-counter-announce]");
  var max = parseInt(prompt.dataset.maxLength, 10);
  var wasOver = false;
  function syncCounter() {
    var length = prompt.value.length;
    count.textContent = length;
    var over = length > max;
    counter.classList.toggle("over", over);
    counter.classList.toggle("near", !over && length > max * 0.9);
    if (over !== wasOver) {
      announce.textContent = over
        ? "The prompt is " + (length - max) + " characters over the limit of " + max + "."
        : "The prompt fits again.";
      wasOver = over;
    }
  }
  prompt.addEventListener("input", syncCounter);
  syncCounter();

  // --- Keys: Ctrl/⌘+Enter generates; ↑ in an empty box recalls the last prompt.
  prompt.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "ArrowUp" && prompt.value === "") {
      var last = window.localStorage.getItem(LAST);
      if (last) {
        event.preventDefault();
        prompt.value = last;
        syncCounter();
      }
    }
  });

  // --- Errors: the same summary the server draws, built from the JSON answer.
  function clearErrors() {
    var old = form.querySelector("[data-error-summary]");
    if (old) old.remove();
    form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }
  function showErrors(errors) {
    clearErrors();
    var box = document.createElement("div");
    box.className = "error-summary";
    box.setAttribute("role", "alert");
    box.setAttribute("tabindex", "-1");
    box.setAttribute("data-error-summary", "");
    var heading = document.createElement("h2");
    heading.textContent = errors.length === 1 ? "There is a problem with what you sent" : "There are problems with what you sent";
    box.appendChild(heading);
    var list = document.createElement("ul");
    errors.forEach(function (error) {
      var item = document.createElement("li");
      if (error.id) {
        var link = document.createElement("a");
        link.href = "#" + error.id;
        link.textContent = error.label + ": " + error.message;
        item.appendChild(link);
        var field = document.getElementById(error.id);
        if (field) {
          field.setAttribute("aria-invalid", "true");
          var details = field.closest("details");
          if (details) details.open = true;
        }
        var slot = form.querySelector("[data-error-for='" + error.field + "']");
        if (slot) slot.textContent = error.message;
      } else {
        item.textContent = error.message;
      }
      list.appendChild(item);
    });
    box.appendChild(list);
    form.insertBefore(box, form.firstElementChild.nextSibling);
    box.focus();
  }

  // --- Submit: one POST; the card of the new job goes to the top of the feed.
  var button = form.querySelector(".generate-button");
  form.addEventListener("submit", function (event) {
    if (prompt.value.length > max) {
      event.preventDefault();
      showErrors([{ field: "prompt", id: prompt.id, label: "Prompt",
        message: "The prompt is " + prompt.value.length + " characters long; the limit is " + max +
          ". Shorten it by " + (prompt.value.length - max) + " characters." }]);
      return;
    }
    if (!window.fetch || !window.QISFeed) return;
    event.preventDefault();
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
    fetch(form.action || window.location.pathname, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (result.ok) {
        clearErrors();
        window.localStorage.setItem(LAST, prompt.value);
        window.QISFeed.add(result.data.job, result.data.html);
      } else {
        showErrors(result.data.errors || [{ message: "The job could not be created." }]);
      }
    }).catch(function () {
      form.submit();  // the plain post still works
    }).then(function () {
      button.removeAttribute("aria-busy");
      button.disabled = false;
    });
  });

  // --- "Use settings" from a feed image: fill the form in place.
  window.QISFill = function (initial) {
    Object.keys(initial).forEach(function (name) {
      var value = initial[name];
      var fields = form.querySelectorAll("[name='" + name + "']");
      fields.forEach(function (field) {
        if (field.type === "radio") field.checked = String(field.value) === String(value);
        else if (field.type === "checkbox") field.checked = !!value;
        else if (field.type !== "hidden") field.value = value == null ? "" : value;
      });
    });
    syncCustom();
    syncCounter();
    prompt.focus();
    prompt.scrollIntoView({ block: "center" });
  };
})();
