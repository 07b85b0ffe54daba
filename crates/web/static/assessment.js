// Capability assessment entry (GB/T 42195-2022): live subtotal, total and level as items are
// answered; every change saved at once, kept in this browser until the server has it, so a
// dropped connection loses nothing. The page works without this script (a screen is saved when
// the assessor moves on); the script only adds to it.
(function () {
  'use strict';

  var printButton = document.getElementById('print');
  if (printButton) {
    printButton.addEventListener('click', function () { window.print(); });
  }

  var form = document.getElementById('entry');
  var live = document.getElementById('live');
  if (!form || !live) { return; }

  var record = form.dataset.record;
  var saveUrl = form.getAttribute('action');
  var storeKey = 'yanglao-assessment-' + record;
  var stateEl = document.getElementById('save-state');
  var LEVELS = ['0级 能力完好', '1级 能力轻度受损（轻度失能）', '2级 能力中度受损（中度失能）',
    '3级 能力重度受损（重度失能）', '4级 能力完全丧失（完全失能）'];

  // C.3: 90 → 0, 66–89 → 1, 46–65 → 2, 30–45 → 3, 0–29 → 4.
  function levelFromTotal(t) {
    if (t >= 90) { return 0; }
    if (t >= 66) { return 1; }
    if (t >= 46) { return 2; }
    if (t >= 30) { return 3; }
    return 4;
  }

  function halfwidth(s) {
    return s.replace(/[\uFF01-\uFF5E]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xFEE0);
    }).replace(/\u3000/g, ' ');
  }

  function icdCodes(s) {
    return halfwidth(s).toUpperCase().split(/[,，;；、\s]+/).filter(function (c) { return c !== ''; });
  }

  var ICD = /^[A-Z][0-9]{2}(\.?[A-Z0-9*†+]*)?$/;

  function recompute() {
    var total = Number(live.dataset.othersTotal) || 0;
    var answered = Number(live.dataset.othersAnswered) || 0;
    var risk = Number(live.dataset.riskOthers) || 0;
    var coma = live.dataset.comaOthers === '1';
    var mental = live.dataset.mentalOthers === '1';
    var section = 0;
    var sectionAnswered = 0;
    form.querySelectorAll('fieldset.item').forEach(function (fs) {
      var c = fs.querySelector('input[type=radio]:checked');
      if (c) {
        section += Number(c.dataset.score) || 0;
        sectionAnswered += 1;
        if (c.dataset.coma === '1') { coma = true; }
      }
    });
    form.querySelectorAll('input[data-risk]:checked').forEach(function (r) { risk += Number(r.value) || 0; });
    var a511 = form.querySelector('input[name="A.5.11"]:checked');
    if (a511 && a511.value === '有') { coma = true; }
    var icd = form.querySelector('input[data-icd]');
    if (icd && icdCodes(icd.value).some(function (c) { return /^F[0-9]{2}/.test(c); })) { mental = true; }
    total += section;
    answered += sectionAnswered;
    var sec = document.getElementById('live-section');
    if (sec) { sec.textContent = String(section); }
    var items = form.querySelectorAll('fieldset.item').length;
    var tab = document.querySelector('.tabs a[aria-current="page"] .done');
    if (tab && items > 0) { tab.textContent = sectionAnswered + '/' + items; }
    document.getElementById('live-total').textContent = String(total);
    document.getElementById('live-answered').textContent = String(answered);
    var prelim = document.getElementById('live-prelim');
    var fin = document.getElementById('live-final');
    if (answered < 26) {
      prelim.textContent = '—（尚有 ' + (26 - answered) + ' 项未答）';
      fin.textContent = '—';
      return;
    }
    var p = levelFromTotal(total);
    // C.4: coma → 4 and overrides; F00–F99 or ≥2 risk events → one level up, together still one.
    var f = coma ? 4 : Math.min(4, p + ((mental || risk >= 2) ? 1 : 0));
    prelim.textContent = LEVELS[p];
    fin.textContent = LEVELS[f];
  }

  // ---- saving ------------------------------------------------------------------------------

  var pending = {};
  try { pending = JSON.parse(localStorage.getItem(storeKey) || '{}') || {}; } catch (e) { pending = {}; }
  var inflight = false;
  var retryTimer = null;

  function persist() {
    try { localStorage.setItem(storeKey, JSON.stringify(pending)); } catch (e) { /* private mode: memory only */ }
  }

  function count() { return Object.keys(pending).length; }

  function showState(text, offline) {
    if (!stateEl) { return; }
    stateEl.textContent = text;
    stateEl.classList.toggle('offline', !!offline);
  }

  function showError(name, msg) {
    var p = form.querySelector('[data-err-for="' + CSS.escape(name) + '"]');
    if (p) {
      p.textContent = msg || '';
      var box = p.closest('.field, fieldset.item');
      if (box) { box.classList.toggle('invalid', !!msg); }
    } else if (msg) {
      showState(msg, true);
    }
  }

  function inputsOf(name) {
    return Array.prototype.filter.call(form.elements, function (el) { return el.name === name; });
  }

  function valuesOf(name) {
    var els = inputsOf(name);
    if (els.length === 0) { return null; }
    var first = els[0];
    if (first.type === 'checkbox') {
      return { multi: true, values: els.filter(function (e) { return e.checked; }).map(function (e) { return e.value; }) };
    }
    if (first.type === 'radio') {
      var c = els.filter(function (e) { return e.checked; })[0];
      return { multi: false, values: c ? [c.value] : [] };
    }
    return { multi: false, values: [first.value] };
  }

  // Immediate checks the browser can make; the server checks everything again.
  function localError(el) {
    if (el.type === 'number' && el.value !== '') {
      var n = Number(el.value);
      if (isNaN(n) || n < Number(el.min) || n > Number(el.max)) {
        return '应为' + el.min + '～' + el.max + '之间的数';
      }
    }
    if (el.dataset && el.dataset.icd) {
      var bad = icdCodes(el.value).filter(function (c) { return !ICD.test(c); });
      if (bad.length) { return '“' + bad[0] + '”不是有效的ICD-10编码（如 F03、F01.1）'; }
    }
    return '';
  }

  function queue(el) {
    var name = el.name;
    if (!name || name.charAt(0) === '_' || name === 'csrf') { return; }
    var err = localError(el);
    showError(name, err);
    if (err) { return; }
    var v = valuesOf(name);
    if (!v) { return; }
    pending[name] = v;
    persist();
    flush();
  }

  function body(snapshot) {
    var p = new URLSearchParams();
    p.append('_ajax', '1');
    // The console's CSRF token (double submit): the cookie goes by itself, the field goes here.
    var token = form.querySelector('input[name="csrf"]');
    if (token) { p.append('csrf', token.value); }
    Object.keys(snapshot).forEach(function (name) {
      var v = snapshot[name];
      if (v.multi) { p.append('_present', name); }
      if (v.values.length === 0 && !v.multi) { p.append(name, ''); }
      v.values.forEach(function (x) { p.append(name, x); });
    });
    return p;
  }

  function scheduleRetry() {
    if (retryTimer) { return; }
    retryTimer = setTimeout(function () { retryTimer = null; flush(); }, 5000);
  }

  // Sends what is pending, one request at a time so that saves arrive in order. Resolves true
  // when nothing is left to send.
  function flush() {
    if (inflight) { return inflight; }
    if (count() === 0) {
      showState('已保存', false);
      return Promise.resolve(true);
    }
    var snapshot = JSON.parse(JSON.stringify(pending));
    showState('保存中…', false);
    inflight = fetch(saveUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Accept': 'application/json' },
      body: body(snapshot)
    }).then(function (res) {
      if (res.status >= 500) { throw new Error('server'); }
      return res.json().then(function (reply) { return { status: res.status, reply: reply }; });
    }).then(function (r) {
      inflight = false;
      var done = {};
      (r.reply.saved || []).forEach(function (n) { done[n] = true; showError(n, ''); });
      (r.reply.errors || []).forEach(function (e) { done[e[0]] = true; showError(e[0], e[1]); });
      if (r.status === 409) { pending = {}; }
      Object.keys(done).forEach(function (n) {
        if (pending[n] && JSON.stringify(pending[n]) === JSON.stringify(snapshot[n])) { delete pending[n]; }
      });
      persist();
      if (count() > 0) { return flush(); }
      showState((r.reply.errors || []).length ? '部分内容未保存，请按提示修改' : '已保存', (r.reply.errors || []).length > 0);
      return true;
    }).catch(function () {
      inflight = false;
      showState('网络中断：已在本机暂存 ' + count() + ' 项，恢复后自动保存', true);
      scheduleRetry();
      return false;
    });
    return inflight;
  }

  // What this browser still holds from before (a dropped connection, a closed tab) goes back
  // into the fields of this screen and is sent again.
  Object.keys(pending).forEach(function (name) {
    var v = pending[name];
    inputsOf(name).forEach(function (el) {
      if (el.type === 'checkbox' || el.type === 'radio') {
        el.checked = v.values.indexOf(el.value) >= 0;
      } else {
        el.value = v.values[0] || '';
      }
    });
  });

  var timers = {};
  form.addEventListener('change', function (ev) {
    recompute();
    queue(ev.target);
  });
  form.addEventListener('input', function (ev) {
    var el = ev.target;
    if (el.type === 'radio' || el.type === 'checkbox' || el.tagName === 'SELECT') { return; }
    recompute();
    clearTimeout(timers[el.name]);
    timers[el.name] = setTimeout(function () { queue(el); }, 700);
  });

  function go(url, ev) {
    if (count() === 0 && !inflight) { return; }
    ev.preventDefault();
    flush().then(function (ok) {
      if (ok && count() === 0) { window.location.href = url; }
    });
  }

  document.querySelectorAll('.tabs a').forEach(function (a) {
    a.addEventListener('click', function (ev) { go(a.href, ev); });
  });
  form.addEventListener('submit', function (ev) {
    var to = ev.submitter && ev.submitter.value;
    if (to !== undefined && to !== '') {
      go('/assessments/records/' + record + '/entry?s=' + encodeURIComponent(to), ev);
    }
  });
  var submitForm = document.getElementById('submit-form');
  if (submitForm) {
    submitForm.addEventListener('submit', function (ev) {
      if (count() === 0 && !inflight) { return; }
      ev.preventDefault();
      flush().then(function (ok) { if (ok && count() === 0) { submitForm.submit(); } });
    });
  }
  window.addEventListener('online', function () { flush(); });

  recompute();
  flush();
}());
