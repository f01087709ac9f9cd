/*
 * /protect: hash the chosen photos on this device and put only the hashes in the form.
 *
 * The file input has no name, so the browser never sends the files; each photo is decoded here
 * (PDQ.fromFile, EXIF orientation applied), hashed (PDQ, quality, MD5 of the file's bytes) and
 * drawn as a small preview on a canvas that never leaves the page. The hidden `hashes` field
 * gets [{pdq, quality, md5}, ...] of the photos that can be recognised; flat ones are shown as
 * refused and left out (the server refuses them too). Messages come from data-msg-* attributes
 * so the page's language is used.
 */
(function () {
  "use strict";

  var MIN_QUALITY = 50; // moderation/banks/matching.py MIN_PDQ_QUALITY
  var MIN_BITS = 96; // moderation/protect/registration.py MIN_PDQ_BITS
  var THUMB = 96;

  function bitCount(hex) {
    var bits = 0;
    for (var i = 0; i < hex.length; i++) {
      var nibble = parseInt(hex[i], 16);
      while (nibble) {
        bits += nibble & 1;
        nibble >>= 1;
      }
    }
    return bits;
  }

  function thumbnail(file, canvas) {
    // The same decoding as the hash (EXIF orientation applied), drawn small on this page.
    return PDQ.picture(file).then(function (picture) {
      var fullWidth = picture.naturalWidth || picture.width;
      var fullHeight = picture.naturalHeight || picture.height;
      var scale = Math.max(THUMB / fullWidth, THUMB / fullHeight);
      var width = fullWidth * scale, height = fullHeight * scale;
      canvas.width = canvas.height = THUMB;
      canvas.getContext("2d").drawImage(picture, (THUMB - width) / 2, (THUMB - height) / 2, width, height);
      if (picture.close) picture.close();
    });
  }

  function setUp(form) {
    var picker = form.querySelector("[data-protect-picker]");
    var input = form.querySelector("[data-protect-files]");
    var list = form.querySelector("[data-protect-chosen]");
    var note = form.querySelector("[data-protect-note]");
    var hidden = form.querySelector("[data-protect-hashes]");
    var submit = form.querySelector("[data-protect-submit]");
    var room = parseInt(picker.getAttribute("data-max"), 10) || 0;
    var items = []; // {state: "working"|"ready"|"refused", hashes}

    function message(name) {
      return picker.getAttribute("data-msg-" + name) || "";
    }

    function refresh() {
      var ready = items.filter(function (item) { return item.state === "ready"; });
      var working = items.some(function (item) { return item.state === "working"; });
      hidden.value = JSON.stringify(ready.map(function (item) { return item.hashes; }));
      submit.disabled = working || ready.length === 0;
    }

    function add(file) {
      var item = { state: "working", hashes: null };
      items.push(item);
      var row = document.createElement("li");
      var canvas = document.createElement("canvas");
      canvas.width = canvas.height = THUMB;
      canvas.setAttribute("aria-hidden", "true");
      var text = document.createElement("span");
      text.className = "chosen-status";
      text.textContent = message("working");
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.textContent = message("remove");
      remove.addEventListener("click", function () {
        items.splice(items.indexOf(item), 1);
        row.remove();
        refresh();
      });
      row.appendChild(canvas);
      row.appendChild(text);
      row.appendChild(remove);
      list.appendChild(row);
      refresh();
      var done = Promise.all([file.arrayBuffer(), PDQ.fromFile(file)]).then(function (results) {
        var pdq = results[1];
        if (pdq.quality < MIN_QUALITY || bitCount(pdq.hash) < MIN_BITS) {
          item.state = "refused";
          row.className = "refused";
          text.textContent = message("flat");
          return;
        }
        item.hashes = { pdq: pdq.hash, quality: pdq.quality, md5: MD5.hex(results[0]) };
        item.state = "ready";
        row.className = "ready";
        text.textContent = message("ready");
      }, function () {
        item.state = "refused";
        row.className = "refused";
        text.textContent = message("unreadable");
      });
      thumbnail(file, canvas).catch(function () { /* the status says it could not be read */ });
      done.then(refresh);
      return done;
    }

    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files || []);
      // Forget the selection at once: the files stay only in this page's memory.
      input.value = "";
      var kept = items.filter(function (item) { return item.state !== "refused"; }).length;
      var free = Math.max(0, room - kept);
      note.hidden = files.length <= free;
      note.textContent = files.length > free ? message("too-many") : "";
      var work = files.slice(0, free).map(add);
      Promise.all(work).then(function () {
        form.setAttribute("data-protect-hashed", String(items.length));
      });
    });

    form.addEventListener("submit", function (event) {
      refresh();
      if (submit.disabled) event.preventDefault();
      input.value = "";
    });
    refresh();
  }

  document.querySelectorAll("form[data-protect-form]").forEach(setUp);
  document.documentElement.setAttribute("data-protect-ready", "");
})();
