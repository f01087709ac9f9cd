// Keyboard flow for the queue and the item page, region selection for reveals, the undo
// countdown and the exposure heartbeat. No inline scripts: the CSP allows only 'self'.
(function () {
  "use strict";

  var HEARTBEAT_MS = 30000;
  var dialog = document.querySelector("[data-keys-dialog]");
  var item = document.querySelector("[data-item]");
  var table = document.querySelector("[data-queue-table]");

  var TEXT_INPUTS = ["text", "search", "email", "password", "number", "url", "tel"];

  // Single-key shortcuts must not fire while the moderator types a reason or a note.
  function typing(target) {
    if (!target) { return false; }
    var tag = target.tagName;
    if (tag === "INPUT") { return TEXT_INPUTS.indexOf(target.type) !== -1; }
    return tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function showHelp() {
    if (dialog && !dialog.open) { dialog.showModal(); }
  }

  document.querySelectorAll("[data-keys-help]").forEach(function (button) {
    button.addEventListener("click", showHelp);
  });

  function submitForm(form) {
    if (!form) { return; }
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  // --- queue page -------------------------------------------------------------------------
  var rows = table ? Array.prototype.slice.call(table.querySelectorAll("tr[data-href]")) : [];
  var selected = -1;

  function select(index) {
    if (!rows.length) { return; }
    index = Math.max(0, Math.min(rows.length - 1, index));
    if (selected >= 0) { rows[selected].classList.remove("selected"); rows[selected].removeAttribute("aria-selected"); }
    selected = index;
    rows[selected].classList.add("selected");
    rows[selected].setAttribute("aria-selected", "true");
    rows[selected].scrollIntoView({ block: "nearest" });
  }

  function queueKey(key) {
    if (key === "j") { select(selected + 1); return true; }
    if (key === "k") { select(selected - 1); return true; }
    if ((key === "Enter" || key === "o") && selected >= 0) { window.location.assign(rows[selected].dataset.href); return true; }
    if (key === "s") {
      var start = document.querySelector("[data-key-start]");
      if (start) { window.location.assign(start.href); return true; }
    }
    return false;
  }

  // --- item page --------------------------------------------------------------------------
  function itemKey(key) {
    var form = document.querySelector("[data-decide-form]");
    if (form) {
      var radio = form.querySelector('input[type=radio][data-key="' + key + '"]');
      if (radio) { radio.checked = true; radio.focus(); return true; }
      if (key === "a" || key === "w") {
        var box = form.querySelector(key === "a" ? "[data-key-cluster]" : "[data-key-without]");
        if (box) { box.checked = !box.checked; return true; }
      }
      if (key === "n") {
        var next = form.querySelector("[data-key-next]");
        if (next) { next.click(); return true; }
      }
    }
    if (key === "r") {
      var reveal = document.querySelector("[data-key-reveal]");
      if (reveal) { reveal.click(); return true; }
    }
    if (key === "u") { submitForm(document.querySelector("[data-undo-form]")); return true; }
    if (key === "h") {
      var hold = document.querySelector("[data-key-hold]");
      if (hold) { hold.click(); return true; }
    }
    if (key === "j") { window.location.assign(item.dataset.nextUrl); return true; }
    if (key === "k") { window.location.assign(item.dataset.prevUrl); return true; }
    if (key === "q") { window.location.assign(item.dataset.queueUrl); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (typing(event.target) || (dialog && dialog.open)) { return; }
    var handled = false;
    if (event.key === "?") { showHelp(); handled = true; }
    else if (item) { handled = itemKey(event.key); }
    else if (table || document.querySelector("[data-key-start]")) { handled = queueKey(event.key); }
    else if (event.key === "u") { submitForm(document.querySelector("[data-undo-form]")); handled = true; }
    if (handled) { event.preventDefault(); }
  });

  // --- undo countdown ---------------------------------------------------------------------
  var undoForm = document.querySelector("[data-undo-form]");
  if (undoForm) {
    var finalAt = Date.parse(undoForm.dataset.finalAfter);
    var label = undoForm.querySelector("[data-undo-countdown]");
    var tick = function () {
      var left = Math.ceil((finalAt - Date.now()) / 1000);
      if (left <= 0) { undoForm.hidden = true; return; }
      if (label) { label.textContent = left + " s"; }
      window.setTimeout(tick, 500);
    };
    tick();
  }

  // --- region selection on a blurred preview ----------------------------------------------
  document.querySelectorAll("[data-region-select]").forEach(function (wrap) {
    var figure = wrap.closest("figure");
    var form = figure && figure.querySelector("[data-reveal-form]");
    var box = wrap.querySelector("[data-region-box]");
    if (!form || !box) { return; }
    var start = null;
    function fraction(event) {
      var rect = wrap.getBoundingClientRect();
      return {
        x: Math.max(0, Math.min(1, (event.clientX - rect.left) / rect.width)),
        y: Math.max(0, Math.min(1, (event.clientY - rect.top) / rect.height))
      };
    }
    function draw(a, b) {
      var x = Math.min(a.x, b.x), y = Math.min(a.y, b.y);
      var w = Math.abs(a.x - b.x), h = Math.abs(a.y - b.y);
      box.hidden = false;
      box.style.left = (x * 100) + "%";
      box.style.top = (y * 100) + "%";
      box.style.width = (w * 100) + "%";
      box.style.height = (h * 100) + "%";
      return { x: x, y: y, w: w, h: h };
    }
    wrap.addEventListener("pointerdown", function (event) {
      start = fraction(event);
      wrap.setPointerCapture(event.pointerId);
    });
    wrap.addEventListener("pointermove", function (event) {
      if (start) { draw(start, fraction(event)); }
    });
    wrap.addEventListener("pointerup", function (event) {
      if (!start) { return; }
      var region = draw(start, fraction(event));
      start = null;
      if (region.w < 0.02 || region.h < 0.02) { box.hidden = true; region = { x: "", y: "", w: "", h: "" }; }
      ["x", "y", "w", "h"].forEach(function (name) {
        var field = form.querySelector('input[name="' + name + '"]');
        field.value = region[name] === "" ? "" : region[name].toFixed(4);
      });
      form.classList.toggle("has-region", region.w !== "");
    });
  });

  // --- exposure heartbeat while a revealed image is on screen ------------------------------
  var csrf = document.querySelector('meta[name="csrf-token"]');
  if (item && csrf && document.querySelector("[data-revealed]")) {
    window.setInterval(function () {
      if (document.visibilityState !== "visible") { return; }
      fetch(item.dataset.heartbeatUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf.content }
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (status) {
        if (status && status.on_break) { window.location.reload(); }
      });
    }, HEARTBEAT_MS);
  }

  // --- give the claim back when the moderator leaves the item ------------------------------
  // Not when a form of this page is submitted (reveal, decide, release): those act on the item
  // and decide about the claim themselves.
  var submitting = false;
  document.addEventListener("submit", function () { submitting = true; });
  if (item && item.dataset.releaseUrl && csrf && navigator.sendBeacon) {
    window.addEventListener("pagehide", function () {
      if (submitting) { return; }
      var body = new FormData();
      body.append("csrf_token", csrf.content);
      body.append("beacon", "1");
      navigator.sendBeacon(item.dataset.releaseUrl, body);
    });
  }

  // Handlers are attached: lets a browser test wait for this rather than race a deferred script.
  document.documentElement.setAttribute("data-keys-ready", "");
}());
