// Floodgate's dashboard: polls ./data every second and draws it. Same-origin only; no inline code, no third parties.
(function () {
  'use strict';
  var outcomes = ['allowed', 'rate_limited', 'cooldown', 'blocked', 'blacklisted', 'denylisted', 'allowlisted'];
  var refusals = ['rate_limited', 'cooldown', 'blocked', 'blacklisted', 'denylisted'];
  var history = {};   // policy -> refusals per second, the last 60 samples
  var previous = null;

  function $(selector, root) { return (root || document).querySelector(selector); }

  function cell(row, text, className) {
    var td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function rate(value) { return value >= 10 ? Math.round(value).toString() : value.toFixed(1).replace(/\.0$/, ''); }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return 'forever';
    seconds = Math.max(0, Math.round(seconds));
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    var parts = [];
    if (d) parts.push(d + 'd');
    if (h) parts.push(h + 'h');
    if (m) parts.push(m + 'm');
    if (s || parts.length === 0) parts.push(s + 's');
    return parts.join(' ');
  }

  function spark(values) {
    var ns = 'http://www.w3.org/2000/svg', svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 60 24');
    svg.setAttribute('preserveAspectRatio', 'none');
    var base = document.createElementNS(ns, 'line');
    base.setAttribute('x1', '0'); base.setAttribute('x2', '60'); base.setAttribute('y1', '23.5'); base.setAttribute('y2', '23.5');
    svg.appendChild(base);
    var max = Math.max.apply(null, values.concat([1]));
    var line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', values.map(function (v, i) { return (60 - values.length + i) + ',' + (23 - 22 * v / max).toFixed(1); }).join(' '));
    svg.appendChild(line);
    return svg;
  }

  function fill(tbody, rows, columns, empty) {
    tbody.textContent = '';
    if (rows.length === 0) {
      var tr = document.createElement('tr');
      var td = cell(tr, empty, 'empty');
      td.colSpan = columns;
      tbody.appendChild(tr);
    }
    rows.forEach(function (tr) { tbody.appendChild(tr); });
  }

  function decisionsRow(name, decisions, seconds, limit, mode, extra) {
    var tr = document.createElement('tr');
    tr.dataset.policy = name;
    var title = cell(tr, name);
    if (mode === 'Shadow') {
      var tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = 'shadow';
      title.appendChild(tag);
    }
    if (extra) {
      var shared = document.createElement('span');
      shared.className = 'tag';
      shared.textContent = extra;
      title.appendChild(shared);
    }
    cell(tr, limit);
    var last = previous && previous.counts[name];
    var refused = 0;
    outcomes.forEach(function (outcome) {
      var now = decisions[outcome] || 0;
      var perSecond = last && seconds > 0 ? Math.max(0, now - (last[outcome] || 0)) / seconds : 0;
      if (refusals.indexOf(outcome) >= 0) refused += perSecond;
      var td = cell(tr, rate(perSecond), 'num ' + outcome + (perSecond > 0 && outcome !== 'allowed' && outcome !== 'allowlisted' ? ' hot' : ''));
      td.title = now + ' since start';
      td.dataset.total = String(now);
    });
    var series = history[name] || (history[name] = []);
    if (seconds > 0) series.push(refused);
    if (series.length > 60) series.shift();
    cell(tr, '').appendChild(spark(series.length ? series : [0]));
    return tr;
  }

  function act(method, url, done) {
    fetch(url, { method: method, credentials: 'same-origin', headers: { 'X-Floodgate-Dashboard': '1' } })
      .then(function (r) { $('#action').textContent = r.ok ? done : 'Failed: ' + r.status; refresh(); })
      .catch(function () { $('#action').textContent = 'Failed: the app did not answer.'; });
  }

  function render(data) {
    var at = Date.parse(data.at);
    var seconds = previous ? (at - previous.at) / 1000 : 0;
    var counts = {};

    var mode = $('#mode');
    mode.textContent = data.mode === 'Shadow' ? 'app in shadow mode' : 'enforcing';
    mode.className = 'badge ' + (data.mode === 'Shadow' ? 'shadow' : 'ok');
    var redis = $('#redis');
    redis.textContent = data.redis === 'off' ? 'in process' : 'Redis ' + data.redis;
    redis.className = 'badge ' + (data.redis === 'unavailable' ? 'bad' : 'ok');

    var rows = data.policies.map(function (p) {
      counts[p.name] = p.decisions;
      return decisionsRow(p.name, p.decisions, seconds, p.permitLimit + ' / ' + duration(p.windowSeconds), p.mode, p.shared ? 'Redis' : null);
    });
    if (data.global) {
      counts['(global)'] = data.global.decisions;
      rows.push(decisionsRow('(global)', data.global.decisions, seconds, data.global.permitLimit + ' / ' + duration(data.global.windowSeconds), null, null));
    }
    fill($('#policies tbody'), rows, 10, 'No policies.');

    fill($('#top tbody'), data.top.map(function (c) {
      var tr = document.createElement('tr');
      tr.dataset.client = c.client;
      cell(tr, c.client); cell(tr, c.policy); cell(tr, String(c.refusals), 'num');
      return tr;
    }), 3, 'Nobody has been refused.');

    fill($('#banned tbody'), data.banned.map(function (b) {
      var tr = document.createElement('tr');
      tr.dataset.client = b.client;
      tr.dataset.policy = b.policy;
      cell(tr, b.client); cell(tr, b.policy);
      cell(tr, b.blacklisted ? 'blacklisted' : 'blocked', b.blacklisted ? 'hot' : '');
      cell(tr, String(b.blockCount), 'num');
      cell(tr, b.blacklisted ? 'until lifted' : duration(b.secondsLeft), 'num');
      var button = document.createElement('button');
      button.type = 'button';
      button.textContent = b.blacklisted ? 'Unblacklist' : 'Unblock';
      button.addEventListener('click', function () {
        button.disabled = true;
        var url = 'clients/' + encodeURIComponent(b.id) + (b.blacklisted ? '/blacklist' : '/unblock');
        act(b.blacklisted ? 'DELETE' : 'POST', url, (b.blacklisted ? 'Unblacklisted ' : 'Unblocked ') + b.client + '.');
      });
      cell(tr, '').appendChild(button);
      return tr;
    }), 6, 'Nobody is blocked.');

    ['issued', 'solved', 'refused'].forEach(function (field) {
      $('#challenge [data-field="' + field + '"]').textContent = data.challenge ? String(data.challenge[field]) : 'off';
    });

    previous = { at: at, counts: counts };
    var status = $('#status');
    status.textContent = 'updated ' + new Date(at).toLocaleTimeString();
    status.className = 'status';
  }

  function refresh() {
    fetch('data', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(render)
      .catch(function (e) { var s = $('#status'); s.textContent = 'not updating (' + e.message + ')'; s.className = 'status bad'; });
  }

  refresh();
  setInterval(refresh, 1000);
})();
