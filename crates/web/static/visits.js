// Care visits: a visit typed with a poor connection is not lost. Before the form is sent it is
// kept in localStorage under its idempotency key; when the server confirms (the page it
// redirects to names the key), the copy is dropped. Copies still pending are sent again when the
// browser is back online — the key makes a repeat harmless. Without JavaScript the form posts
// as usual.
(function () {
  "use strict";
  var STORE = "yl-visits-pending";

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE) || "{}") || {}; } catch (e) { return {}; }
  }
  function save(p) {
    try { localStorage.setItem(STORE, JSON.stringify(p)); } catch (e) { /* storage full or blocked */ }
  }
  function count() { return Object.keys(load()).length; }
  function show() {
    var box = document.getElementById("pending-box");
    var n = count();
    if (box) {
      box.hidden = n === 0;
      var c = document.getElementById("pending-count");
      if (c) { c.textContent = String(n); }
    }
  }
  function encode(fields) {
    return Object.keys(fields).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(fields[k]);
    }).join("&");
  }
  var sending = false;
  function flush() {
    if (sending || !navigator.onLine) { return; }
    var pending = load();
    var keys = Object.keys(pending);
    if (keys.length === 0) { return; }
    sending = true;
    var next = function (i) {
      if (i >= keys.length) { sending = false; show(); return; }
      var key = keys[i];
      fetch("/visits/record", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: encode(pending[key])
      }).then(function (res) {
        // Stored (or stored before), or refused for good (4xx): either way stop resending.
        if (res.ok || (res.status >= 400 && res.status < 500)) {
          var p = load();
          delete p[key];
          save(p);
        }
        next(i + 1);
      }).catch(function () { sending = false; show(); });
    };
    next(0);
  }

  // The confirmation page names the saved key: drop the local copy.
  var saved = document.getElementById("saved");
  if (saved && saved.dataset.key) {
    var p = load();
    delete p[saved.dataset.key];
    save(p);
  }

  var form = document.getElementById("visit-form");
  if (form) {
    var note = document.getElementById("offline-note");
    var mark = function () { if (note) { note.hidden = navigator.onLine; } };
    mark();
    window.addEventListener("online", mark);
    window.addEventListener("offline", mark);
    form.addEventListener("submit", function (ev) {
      var fields = {};
      var data = new FormData(form);
      data.forEach(function (v, k) { fields[k] = String(v); });
      if (!fields.key) { return; }
      var p = load();
      p[fields.key] = fields;
      save(p);
      if (!navigator.onLine) {
        // Offline: no page can load, so stay here and say where the visit is.
        ev.preventDefault();
        if (note) {
          note.textContent = "当前未联网：本条探访已保存在本机，联网后将自动提交，请勿重复填写。";
          note.hidden = false;
        }
        var btn = form.querySelector("button[type=submit]");
        if (btn) { btn.disabled = true; btn.textContent = "已保存在本机"; }
      }
    });
  }
  window.addEventListener("online", flush);
  show();
  flush();
})();
