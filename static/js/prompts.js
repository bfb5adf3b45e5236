// Create page, prompt tools: the ✨ enhance preview with a word diff (accept, edit, discard),
// and the preset picker that copies a preset's settings into the form.
(function () {
  "use strict";
  var form = document.getElementById("generate-form");
  if (!form) return;
  var prompt = form.querySelector("[name=prompt]");
  var box = document.getElementById("enhance");
  var button = document.getElementById("enhance-button");
  var status = document.getElementById("enhance-status");
  var panel = document.getElementById("revision");
  var diff = document.getElementById("revision-diff");
  var revised = form.querySelector("[name=revised_prompt]");
  var revision = form.querySelector("[name=revision]");
  var accept = document.getElementById("revision-accept");
  var discard = document.getElementById("revision-discard");
  var presetSelect = form.querySelector("[name=preset]");
  var presetApplied = form.querySelector("[name=preset_applied]");
  var templateNote = document.getElementById("preset-template");
  var basis = ""; // the prompt the shown revision was made from

  function csrf() {
    var input = form.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // --- Word diff (characters for Chinese), longest common subsequence ---------------------
  function tokens(text) {
    // Chinese characters one by one; words; punctuation on its own, so "sign," still
    // matches "sign"; runs of whitespace.
    return text.match(/[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff.,;:!?"“”()\[\]，。；：！？、「」『』]+|\s+|[^\s]/g) || [];
  }
  function renderDiff(before, after) {
    var a = tokens(before), b = tokens(after), n = a.length, m = b.length;
    if (n * m > 400000) { diff.hidden = true; return; }
    var table = [];
    for (var i = 0; i <= n; i++) { table.push(new Uint16Array(m + 1)); }
    for (i = n - 1; i >= 0; i--) {
      for (var j = m - 1; j >= 0; j--) {
        table[i][j] = a[i] === b[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
      }
    }
    diff.textContent = "";
    function add(tag, text) {
      var node = tag ? document.createElement(tag) : document.createTextNode(text);
      if (tag) node.textContent = text;
      diff.appendChild(node);
    }
    i = 0; j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) { add(null, a[i]); i++; j++; }
      else if (j < m && (i >= n || table[i][j + 1] >= table[i + 1][j])) { add("ins", b[j]); j++; }
      else { add("del", a[i]); i++; }
    }
    diff.hidden = false;
  }

  function showRevision(text, original) {
    basis = original;
    revised.value = text;
    revision.value = "accepted";
    renderDiff(original, text);
    panel.hidden = false;
    accept.hidden = false;
  }
  function clearRevision(message) {
    revised.value = "";
    revision.value = "";
    diff.hidden = true;
    panel.hidden = true;
    status.textContent = message || "";
  }

  if (button && box) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = prompt.value.trim();
      if (!text) { status.textContent = "Write a prompt first."; prompt.focus(); return; }
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      status.textContent = "Enhancing…";
      var body = new URLSearchParams({ prompt: text, preset: presetSelect ? presetSelect.value : "" });
      fetch(box.dataset.url, {
        method: "POST",
        headers: { "X-CSRFToken": csrf(), "Accept": "application/json" },
        body: body,
        credentials: "same-origin"
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (answer) {
        var data = answer.data;
        if (!answer.ok) { status.textContent = data.error || "The enhancer could not be asked."; return; }
        if (data.status === "fallback" || data.revised_prompt === data.prompt) {
          status.textContent = data.note;
          return;
        }
        showRevision(data.revised_prompt, data.prompt);
        status.textContent = data.note + " Review the changes below: use, edit or discard them.";
        revised.focus();
      }).catch(function () {
        status.textContent = "The enhancer could not be reached; your prompt will be used as it is.";
      }).then(function () {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      });
    });
  }
  if (revised) {
    revised.addEventListener("input", function () {
      revision.value = revised.value.trim() ? "edited" : "";
      if (basis) renderDiff(basis, revised.value);
    });
  }
  if (accept) {
    accept.addEventListener("click", function () {
      diff.hidden = true;
      accept.hidden = true;
      status.textContent = "The revision will be drawn. Generate when ready.";
    });
  }
  if (discard) {
    discard.addEventListener("click", function () {
      clearRevision("Revision discarded: your own prompt will be drawn.");
      prompt.focus();
    });
  }
  if (prompt) {
    prompt.addEventListener("input", function () {
      if (revised && revised.value && basis && prompt.value.trim() !== basis) {
        status.textContent = "Your prompt changed after it was enhanced: enhance again, or discard the revision.";
      }
    });
  }

  // --- Presets: copy the chosen preset's settings into the form ----------------------------
  var valuesNode = document.getElementById("preset-values");
  var presetValues = valuesNode ? JSON.parse(valuesNode.textContent) : {};
  function setField(name, value) {
    var fields = form.querySelectorAll("[name='" + name + "']");
    fields.forEach(function (field) {
      if (field.type === "radio") { field.checked = field.value === String(value); }
      else if (field.type === "checkbox") { field.checked = !!value; }
      else { field.value = value; }
    });
  }
  if (presetSelect) {
    presetSelect.addEventListener("change", function () {
      var values = presetValues[presetSelect.value];
      if (!values) { presetApplied.value = ""; templateNote.textContent = ""; return; }
      Object.keys(values).forEach(function (name) {
        if (name === "prompt_template") return;
        var value = values[name];
        if (name === "size" && !form.querySelector("input[name=size][value='" + value + "']")) {
          var match = /^(\d+)\s*[x×]\s*(\d+)$/i.exec(value);
          if (match) { setField("size", "custom"); setField("width", match[1]); setField("height", match[2]); }
          return;
        }
        setField(name, value);
      });
      presetApplied.value = "True";
      form.dispatchEvent(new Event("change", { bubbles: true }));
      var template = values.prompt_template || "{prompt}";
      templateNote.textContent = template === "{prompt}" ? "" : "Your prompt goes into the preset's template: " + template;
    });
  }
})();
