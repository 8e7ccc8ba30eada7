// stampede live dashboard (`stampede run SCRIPT --ui HOST:PORT`): one page, no
// framework, served by src/ui/ with
//   default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;
//   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'
// so nothing here is inline, evaluated or fetched from elsewhere. Every string
// of the run (request names, error types, threshold expressions, the script
// path...) may be hostile: the DOM is built with createElement, textContent
// and setAttribute only — never innerHTML, outerHTML, insertAdjacentHTML or
// document.write. Styles change through CSSOM properties only (allowed by
// style-src 'self'; a style attribute in markup would not be).
//
// Server contract (src/ui/):
//   GET  api/run      {run_id, script|null, target|null, started_unix_ms,
//                     total_duration_s|null, scenarios [{name, executor}],
//                     thresholds [{metric, expr}], token_required,
//                     trace_url_template|null}
//   GET  api/stream   server-sent events: `history` (JSON array of the ticks so
//                     far, on every connect), `tick` (one a second), `end`
//                     ({outcome, exit_code}; the stream then closes and the page
//                     does not reconnect)
//   GET  api/exemplars?from=MS&to=MS  {available, source, waterfalls, requests [{trace_id,
//                     span_id, name, method, status, t, duration_ms, total_ms, trace_url?}]}
//   GET  api/trace/ID?span=SPAN  {request, trace} (trace_view.js's shapes), or 404 {error}
//   POST api/control  {"action": "pause"|"resume"|"stop"} or
//                     {"action": "set_vus"|"set_rate", "scenario", "value"}, header
//                     X-Stampede-Token when token_required; answers {ok:true}
//                     or {error} with 400/401/403/409
//   tick = {t (unix ms), elapsed_s, vus, vus_max, rps, fails_per_s,
//           iterations_per_s, dropped_iterations, latency_ms {p50,p95,p99,max}|null,
//           names [{name, method, reqs, fails, rps, avg, p50, p95, p99, max}],
//           errors {type: count}, checks {passes, fails},
//           thresholds [{metric, expr, ok}], spans {exported, dropped}|null,
//           progress {fraction|null, time_left_s|null}, paused, steering [{t, action, value}]}
//
// Stable hooks for tests (tests/e2e/ui_browser_test.js):
//   <html data-ready="true">       api/run answered and the charts exist
//   <html data-state="...">        connecting | running | paused | finished | lost
//   <html data-ticks="N">          ticks received so far (history included)
//   #run-title, #run-meta          run id; script, target, scenarios
//   #run-state [data-testid=run-state]  badge text: running / paused / finished: OUTCOME
//   #progress, #progress-fill, #progress-text   progress bar (data-fraction) and time left
//   #btn-pause, #btn-resume, #btn-stop  controls (Stop asks confirm()); #token when
//                                  token_required (kept in memory, sent as X-Stampede-Token)
//   #status                        status line; data-kind = info | error | done
//   #total-reqs                    requests since start (sum of names[].reqs), data-value
//   #card-vus #card-rps #card-fails #card-p95 #dropped-iterations
//   #spans-exported #spans-dropped #checks-rate #checks-counts
//   #chart-vus, #chart-rps, #chart-latency   figure > .plot > uPlot (canvas); a click on
//                                  the latency chart opens that point's exemplars
//   #progress-stages               span.stage[data-scenario][data-stage] per running scenario
//   #exemplars-section, #exemplars-table   the slowest sampled requests of the clicked point
//                                  (tbody tr.exemplar[data-trace-id][data-span-id], a.trace-out
//                                  when --trace-url-template, button.open-trace when the run
//                                  store keeps waterfalls); #exemplars-hint; data-from/data-to
//   #trace-section, #trace         the request's waterfall (src/report/html/trace_view.js);
//                                  <html data-trace="ID"> once drawn
//   #names-table                   th[data-key] (click sorts, aria-sort), tbody tr[data-name]
//                                  [data-method], td[data-key]; tfoot #names-total (totals)
//   #thresholds-table              tr.threshold[data-metric][data-expr][data-ok=true|false|]
//                                  [data-ever-failed]
//   #errors-table                  tr[data-type]
//   #scenarios-table               tr[data-scenario][data-executor]; steerable rows hold
//                                  input.steer-value and button.steer-set[data-action]
//                                  (set_vus | set_rate)
//   #steering-table                one tr[data-action] per steering entry (time, action,
//                                  value, by: the peer the server names, if any)
//   window.stampedeUi              {run, state, charts: {vus, rps, latency} (uPlot instances),
//                                  series (the arrays they draw)}
(function () {
  'use strict';

  var MAX_POINTS = 3600;  // the last hour at one point a second
  var MAX_RECONNECTS = 5;  // consecutive failed reconnects before giving up
  var state = {
    run: null, ticks: 0, last: null, ended: null, phase: 'connecting', source: null,
    sort: {key: 'reqs', dir: -1}, rows: new Map(), order: '', thresholdRows: new Map(),
    errorRows: new Map(), steeringCount: 0, everFailed: new Set(), busy: false,
  };
  // Chart data: x in unix seconds (uPlot's time scale), nulls for gaps.
  var series = {t: [], vus: [], rps: [], fails: [], p50: [], p95: [], p99: []};
  var charts = {};
  window.stampedeUi = {state: state, series: series, charts: charts, run: null};
  // For tests: the exemplars of the chart's point idx (what a click does).
  window.stampedeUi.exemplarsAt = function (idx) { exemplarsAt(idx); };

  // ---------------------------------------------------------------- DOM ---
  function byId(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        node.setAttribute(k, v === true ? '' : String(v));
      });
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function setText(node, text) {
    text = String(text);
    if (node.textContent !== text) node.textContent = text;
  }
  function setAttr(node, k, v) {
    v = String(v);
    if (node.getAttribute(k) !== v) node.setAttribute(k, v);
  }

  // ------------------------------------------------------------- format ---
  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function fmtInt(v) { return isNum(v) ? Math.round(v).toLocaleString('en-US') : '–'; }
  function fmtRate(v) {
    if (!isNum(v)) return '–';
    return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  }
  function fmtMs(v) {
    if (!isNum(v)) return '–';
    if (v >= 10000) return (v / 1000).toFixed(1) + ' s';
    if (v >= 100) return v.toFixed(0) + ' ms';
    if (v >= 10) return v.toFixed(1) + ' ms';
    return v.toFixed(2) + ' ms';
  }
  function fmtDuration(s) {
    if (!isNum(s)) return '–';
    s = Math.max(0, Math.round(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + 'h' : '') + (h || m ? m + 'm' : '') + r + 's';
  }
  function fmtClock(unixMs) {
    if (!isNum(unixMs)) return '–';
    var d = new Date(unixMs);
    function p(n) { return (n < 10 ? '0' : '') + n; }
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  function status(text, kind) {
    var s = byId('status');
    setText(s, text);
    s.className = 'status' + (kind && kind !== 'info' ? ' ' + kind : '');
    setAttr(s, 'data-kind', kind || 'info');
  }

  // ------------------------------------------------------------- header ---
  function renderRun(run) {
    setText(byId('run-title'), 'run ' + (run.run_id || '?'));
    document.title = 'stampede — ' + (run.script || run.run_id || 'live');
    var meta = byId('run-meta');
    while (meta.firstChild) meta.removeChild(meta.firstChild);
    function row(k, v) {
      if (v === null || v === undefined || v === '') return;
      meta.appendChild(el('dt', null, k));
      meta.appendChild(el('dd', {'data-key': k}, v));
    }
    row('script', run.script);
    row('target', run.target);
    row('started', isNum(run.started_unix_ms) ? new Date(run.started_unix_ms).toLocaleString() : null);
    row('duration', isNum(run.total_duration_s) ? fmtDuration(run.total_duration_s) : 'open-ended');
    var sc = (run.scenarios || []).map(function (s) { return s.name + ' (' + s.executor + ')'; });
    row(sc.length > 1 ? 'scenarios' : 'scenario', sc.join(', '));
    byId('token-box').hidden = !run.token_required;
    (run.thresholds || []).forEach(function (th) { thresholdRow(th.metric, th.expr); });
    renderScenarios(run);
    byId('thresholds-empty').hidden = state.thresholdRows.size > 0;
  }

  function setPhase(phase, badgeText, badgeClass) {
    state.phase = phase;
    setAttr(document.documentElement, 'data-state', phase);
    var b = byId('run-state');
    setText(b, badgeText || phase);
    var cls = 'badge ' + phase + (badgeClass ? ' ' + badgeClass : '');
    if (b.className !== cls) b.className = cls;
    updateButtons();
  }

  function updateButtons() {
    var phase = state.phase;
    var live = phase === 'running' || phase === 'paused';
    byId('btn-pause').hidden = phase === 'paused';
    byId('btn-resume').hidden = phase !== 'paused';
    byId('btn-pause').disabled = !live || state.busy;
    byId('btn-resume').disabled = !live || state.busy;
    byId('btn-stop').disabled = !live || state.busy;
  }

  function renderProgress(tick) {
    var p = tick.progress || {};
    var bar = byId('progress');
    var fill = byId('progress-fill');
    var parts = ['elapsed ' + fmtDuration(tick.elapsed_s)];
    if (isNum(p.fraction)) {
      var f = Math.max(0, Math.min(1, p.fraction));
      bar.classList.remove('indeterminate');
      var w = (f * 100).toFixed(1) + '%';
      if (fill.style.width !== w) fill.style.width = w;  // CSSOM: allowed by style-src 'self'
      setAttr(bar, 'aria-valuenow', Math.round(f * 100));
      setAttr(bar, 'data-fraction', f.toFixed(4));
      parts.push(Math.round(f * 100) + '%');
    } else {
      bar.classList.add('indeterminate');
      setAttr(bar, 'data-fraction', '');
    }
    if (isNum(p.time_left_s)) parts.push(fmtDuration(p.time_left_s) + ' left');
    setText(byId('progress-text'), parts.join(' · '));
    renderStages(p.stages || []);
  }

  // "ramp: stage 2/3 → 50 VUs (12s left)" per scenario running now.
  function renderStages(stages) {
    var box = byId('progress-stages');
    var key = JSON.stringify(stages.map(function (s) {
      return [s.scenario, s.stage, Math.round(s.stage_left_s || s.left_s)];
    }));
    if (box.getAttribute('data-key') === key) return;
    box.setAttribute('data-key', key);
    while (box.firstChild) box.removeChild(box.firstChild);
    stages.forEach(function (s, i) {
      var text = s.scenario + ': ' + (isNum(s.stage)
        ? 'stage ' + s.stage + '/' + s.stages + ' → ' + fmtInt(s.target) + ' ' + s.unit +
          ' (' + fmtDuration(s.stage_left_s) + ' left)'
        : s.executor + ' (' + fmtDuration(s.left_s) + ' left)');
      if (i > 0) box.appendChild(document.createTextNode(' · '));
      box.appendChild(el('span', {class: 'stage', 'data-scenario': s.scenario,
        'data-stage': isNum(s.stage) ? s.stage : ''}, text));
    });
  }

  // -------------------------------------------------------------- cards ---
  function renderCards(tick) {
    var total = 0, fails = 0;
    (tick.names || []).forEach(function (n) {
      total += isNum(n.reqs) ? n.reqs : 0;
      fails += isNum(n.fails) ? n.fails : 0;
    });
    setText(byId('card-vus'), fmtInt(tick.vus));
    setText(byId('card-vus-max'), isNum(tick.vus_max) ? 'max ' + fmtInt(tick.vus_max) : '');
    setText(byId('card-rps'), fmtRate(tick.rps));
    setText(byId('card-iters'), isNum(tick.iterations_per_s) ?
      fmtRate(tick.iterations_per_s) + ' iterations/s' : '');
    setText(byId('card-fails'), fmtRate(tick.fails_per_s));
    byId('card-fails').classList.toggle('bad-text', tick.fails_per_s > 0);
    setText(byId('card-fail-total'), fmtInt(fails) + ' failed since start');
    var t = byId('total-reqs');
    setText(t, fmtInt(total));
    setAttr(t, 'data-value', total);
    var lat = tick.latency_ms;
    setText(byId('card-p95'), lat ? fmtMs(lat.p95) : '–');
    setText(byId('card-p99'), lat ? 'p99 ' + fmtMs(lat.p99) + ' · max ' + fmtMs(lat.max) : '');
    var d = byId('dropped-iterations');
    setText(d, fmtInt(tick.dropped_iterations || 0));
    setAttr(d, 'data-value', tick.dropped_iterations || 0);
    d.classList.toggle('bad-text', tick.dropped_iterations > 0);
    var sp = tick.spans;
    var se = byId('spans-exported'), sd = byId('spans-dropped');
    if (sp) {
      setText(se, fmtInt(sp.exported));
      setText(sd, 'exported · ' + fmtInt(sp.dropped) + ' dropped');
      setAttr(se, 'data-value', sp.exported);
      setAttr(sd, 'data-value', sp.dropped);
      sd.classList.toggle('bad-text', sp.dropped > 0);
    } else {
      setText(se, 'off');
      setText(sd, 'no span exporter');
      setAttr(se, 'data-value', '');
      setAttr(sd, 'data-value', '');
    }
    var ch = tick.checks || {passes: 0, fails: 0};
    var n = (ch.passes || 0) + (ch.fails || 0);
    var cr = byId('checks-rate');
    setText(cr, n ? (100 * (ch.passes || 0) / n).toFixed(n > 1000 ? 2 : 1) + '%' : '–');
    cr.classList.toggle('bad-text', (ch.fails || 0) > 0);
    var cc = byId('checks-counts');
    setText(cc, fmtInt(ch.passes || 0) + ' passed · ' + fmtInt(ch.fails || 0) + ' failed');
    setAttr(cc, 'data-passes', ch.passes || 0);
    setAttr(cc, 'data-fails', ch.fails || 0);
  }

  // --------------------------------------------------------- names table ---
  var COLUMNS = [
    {key: 'name', label: 'name', text: true, fmt: String, cls: 'name'},
    {key: 'method', label: 'method', text: true, fmt: function (v) { return v || ''; }},
    {key: 'reqs', label: 'requests', fmt: fmtInt},
    {key: 'fails', label: 'fails', fmt: fmtInt},
    {key: 'fail_pct', label: 'fail %', fmt: function (v) { return isNum(v) ? v.toFixed(2) + '%' : '–'; }},
    {key: 'rps', label: 'req/s', fmt: fmtRate},
    {key: 'avg', label: 'avg', fmt: fmtMs},
    {key: 'p50', label: 'p50', fmt: fmtMs},
    {key: 'p95', label: 'p95', fmt: fmtMs},
    {key: 'p99', label: 'p99', fmt: fmtMs},
    {key: 'max', label: 'max', fmt: fmtMs},
  ];

  function buildNamesHead() {
    var tr = byId('names-table').tHead.rows[0];
    COLUMNS.forEach(function (c) {
      var th = el('th', {'data-key': c.key, class: 'sortable' + (c.text ? '' : ' num'),
        tabindex: 0, scope: 'col', 'aria-sort': 'none'}, c.label);
      function sortBy() {
        if (state.sort.key === c.key) state.sort.dir = -state.sort.dir;
        else state.sort = {key: c.key, dir: c.text ? 1 : -1};  // numbers: largest first
        state.order = '';
        renderNames(state.last ? state.last.names : []);
      }
      th.addEventListener('click', sortBy);
      th.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(); }
      });
      tr.appendChild(th);
    });
    renderSortHeads();
  }

  function renderSortHeads() {
    var ths = byId('names-table').tHead.rows[0].cells;
    for (var i = 0; i < ths.length; i++) {
      var on = ths[i].getAttribute('data-key') === state.sort.key;
      ths[i].classList.toggle('sorted', on);
      setAttr(ths[i], 'aria-sort', on ? (state.sort.dir > 0 ? 'ascending' : 'descending') : 'none');
    }
  }

  function rowKey(n) { return (n.method || '') + ' ' + n.name; }

  function compare(a, b) {
    var k = state.sort.key, dir = state.sort.dir;
    var col = COLUMNS.find(function (c) { return c.key === k; });
    var va = a[k], vb = b[k], r;
    if (col && col.text) {
      r = String(va === null || va === undefined ? '' : va).localeCompare(
        String(vb === null || vb === undefined ? '' : vb));
    } else {
      // Missing values sort below every number, whichever the direction.
      var na = isNum(va), nb = isNum(vb);
      if (!na || !nb) return na === nb ? tieBreak(a, b) : (na ? -1 : 1);
      r = va - vb;
    }
    return r * dir || tieBreak(a, b);
  }
  function tieBreak(a, b) {
    return String(a.name).localeCompare(String(b.name)) ||
      String(a.method || '').localeCompare(String(b.method || ''));
  }

  function renderNames(names) {
    var tbody = byId('names-table').tBodies[0];
    var seen = new Set();
    var rows = (names || []).map(function (n) {
      var r = Object.assign({}, n);
      r.fail_pct = isNum(n.reqs) && n.reqs > 0 && isNum(n.fails) ? 100 * n.fails / n.reqs : null;
      return r;
    });
    rows.forEach(function (r) {
      var key = rowKey(r);
      seen.add(key);
      var entry = state.rows.get(key);
      if (!entry) {
        var tr = el('tr', {'data-name': r.name, 'data-method': r.method || ''});
        var cells = {};
        COLUMNS.forEach(function (c) {
          var td = el('td', {'data-key': c.key, class: c.cls || (c.text ? 'mono' : 'num') +
            (c.key === 'fails' || c.key === 'fail_pct' ? ' fails' : '')});
          cells[c.key] = td;
          tr.appendChild(td);
        });
        entry = {tr: tr, cells: cells};
        state.rows.set(key, entry);
        state.order = '';
      }
      COLUMNS.forEach(function (c) { setText(entry.cells[c.key], c.fmt(r[c.key])); });
      entry.tr.classList.toggle('has-fails', r.fails > 0);
    });
    state.rows.forEach(function (entry, key) {
      if (!seen.has(key)) {
        if (entry.tr.parentNode) entry.tr.parentNode.removeChild(entry.tr);
        state.rows.delete(key);
        state.order = '';
      }
    });
    rows.sort(compare);
    var order = JSON.stringify(rows.map(rowKey));
    if (order !== state.order) {
      // Re-appending moves existing rows: no row is rebuilt.
      rows.forEach(function (r) { tbody.appendChild(state.rows.get(rowKey(r)).tr); });
      state.order = order;
    }
    renderSortHeads();
    byId('names-empty').hidden = rows.length > 0;
  }

  // Locust's "Aggregated" line: totals over every name.
  function renderNamesTotal(tick) {
    var tr = byId('names-total');
    if (!tr.cells.length) {
      COLUMNS.forEach(function (c) {
        tr.appendChild(el('td', {'data-key': c.key, class: c.text ? 'mono' : 'num'}));
      });
    }
    var reqs = 0, fails = 0;
    (tick.names || []).forEach(function (n) {
      reqs += isNum(n.reqs) ? n.reqs : 0;
      fails += isNum(n.fails) ? n.fails : 0;
    });
    // Latency is left out: the names' percentiles cover the whole run, the
    // tick's only its last second, and they do not merge here.
    var v = {name: 'Aggregated', method: '', reqs: reqs, fails: fails,
      fail_pct: reqs ? 100 * fails / reqs : null, rps: tick.rps};
    COLUMNS.forEach(function (c, i) { setText(tr.cells[i], c.fmt(v[c.key])); });
    tr.parentNode.hidden = !(tick.names && tick.names.length > 1);
  }

  // ---------------------------------------------------------- thresholds ---
  function thresholdRow(metric, expr) {
    var key = metric + '\u0000' + expr;
    var entry = state.thresholdRows.get(key);
    if (entry) return entry;
    var pill = el('span', {class: 'pill'}, 'pending');
    var tr = el('tr', {class: 'threshold', 'data-metric': metric, 'data-expr': expr, 'data-ok': ''});
    tr.appendChild(el('td', {class: 'mono'}, metric));
    tr.appendChild(el('td', {class: 'mono'}, expr));
    var td = el('td');
    td.appendChild(pill);
    tr.appendChild(td);
    byId('thresholds-table').tBodies[0].appendChild(tr);
    entry = {tr: tr, pill: pill};
    state.thresholdRows.set(key, entry);
    return entry;
  }

  function renderThresholds(tick) {
    (tick.thresholds || []).forEach(function (th) {
      var entry = thresholdRow(th.metric, th.expr);
      var key = th.metric + '\u0000' + th.expr;
      var ok = th.ok === true ? 'true' : th.ok === false ? 'false' : '';
      if (ok === 'false' && !state.everFailed.has(key)) {
        state.everFailed.add(key);
        entry.tr.setAttribute('data-ever-failed', fmtDuration(tick.elapsed_s));
        entry.pill.title = 'first failed at ' + fmtDuration(tick.elapsed_s);
      }
      setAttr(entry.tr, 'data-ok', ok);
      entry.tr.className = 'threshold' + (ok === 'true' ? ' good' : ok === 'false' ? ' bad' : '');
      entry.pill.className = 'pill' + (ok === 'true' ? ' good' : ok === 'false' ? ' bad' : '');
      var text = ok === 'true' ? (state.everFailed.has(key) ? 'passing (failed before)' : 'passing')
        : ok === 'false' ? 'failing' : 'no data';
      setText(entry.pill, text);
    });
    byId('thresholds-empty').hidden = state.thresholdRows.size > 0;
  }

  // ------------------------------------------------------ errors, steering ---
  function renderErrors(errors) {
    var tbody = byId('errors-table').tBodies[0];
    var types = Object.keys(errors || {});
    types.sort(function (a, b) { return (errors[b] - errors[a]) || a.localeCompare(b); });
    var changedOrder = false;
    types.forEach(function (type) {
      var entry = state.errorRows.get(type);
      if (!entry) {
        var tr = el('tr', {'data-type': type});
        var name = el('td', {class: 'mono'}, type);
        var count = el('td', {class: 'num'});
        tr.appendChild(name);
        tr.appendChild(count);
        entry = {tr: tr, count: count, order: -1};
        state.errorRows.set(type, entry);
      }
      setText(entry.count, fmtInt(errors[type]));
    });
    state.errorRows.forEach(function (entry, type) {
      if (!(type in (errors || {}))) {
        if (entry.tr.parentNode) tbody.removeChild(entry.tr);
        state.errorRows.delete(type);
      }
    });
    types.forEach(function (type, i) {
      var entry = state.errorRows.get(type);
      if (entry.order !== i || !entry.tr.parentNode) changedOrder = true;
      entry.order = i;
    });
    if (changedOrder) types.forEach(function (t) { tbody.appendChild(state.errorRows.get(t).tr); });
    byId('errors-empty').hidden = types.length > 0;
  }

  function renderSteering(log) {
    log = log || [];
    if (log.length === state.steeringCount) return;
    var tbody = byId('steering-table').tBodies[0];
    if (log.length < state.steeringCount) {
      while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
      state.steeringCount = 0;
    }
    for (var i = state.steeringCount; i < log.length; i++) {
      var s = log[i] || {};
      var tr = el('tr', {'data-action': s.action});
      tr.appendChild(el('td', {class: 'num'}, fmtClock(s.t)));
      tr.appendChild(el('td', {class: 'mono'}, s.action));
      tr.appendChild(el('td', {class: 'mono'},
        s.value === null || s.value === undefined ? '' :
          typeof s.value === 'object' ? JSON.stringify(s.value) : s.value));
      tr.appendChild(el('td', {class: 'mono'}, s.peer || ''));
      tbody.appendChild(tr);
    }
    state.steeringCount = log.length;
    byId('steering-empty').hidden = log.length > 0;
  }

  // -------------------------------------------------------------- charts ---
  var COLORS = {vus: '#7c3aed', rps: '#2563eb', fails: '#dc2626', p50: '#16a34a',
    p95: '#d97706', p99: '#dc2626'};

  function plotWidth(fig) {
    var plot = fig.querySelector('.plot');
    return Math.max(280, Math.floor(plot.getBoundingClientRect().width || 460));
  }

  function makeChart(id, unit, lines, data) {
    var fig = byId('chart-' + id);
    var opts = {
      width: plotWidth(fig),
      height: 220,
      scales: {x: {time: true}, y: {range: function (u, min, max) {
        return [0, max > 0 ? max * 1.1 : 1];
      }}},
      axes: [{}, {label: unit, labelSize: 18, size: 56}],
      series: [{label: 'time'}].concat(lines.map(function (l) {
        return {label: l.label, stroke: l.color, width: 1.5, spanGaps: false,
          fill: l.fill || undefined,
          value: function (u, v) { return v === null || v === undefined ? '–' : l.fmt(v); }};
      })),
      legend: {live: true},
      cursor: {sync: {key: 'stampede-live'}, drag: {x: false, y: false}},
    };
    var u = new uPlot(opts, data, fig.querySelector('.plot'));
    charts[id] = u;
    return u;
  }

  // ----------------------------------------------------------- exemplars ---
  // A point on the latency chart covers (previous tick, this tick]: the
  // server lists the slowest sampled requests that ended in it.
  function exemplarsAt(idx) {
    if (idx === null || idx === undefined || idx < 0 || idx >= series.t.length) return;
    var to = Math.round(series.t[idx] * 1000);
    var from = idx > 0 ? Math.round(series.t[idx - 1] * 1000) : to - 1000;
    openExemplars(from, to);
  }

  function openExemplars(from, to) {
    var section = byId('exemplars-section');
    section.hidden = false;
    setAttr(section, 'data-from', from);
    setAttr(section, 'data-to', to);
    setAttr(section, 'data-state', 'loading');
    setText(byId('exemplars-when'), 'ending ' + fmtClock(to));
    fetch('api/exemplars?from=' + from + '&to=' + to, {cache: 'no-store'})
      .then(function (res) {
        return res.json().then(function (body) {
          if (!res.ok) throw new Error(body && body.error || res.statusText);
          return body;
        });
      })
      .then(function (body) { renderExemplars(body, to); })
      .catch(function (e) {
        setAttr(section, 'data-state', 'error');
        setText(byId('exemplars-hint'), 'cannot list the requests: ' + e.message);
      });
    section.scrollIntoView({block: 'nearest'});
  }

  function renderExemplars(body, to) {
    var section = byId('exemplars-section');
    var tbody = byId('exemplars-table').tBodies[0];
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    var list = body.requests || [];
    var hint;
    if (!body.available) {
      hint = 'This run records no spans (--no-store without --otel), so there are no exemplars.';
    } else if (!list.length) {
      hint = Date.now() - to < 15000
        ? 'No sampled request of this second has arrived yet: spans come in batches, click again in a few seconds.'
        : 'No sampled request ended in this second.';
    } else {
      hint = 'The ' + list.length + ' slowest sampled requests that ended in this second (' +
        (body.source === 'exported' ? 'spans the collector accepted' : 'spans the run store recorded') +
        ')' + (body.waterfalls ? '; click one for its waterfall.' : '.');
    }
    setText(byId('exemplars-hint'), hint);
    byId('exemplars-table').hidden = !list.length;
    list.forEach(function (r) {
      var ended = new Date(r.t);
      var link = typeof r.trace_url === 'string' && /^https?:\/\//i.test(r.trace_url)
        ? el('a', {href: r.trace_url, class: 'trace-out mono', target: '_blank',
          rel: 'noopener noreferrer'}, r.trace_id)
        : el('span', {class: 'mono'}, r.trace_id);
      var tr = el('tr', {class: 'exemplar', 'data-trace-id': r.trace_id, 'data-span-id': r.span_id,
        tabindex: body.waterfalls ? '0' : null});
      tr.appendChild(el('td', {class: 'num'}, fmtClock(r.t) + '.' +
        String(ended.getMilliseconds() + 1000).slice(1)));
      tr.appendChild(el('td', {class: 'mono name'}, r.name));
      tr.appendChild(el('td', null, r.method));
      tr.appendChild(el('td', {class: r.status >= 400 || !r.status ? 'bad-text' : null},
        r.status ? String(r.status) : 'no response'));
      tr.appendChild(el('td', {class: 'num'}, fmtMs(r.duration_ms)));
      var td = el('td');
      td.appendChild(link);
      tr.appendChild(td);
      var act = el('td');
      if (body.waterfalls) {
        var b = el('button', {type: 'button', class: 'open-trace'}, 'waterfall');
        act.appendChild(b);
        tr.addEventListener('click', function (e) {
          if (e.target && e.target.tagName === 'A') return;
          openTrace(r);
        });
        tr.addEventListener('keydown', function (e) { if (e.key === 'Enter') openTrace(r); });
      }
      tr.appendChild(act);
      tbody.appendChild(tr);
    });
    setAttr(section, 'data-state', 'ready');
    setAttr(section, 'data-count', list.length);
  }

  // The store commits a second a few seconds after it ends: a trace not in
  // it yet is asked for again, up to TRACE_RETRIES times, while the page says so.
  var TRACE_RETRIES = 10;
  function openTrace(r, attempt) {
    attempt = attempt || 0;
    var section = byId('trace-section');
    var box = byId('trace');
    section.hidden = false;
    setText(byId('trace-title'), r.trace_id);
    state.traceWanted = r.span_id;
    if (!attempt) {
      while (box.firstChild) box.removeChild(box.firstChild);
      box.appendChild(el('p', {class: 'hint'}, 'loading…'));
    }
    fetch('api/trace/' + encodeURIComponent(r.trace_id) + '?span=' + encodeURIComponent(r.span_id),
      {cache: 'no-store'})
      .then(function (res) {
        return res.json().then(function (body) {
          if (res.status === 404 && attempt < TRACE_RETRIES && body && body.error &&
              /not in the run store yet/.test(body.error)) {
            return {retry: body.error};
          }
          if (!res.ok) throw new Error(body && body.error || res.statusText);
          return body;
        });
      })
      .then(function (view) {
        if (state.traceWanted !== r.span_id) return;  // another request was opened since
        if (view.retry) {
          while (box.firstChild) box.removeChild(box.firstChild);
          box.appendChild(el('p', {class: 'hint', 'data-waiting': 'true'},
            'waiting for the run store to commit this second (attempt ' + (attempt + 1) + ' of ' +
            TRACE_RETRIES + ')…'));
          setTimeout(function () { openTrace(r, attempt + 1); }, 1500);
          return;
        }
        var req = view.request || {trace_id: r.trace_id, span_id: r.span_id, name: r.name,
          method: r.method, status: r.status, duration_ms: r.total_ms, phases: {},
          outside_ms: null, trace_url: r.trace_url};
        window.stampedeTraceView.render(box, req, view.trace);
        setAttr(document.documentElement, 'data-trace', r.trace_id);
        section.scrollIntoView({block: 'start'});
      })
      .catch(function (e) {
        if (state.traceWanted !== r.span_id) return;
        while (box.firstChild) box.removeChild(box.firstChild);
        box.appendChild(el('p', {class: 'empty', 'data-error': 'true'}, e.message));
      });
  }

  function createCharts() {
    makeChart('vus', 'VUs', [
      {label: 'VUs', color: COLORS.vus, fill: 'rgba(124, 58, 237, 0.08)', fmt: fmtInt}],
      [series.t, series.vus]);
    makeChart('rps', 'per second', [
      {label: 'requests/s', color: COLORS.rps, fmt: fmtRate},
      {label: 'failures/s', color: COLORS.fails, fmt: fmtRate}],
      [series.t, series.rps, series.fails]);
    makeChart('latency', 'ms', [
      {label: 'p50', color: COLORS.p50, fmt: fmtMs},
      {label: 'p95', color: COLORS.p95, fmt: fmtMs},
      {label: 'p99', color: COLORS.p99, fmt: fmtMs}],
      [series.t, series.p50, series.p95, series.p99]);
    charts.latency.over.addEventListener('click', function () {
      exemplarsAt(charts.latency.cursor.idx);
    });
    charts.latency.over.classList.add('clickable-plot');
    var resizeTimer = null;
    window.addEventListener('resize', function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        Object.keys(charts).forEach(function (id) {
          charts[id].setSize({width: plotWidth(byId('chart-' + id)), height: 220});
        });
      }, 100);
    });
  }

  function clearSeries() {
    Object.keys(series).forEach(function (k) { series[k].length = 0; });
  }

  function pushPoint(tick) {
    var x = tick.t / 1000;
    var n = series.t.length;
    if (n && x <= series.t[n - 1]) return false;  // a repeat (e.g. history then tick)
    var lat = tick.latency_ms;
    series.t.push(x);
    series.vus.push(isNum(tick.vus) ? tick.vus : null);
    series.rps.push(isNum(tick.rps) ? tick.rps : null);
    series.fails.push(isNum(tick.fails_per_s) ? tick.fails_per_s : null);
    series.p50.push(lat && isNum(lat.p50) ? lat.p50 : null);
    series.p95.push(lat && isNum(lat.p95) ? lat.p95 : null);
    series.p99.push(lat && isNum(lat.p99) ? lat.p99 : null);
    if (series.t.length > MAX_POINTS) {
      var drop = series.t.length - MAX_POINTS;
      Object.keys(series).forEach(function (k) { series[k].splice(0, drop); });
    }
    return true;
  }

  function drawCharts() {
    if (!charts.vus) return;
    charts.vus.setData([series.t, series.vus]);
    charts.rps.setData([series.t, series.rps, series.fails]);
    charts.latency.setData([series.t, series.p50, series.p95, series.p99]);
  }

  // -------------------------------------------------------------- ticks ---
  function render(tick) {
    state.last = tick;
    setAttr(document.documentElement, 'data-ticks', state.ticks);
    if (!state.ended) {
      if (tick.paused) setPhase('paused', 'paused');
      else setPhase('running', 'running');
    }
    renderProgress(tick);
    renderCards(tick);
    renderNames(tick.names);
    renderNamesTotal(tick);
    renderThresholds(tick);
    renderErrors(tick.errors);
    renderSteering(tick.steering);
    drawCharts();
  }

  function onHistory(ticks) {
    // Sent on every (re)connect: it replaces whatever was drawn.
    clearSeries();
    state.ticks = 0;
    var last = null;
    (ticks || []).forEach(function (t) {
      if (t && pushPoint(t)) { state.ticks++; last = t; }
    });
    if (last) render(last);
    else {
      drawCharts();
      if (!state.ended) setPhase('running', 'running');
    }
  }

  function onTick(tick) {
    if (!tick || !pushPoint(tick)) return;
    state.ticks++;
    render(tick);
  }

  function onEnd(end) {
    state.ended = end || {};
    if (state.source) state.source.close();  // no reconnect after `end`
    var outcome = state.ended.outcome || 'unknown';
    var code = state.ended.exit_code;
    setPhase('finished', 'finished: ' + outcome, code === 0 ? 'good' : 'bad');
    if (state.last) setText(byId('progress-text'), 'ended after ' + fmtDuration(state.last.elapsed_s));
    status('run finished: ' + outcome + ' (exit code ' + (code === null || code === undefined ?
      '?' : code) + ')', code === 0 ? 'done' : 'error');
  }

  function parse(ev) {
    try {
      return JSON.parse(ev.data);
    } catch (e) {
      status('bad ' + ev.type + ' event from the server: ' + e.message, 'error');
      return null;
    }
  }

  function connect() {
    var es = new EventSource('api/stream');
    state.source = es;
    es.addEventListener('history', function (ev) {
      var v = parse(ev);
      if (v) onHistory(v);
      if (state.phase === 'lost') status('reconnected', 'info');
    });
    es.addEventListener('tick', function (ev) { onTick(parse(ev)); });
    es.addEventListener('end', function (ev) { onEnd(parse(ev)); });
    var failures = 0;
    es.addEventListener('open', function () { failures = 0; });
    es.addEventListener('error', function () {
      if (state.ended) { es.close(); return; }
      // EventSource retries by itself (the server says how soon); a process
      // that has exited never answers again, so stop after a few tries.
      failures++;
      if (es.readyState === EventSource.CLOSED || failures > MAX_RECONNECTS) {
        es.close();
        setPhase('lost', 'connection lost');
        status('stampede stopped answering before the run\'s end was received (the process ' +
          'may have exited); reload to try again', 'error');
      } else {
        setPhase('lost', 'reconnecting…');
        status('connection to stampede lost; reconnecting…', 'error');
      }
    });
  }

  // ------------------------------------------------------------ controls ---
  // The scenarios table, with a value field and a button for the executors
  // the server can steer.
  function renderScenarios(run) {
    var tbody = byId('scenarios-table').tBodies[0];
    (run.scenarios || []).forEach(function (s) {
      var tr = el('tr', {'data-scenario': s.name, 'data-executor': s.executor});
      tr.appendChild(el('td', {class: 'mono'}, s.name));
      tr.appendChild(el('td', {class: 'mono'}, s.executor));
      var td = el('td');
      var action = s.executor === 'constant-vus' || s.executor === 'ramping-vus' ? 'set_vus'
        : /arrival-rate$/.test(s.executor) ? 'set_rate' : null;
      if (action && !run.target) {
        var input = el('input', {type: 'number', min: '0', step: action === 'set_vus' ? '1' : 'any',
          class: 'steer-value', 'aria-label': (action === 'set_vus' ? 'VUs' : 'rate') + ' of ' + s.name});
        var button = el('button', {type: 'button', class: 'steer-set', 'data-action': action},
          action === 'set_vus' ? 'Set VUs' : 'Set rate');
        button.addEventListener('click', function () {
          var v = Number(input.value);
          if (input.value === '' || !isFinite(v) || v < 0) {
            status(action + ': enter a number ≥ 0', 'error');
            return;
          }
          control(action, {scenario: s.name, value: v});
        });
        td.appendChild(input);
        td.appendChild(button);
      } else {
        td.appendChild(el('span', {class: 'hint'}, 'fixed by its executor'));
      }
      tr.appendChild(td);
      tbody.appendChild(tr);
    });
    byId('scenarios-section').hidden = !(run.scenarios || []).length;
  }

  function control(action, extra) {
    if (state.busy || state.ended) return;
    var headers = {'Content-Type': 'application/json'};
    if (state.run && state.run.token_required) {
      var token = byId('token').value;
      if (!token) {
        status(action + ': this dashboard needs the run\'s token (see stampede\'s output)', 'error');
        byId('token').focus();
        return;
      }
      headers['X-Stampede-Token'] = token;
    }
    state.busy = true;
    updateButtons();
    status(action + '…', 'info');
    fetch('api/control', {method: 'POST', headers: headers, cache: 'no-store',
      credentials: 'same-origin',
      body: JSON.stringify(Object.assign({action: action}, extra || {}))})
      .then(function (res) {
        return res.text().then(function (text) {
          var body = null;
          try { body = JSON.parse(text); } catch (e) { body = null; }
          if (res.ok && body && body.ok) {
            if (!state.ended) status(action + ' accepted', 'info');
          } else {
            var why = body && body.error ? body.error : (text || res.statusText).slice(0, 200);
            status(action + ' refused (' + res.status + '): ' + why, 'error');
          }
        });
      })
      .catch(function (e) { status(action + ' failed: ' + e.message, 'error'); })
      .then(function () {
        state.busy = false;
        updateButtons();
      });
  }

  function wireControls() {
    byId('btn-pause').addEventListener('click', function () { control('pause'); });
    byId('btn-resume').addEventListener('click', function () { control('resume'); });
    byId('btn-stop').addEventListener('click', function () {
      if (window.confirm('Stop this run? VUs finish their current iteration and stampede ' +
          'prints its summary.')) {
        control('stop');
      }
    });
  }

  // --------------------------------------------------------------- start ---
  function start() {
    buildNamesHead();
    wireControls();
    if (typeof uPlot === 'undefined') {
      status('uplot.min.js did not load: charts are off', 'error');
    }
    fetch('api/run', {cache: 'no-store'})
      .then(function (res) {
        if (!res.ok) throw new Error('GET api/run: ' + res.status);
        return res.json();
      })
      .then(function (run) {
        state.run = run;
        window.stampedeUi.run = run;
        renderRun(run);
        if (typeof uPlot !== 'undefined') createCharts();
        document.documentElement.setAttribute('data-ready', 'true');
        connect();
      })
      .catch(function (e) {
        setPhase('lost', 'unreachable');
        status('cannot reach stampede: ' + e.message, 'error');
      });
  }

  start();
})();
