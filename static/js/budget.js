// Budget bar: keeps "Estimated cost" in step with the Create form, through the dry-run
// endpoint POST /v1/estimates (the signed-in session, with the form's CSRF token). Nothing is
// created or reserved. Without JavaScript the bar shows the price rule instead.
(function () {
  "use strict";
  var bar = document.querySelector("[data-budget-bar]");
  if (!bar) return;
  var prompt = document.querySelector("form textarea[name=prompt], form input[name=prompt]");
  var form = document.getElementById("generate-form") || (prompt && prompt.form);
  var output = document.getElementById("cost-estimate");
  var refusal = document.getElementById("cost-refusal");
  if (!form || !output) return;
  var timer = null;
  var sequence = 0;

  function value(name) {
    var field = form.elements[name];
    if (!field) return null;
    if (field instanceof RadioNodeList || (field.length && field[0] && field[0].type === "radio")) {
      var checked = form.querySelector("input[name=" + name + "]:checked");
      return checked ? checked.value : null;
    }
    return field.value;
  }

  function body() {
    var data = { prompt: (value("prompt") || "").trim() || "estimate" };
    var size = value("size");
    if (size === "custom") {
      var w = parseInt(value("width"), 10), h = parseInt(value("height"), 10);
      if (!w || !h) return null;
      data.size = { width: w, height: h };
    } else if (size) {
      data.size = size;
    }
    ["n", "num_inference_steps"].forEach(function (name) {
      var number = parseInt(value(name), 10);
      if (number) data[name] = number;
    });
    var acceleration = value("acceleration");
    if (acceleration) data.acceleration = acceleration;
    return data;
  }

  function money(amount, currency) {
    try {
      return new Intl.NumberFormat(undefined, {
        style: "currency", currency: currency,
        minimumFractionDigits: amount > 0 && amount < 0.01 ? 4 : 2,
        maximumFractionDigits: amount > 0 && amount < 0.01 ? 4 : 2,
      }).format(amount);
    } catch (e) {
      return amount.toFixed(2) + " " + currency;
    }
  }

  function show(answer) {
    var cost = answer.cost, usage = answer.usage;
    var images = usage.images + " image" + (usage.images === 1 ? "" : "s");
    output.textContent = money(cost.amount, cost.currency) + " for " + images +
      " (" + usage.megapixels.toFixed(2) + " MP)";
    refusal.textContent = answer.allowed ? "" : answer.refusal.message;
  }

  function update() {
    var data = body();
    if (!data) { output.textContent = "—"; refusal.textContent = ""; return; }
    var token = form.elements.csrfmiddlewaretoken;
    var mine = ++sequence;
    fetch(bar.dataset.estimateUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" },
      body: JSON.stringify(data),
    }).then(function (response) {
      return response.json().then(function (answer) { return { ok: response.ok, answer: answer }; });
    }).then(function (result) {
      if (mine !== sequence) return; // a newer request is on its way
      if (result.ok) { show(result.answer); }
      else { output.textContent = "—"; refusal.textContent = ""; }
    }).catch(function () { /* keep the last figure */ });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  }
  form.addEventListener("change", later);
  form.addEventListener("input", function (event) {
    if (event.target && event.target.name !== "prompt") later();
  });
  update();
})();
