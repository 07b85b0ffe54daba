// Care visits: a visit typed with a poor connection is not lost. On submit the form is kept in
// localStorage under its idempotency key and sent with fetch; when the server has it (the page
// it redirects to), the copy is dropped. If the network fails, the copy stays, the page says so,
// and it is sent again every few seconds and whenever the browser comes back online, from any
// visits page — the key makes a repeat harmless. Without JavaScript the form posts as usual.
(function () {
  "use strict";
  var STORE = "yl-visits-pending";
  var RETRY_MS = 5000;

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE) || "{}") || {}; } catch (e) { return {}; }
  }
  function save(p) {
    try { localStorage.setItem(STORE, JSON.stringify(p)); } catch (e) { /* storage full or blocked */ }
  }
  function drop(key) {
    var p = load();
    delete p[key];
    save(p);
  }
  function show() {
    var box = document.getElementById("pending-box");
    var n = Object.keys(load()).length;
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
  function send(fields) {
    return fetch("/visits/record", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: encode(fields)
    });
  }

  var form = document.getElementById("visit-form");
  var note = document.getElementById("offline-note");
  var current = null; // the key of the visit typed on this page, once submitted

  function waiting() {
    if (note) {
      note.textContent = "网络不畅：本条探访已保存在本机，恢复联网后自动提交，请勿重复填写。";
      note.hidden = false;
    }
    var btn = form && form.querySelector("button[type=submit]");
    if (btn) { btn.disabled = true; btn.textContent = "已保存在本机，等待提交"; }
  }

  var sending = false;
  function flush() {
    if (sending) { return; }
    var pending = load();
    var keys = Object.keys(pending);
    if (keys.length === 0) { return; }
    sending = true;
    var next = function (i) {
      if (i >= keys.length) { sending = false; show(); return; }
      var key = keys[i];
      send(pending[key]).then(function (res) {
        if (res.ok) {
          drop(key);
          if (key === current) { window.location.href = res.url; return; }
        } else if (res.status >= 400 && res.status < 500) {
          // Refused for good (e.g. a mistake in the form): stop resending; show it if it is ours.
          drop(key);
          if (key === current && form) { form.submit(); return; }
        }
        next(i + 1);
      }).catch(function () { sending = false; show(); });
    };
    next(0);
  }

  // The confirmation page names the saved key: drop the local copy.
  var saved = document.getElementById("saved");
  if (saved && saved.dataset.key) { drop(saved.dataset.key); }

  if (form && window.fetch) {
    form.addEventListener("submit", function (ev) {
      var fields = {};
      new FormData(form).forEach(function (v, k) { fields[k] = String(v); });
      if (!fields.key) { return; }
      ev.preventDefault();
      var p = load();
      p[fields.key] = fields;
      save(p);
      current = fields.key;
      send(fields).then(function (res) {
        if (res.ok) {
          drop(fields.key);
          window.location.href = res.url;
        } else if (res.status >= 400 && res.status < 500) {
          drop(fields.key);
          form.submit(); // the server's own page says what is wrong
        } else {
          waiting();
        }
      }).catch(function () { waiting(); });
    });
  }
  window.addEventListener("online", flush);
  window.setInterval(flush, RETRY_MS);
  show();
  flush();
})();
