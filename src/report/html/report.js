// stampede report: renders the run embedded in the JSON script element "stampede-data"
// (JSON written by src/report/html_report.cc) with uPlot.
//
// Every string in the data may come from a script or from the service under
// test and may be hostile: the DOM is built with createElement, textContent
// and setAttribute only — never innerHTML, outerHTML, insertAdjacentHTML or
// document.write — and links accept http(s) URLs only.
//
// Data (keys of the JSON object):
//   run        run_id, stampede_version, host, command_line, script_path,
//              target, start_unix_ms, end_unix_ms|null, last_second, seconds,
//              duration_s, exit_code|null, outcome, clean
//   totals     requests, rps, failed, error_rate, iterations,
//              dropped_iterations, vus_max, data_received, data_sent,
//              duration {count, avg, min, med, p90, p95, p99, max} (ms)
//   thresholds [{metric, expression, abort_on_fail, passed|null, observed|null,
//              first_failed_second|null}]
//   checks     [{name, group, passes, fails}]
//   names      [{name, requests, rps, failed, error_rate, avg, min, p50, p90,
//              p95, p99, max}] (ms)
//   series     second[], vus[], rps[], p50[], p90[], p95[], p99[],
//              dropped_iterations[], spans_dropped[] (optional),
//              errors [{type, total, values[]}] — one value per second
//   requests   [{trace_id, span_id, name, method, url, status, error_type,
//              second, offset_ms, duration_ms, phases {blocked, dns, connect,
//              tls, sending, waiting, receiving}, server_ms|null,
//              outside_ms|null, service, why [slowest|failed|exemplar],
//              trace_url?}]
//   traces     {trace_id: {start_unix_ms, total_spans, spans [{span_id,
//              parent, source, service, scope, name, kind, status,
//              status_message, start_ms, duration_ms, attributes, events}]}}
//   sampling   slowest_limit, failed_limit, failed_listed, failed_total,
//              exemplars_listed, requests_total, stored_client_spans|null,
//              stored_service_spans|null, max_spans_per_trace, stats {}
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('stampede-data').textContent);
  var run = data.run || {};
  var series = data.series || {second: []};
  var state = {window: null, tab: 'slow', charts: [], knee: null, trace: null, selectedAt: 0};
  window.stampedeReport = {data: data, state: state};

  // ---------------------------------------------------------------- DOM ---
  // el('td', {class: 'num', 'data-x': v}, ['text', node]): strings become
  // text nodes; attributes go through setAttribute.
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        node.setAttribute(k, v === true ? '' : String(v));
      });
    }
    append(node, children);
    return node;
  }
  function append(node, children) {
    if (children === null || children === undefined) return node;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    });
    return node;
  }
  function byId(id) { return document.getElementById(id); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function safeUrl(url) {
    return typeof url === 'string' && /^https?:\/\//i.test(url) ? url : null;
  }

  // --------------------------------------------------------- formatting ---
  var NBSP = '\u202f';
  function fmtInt(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    var s = String(Math.round(v));
    var neg = s[0] === '-';
    if (neg) s = s.slice(1);
    var out = '';
    while (s.length > 3) {
      out = NBSP + s.slice(-3) + out;
      s = s.slice(0, -3);
    }
    return (neg ? '-' : '') + s + out;
  }
  function fmtNum(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    if (Math.abs(v) >= 1000) return fmtInt(v);
    return v.toFixed(digits === undefined ? 1 : digits);
  }
  function fmtMs(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    if (Math.abs(v) >= 1000) return (v / 1000).toFixed(2) + ' s';
    if (Math.abs(v) >= 100) return v.toFixed(0) + ' ms';
    if (Math.abs(v) >= 10) return v.toFixed(1) + ' ms';
    return v.toFixed(2) + ' ms';
  }
  function fmtPct(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    var p = v * 100;
    return (p !== 0 && p < 0.01 ? '<0.01' : p.toFixed(p < 10 ? 2 : 1)) + ' %';
  }
  function fmtBytes(v) {
    if (!isFinite(v)) return '–';
    var units = ['B', 'kB', 'MB', 'GB', 'TB'];
    var i = 0;
    while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
    return (i === 0 ? String(Math.round(v)) : v.toFixed(1)) + ' ' + units[i];
  }
  function fmtDuration(s) {
    if (!isFinite(s)) return '–';
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + ' s';
    var m = Math.floor(s / 60), r = Math.round(s - m * 60);
    if (m < 60) return m + 'm' + (r ? r + 's' : '');
    return Math.floor(m / 60) + 'h' + (m % 60) + 'm';
  }
  function fmtTime(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) return '–';
    return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  // ------------------------------------------------------------- header ---
  function renderHeader() {
    document.title = 'stampede report — ' + (run.run_id || 'run');
    byId('run-title').textContent = 'Run ' + (run.run_id || '');
    var outcome = byId('run-outcome');
    var label = run.clean ? (run.outcome || 'ended') : 'did not end cleanly';
    outcome.textContent = label + (run.exit_code !== null && run.exit_code !== undefined
      ? ' · exit ' + run.exit_code : '');
    outcome.className = 'badge ' + (!run.clean ? 'bad' : run.outcome === 'passed' ? 'good' : 'bad');
    var meta = byId('run-meta');
    function row(k, v, cls) {
      if (v === null || v === undefined || v === '') return;
      meta.appendChild(el('dt', null, k));
      meta.appendChild(el('dd', cls ? {class: cls} : null, String(v)));
    }
    row(run.script_path ? 'Script' : 'Target', run.script_path || run.target, 'mono');
    row('Started', fmtTime(run.start_unix_ms));
    row('Ended', run.end_unix_ms !== null ? fmtTime(run.end_unix_ms) : 'did not end cleanly');
    row('Duration', fmtDuration(run.duration_s));
    row('Exit code', run.exit_code !== null && run.exit_code !== undefined ? run.exit_code : 'none');
    row('Outcome', run.outcome || 'none (killed or crashed)');
    row('stampede', run.stampede_version);
    row('Host', run.host);
    row('Command', run.command_line, 'mono');
    if (!run.clean) {
      var w = byId('run-warning');
      w.hidden = false;
      w.textContent = 'This run did not end cleanly (killed or crashed); data up to second ' +
        Math.max(run.last_second, 0) + '. The summary, thresholds and checks may be missing.';
    }
    byId('footer').textContent = 'Made by stampede ' + (run.stampede_version || '') +
      ' · charts by uPlot ' + (data.uplot_version || '') + ' · self-contained: no network needed.';
  }

  // ------------------------------------------------------------ summary ---
  function renderSummary() {
    var t = data.totals || {};
    var d = t.duration || {};
    var cards = [
      ['Requests', fmtInt(t.requests), fmtNum(t.rps) + ' /s'],
      ['Failed', fmtInt(t.failed), fmtPct(t.error_rate)],
      ['p50', fmtMs(d.med), 'http_req_duration'],
      ['p95', fmtMs(d.p95), 'http_req_duration'],
      ['p99', fmtMs(d.p99), 'max ' + fmtMs(d.max)],
      ['VUs', fmtInt(t.vus_max), 'max'],
      ['Iterations', fmtInt(t.iterations), fmtInt(t.dropped_iterations) + ' dropped'],
      ['Data', fmtBytes(t.data_received || 0), fmtBytes(t.data_sent || 0) + ' sent'],
    ];
    var box = byId('summary-cards');
    cards.forEach(function (c) {
      box.appendChild(el('div', {class: 'card'}, [
        el('div', {class: 'card-label'}, c[0]),
        el('div', {class: 'card-value'}, c[1]),
        el('div', {class: 'card-sub'}, c[2]),
      ]));
    });
  }

  function table(id, heads, rows, numeric) {
    var thead = el('thead', null, el('tr', null, heads.map(function (h, i) {
      return el('th', numeric && numeric[i] ? {class: 'num'} : null, h);
    })));
    var tbody = el('tbody');
    rows.forEach(function (r) {
      tbody.appendChild(el('tr', null, r.map(function (c, i) {
        var cls = numeric && numeric[i] ? 'num' : null;
        if (c && typeof c === 'object' && c.nodeType) return el('td', {class: cls}, c);
        return el('td', {class: cls}, c === null || c === undefined ? '' : String(c));
      })));
    });
    return el('table', {id: id, class: 'data'}, [thead, tbody]);
  }

  function renderThresholds() {
    var box = byId('thresholds');
    var list = data.thresholds || [];
    if (!list.length) {
      box.appendChild(el('p', {class: 'empty'}, 'No thresholds were configured.'));
      return;
    }
    box.appendChild(table('thresholds-table',
      ['Result', 'Metric', 'Expression', 'Observed', 'First failed', 'Abort on fail'],
      list.map(function (t) {
        var result = t.passed === null ? el('span', {class: 'pill'}, 'not evaluated')
          : t.passed ? el('span', {class: 'pill good'}, 'pass')
          : el('span', {class: 'pill bad'}, 'fail');
        return [result, el('span', {class: 'mono'}, t.metric), el('span', {class: 'mono'}, t.expression),
          t.observed === null ? '–' : fmtNum(t.observed, 3),
          t.first_failed_second === null ? '' : 'second ' + t.first_failed_second,
          t.abort_on_fail ? 'yes' : ''];
      }), [false, false, false, true, false, false]));
  }

  function renderChecks() {
    var box = byId('checks');
    var list = data.checks || [];
    if (!list.length) {
      box.appendChild(el('p', {class: 'empty'}, 'No checks ran.'));
      return;
    }
    box.appendChild(table('checks-table', ['Check', 'Group', 'Passes', 'Fails', 'Pass rate'],
      list.map(function (c) {
        var total = c.passes + c.fails;
        var rate = total ? c.passes / total : null;
        return [el('span', {class: c.fails ? 'bad-text' : 'good-text'}, (c.fails ? '✗ ' : '✓ ') + c.name),
          c.group, fmtInt(c.passes), fmtInt(c.fails), fmtPct(rate)];
      }), [false, false, true, true, true]));
  }

  // ------------------------------------------------------- per-name table ---
  var NAME_COLUMNS = [
    {key: 'name', label: 'Name', fmt: String},
    {key: 'requests', label: 'Requests', fmt: fmtInt, num: true},
    {key: 'rps', label: 'RPS', fmt: fmtNum, num: true},
    {key: 'p50', label: 'p50', fmt: fmtMs, num: true},
    {key: 'p90', label: 'p90', fmt: fmtMs, num: true},
    {key: 'p95', label: 'p95', fmt: fmtMs, num: true},
    {key: 'p99', label: 'p99', fmt: fmtMs, num: true},
    {key: 'max', label: 'Max', fmt: fmtMs, num: true},
    {key: 'error_rate', label: 'Errors', fmt: fmtPct, num: true},
  ];
  var nameSort = {key: 'requests', dir: -1};

  function renderNames() {
    var box = clear(byId('names'));
    var rows = (data.names || []).slice();
    if (!rows.length) {
      box.appendChild(el('p', {class: 'empty'}, 'No HTTP requests were recorded.'));
      return;
    }
    rows.sort(function (a, b) {
      var x = a[nameSort.key], y = b[nameSort.key];
      if (typeof x === 'string' || typeof y === 'string') {
        return nameSort.dir * String(x).localeCompare(String(y));
      }
      x = x === null ? -Infinity : x;
      y = y === null ? -Infinity : y;
      return nameSort.dir * (x - y) || String(a.name).localeCompare(String(b.name));
    });
    var head = el('tr', null, NAME_COLUMNS.map(function (c) {
      var sorted = nameSort.key === c.key;
      var th = el('th', {
        class: (c.num ? 'num ' : '') + 'sortable' + (sorted ? ' sorted' : ''),
        'data-key': c.key,
        'aria-sort': sorted ? (nameSort.dir > 0 ? 'ascending' : 'descending') : 'none',
        tabindex: '0', role: 'columnheader',
      }, [c.label, el('span', {class: 'arrow'}, sorted ? (nameSort.dir > 0 ? ' ▲' : ' ▼') : '')]);
      function sortBy() {
        if (nameSort.key === c.key) nameSort.dir = -nameSort.dir;
        else nameSort = {key: c.key, dir: c.key === 'name' ? 1 : -1};
        renderNames();
      }
      th.addEventListener('click', sortBy);
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter') sortBy(); });
      return th;
    }));
    var body = el('tbody', null, rows.map(function (r) {
      return el('tr', {'data-name': r.name}, NAME_COLUMNS.map(function (c) {
        var cls = (c.num ? 'num' : 'mono') + (c.key === 'error_rate' && r.error_rate > 0 ? ' bad-text' : '');
        return el('td', {class: cls}, c.fmt(r[c.key]));
      }));
    }));
    box.appendChild(el('table', {id: 'names-table', class: 'data'}, [el('thead', null, head), body]));
  }

  // ------------------------------------------------------------- charts ---
  var PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777',
    '#65a30d', '#475569'];

  function chartWidth(node) {
    return Math.max(280, Math.floor(node.getBoundingClientRect().width || 560));
  }

  function addChart(id, title, unit, lines, values, extra) {
    var plot = el('div', {class: 'plot'});
    var wrap = el('figure', {class: 'chart', id: 'chart-' + id, 'data-chart': id}, [
      el('figcaption', null, title), plot]);
    byId('charts').appendChild(wrap);
    var xs = series.second || [];
    var opts = {
      width: chartWidth(plot),
      height: 200,
      scales: {x: {time: false}},
      axes: [
        {label: extra && extra.xLabel || 'seconds since start', labelSize: 18, size: 36},
        {label: unit, labelSize: 18, size: 56},
      ],
      series: [{label: extra && extra.xLabel || 'second'}].concat(lines.map(function (l, i) {
        var s = {label: l.label, stroke: l.color || PALETTE[i % PALETTE.length], width: 1.5,
          spanGaps: false};
        if (l.fill) s.fill = l.fill;
        if (l.points) {
          s.paths = function () { return null; };
          s.points = {show: true, size: 7, width: 1, fill: l.color || PALETTE[i % PALETTE.length]};
        }
        return s;
      })),
      legend: {live: true},
      cursor: extra && extra.knee ? {drag: {x: false, y: false}}
        : {sync: {key: 'stampede-time'}, drag: {x: true, y: false, setScale: false}},
      hooks: {},
    };
    if (!(extra && extra.knee)) {
      opts.hooks.setSelect = [function (u) {
        if (u.select.width > 3) {
          state.selectedAt = Date.now();
          var a = u.posToVal(u.select.left, 'x');
          var b = u.posToVal(u.select.left + u.select.width, 'x');
          setWindow(Math.max(0, Math.floor(a)), Math.ceil(b));
        }
        u.setSelect({left: 0, top: 0, width: 0, height: 0}, false);
      }];
    }
    var u = new uPlot(opts, extra && extra.data ? extra.data : [xs].concat(values), plot);
    // A click waits a moment so that a double-click (reset) or the click
    // that ends a drag (select) does not also open a trace.
    var clickTimer = null;
    u.over.addEventListener('dblclick', function () {
      clearTimeout(clickTimer);
      setWindow(null);
    });
    if (extra && extra.onClick) {
      u.over.addEventListener('click', function (e) {
        clearTimeout(clickTimer);
        if (e.detail > 1 || Date.now() - state.selectedAt < 400) return;
        clickTimer = setTimeout(function () { extra.onClick(u); }, 300);
      });
    }
    var entry = {id: id, u: u, plot: plot, knee: !!(extra && extra.knee)};
    state.charts.push(entry);
    return entry;
  }

  function kneeData(win) {
    var pts = [];
    var vus = series.vus || [], p95 = series.p95 || [];
    for (var i = 0; i < vus.length; i++) {
      if (win && (i < win[0] || i > win[1])) continue;
      if (vus[i] === null || p95[i] === null || p95[i] === undefined) continue;
      pts.push([vus[i], p95[i]]);
    }
    pts.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    return [pts.map(function (p) { return p[0]; }), pts.map(function (p) { return p[1]; })];
  }

  function renderCharts() {
    var box = byId('charts');
    if (!series.second || !series.second.length) {
      box.appendChild(el('p', {class: 'empty'}, 'No per-second data was stored for this run.'));
      return;
    }
    addChart('vus', 'Virtual users', 'VUs', [{label: 'VUs', color: PALETTE[0], fill: 'rgba(37,99,235,0.08)'}],
      [series.vus]);
    addChart('rps', 'Requests per second (http_reqs)', 'req/s',
      [{label: 'req/s', color: PALETTE[2], fill: 'rgba(22,163,74,0.08)'}], [series.rps]);
    addChart('latency', 'http_req_duration (click: that second\'s slowest request)', 'ms',
      [{label: 'p50', color: PALETTE[0]}, {label: 'p95', color: PALETTE[3]},
        {label: 'p99', color: PALETTE[1]}],
      [series.p50, series.p95, series.p99], {onClick: openExemplarAt});
    var errors = series.errors || [];
    if (errors.length) {
      addChart('errors', 'Errors per second by type', 'errors/s', errors.map(function (e, i) {
        return {label: e.type, color: PALETTE[(i + 1) % PALETTE.length]};
      }), errors.map(function (e) { return e.values; }));
    } else {
      addChart('errors', 'Errors per second by type (none)', 'errors/s',
        [{label: 'errors', color: PALETTE[1]}], [series.second.map(function () { return 0; })]);
    }
    addChart('dropped', 'Dropped iterations per second', 'iterations/s',
      [{label: 'dropped_iterations', color: PALETTE[4]}], [series.dropped_iterations]);
    if (series.spans_dropped) {
      addChart('spans-dropped', 'Spans dropped per second', 'spans/s',
        [{label: 'spans_dropped', color: PALETTE[6]}], [series.spans_dropped]);
    }
    state.knee = addChart('knee', 'Latency against VUs (p95 of each second: where is the knee?)',
      'p95 ms', [{label: 'p95 (ms)', color: PALETTE[3], points: true}], null,
      {knee: true, xLabel: 'VUs', data: kneeData(null)});
    window.addEventListener('resize', function () {
      state.charts.forEach(function (c) { c.u.setSize({width: chartWidth(c.plot), height: 200}); });
    });
  }

  // Zooms every time chart to seconds [from, to] (from null: the whole run);
  // the knee chart and the request lists follow.
  function setWindow(from, to) {
    state.window = from === null || from === undefined ? null : [from, Math.max(to, from + 1)];
    var n = (series.second || []).length;
    state.charts.forEach(function (c) {
      if (c.knee) {
        c.u.setData(kneeData(state.window));
      } else if (state.window) {
        c.u.setScale('x', {min: state.window[0], max: state.window[1]});
      } else {
        c.u.setScale('x', {min: 0, max: Math.max(n - 1, 1)});
      }
    });
    byId('window-label').textContent = state.window
      ? 'Window: seconds ' + state.window[0] + '–' + state.window[1] + '.' : '';
    document.documentElement.setAttribute('data-window', state.window ? state.window.join('-') : '');
    renderRequests();
  }

  function openExemplarAt(u) {
    var idx = u.cursor.idx;
    if (idx === null || idx === undefined) return;
    var second = (series.second || [])[idx];
    var best = null;
    (data.requests || []).forEach(function (r) {
      if (r.second === second && (!best || r.duration_ms > best.duration_ms)) best = r;
    });
    if (best) openTrace(best);
  }

  // ----------------------------------------------------------- requests ---
  function inWindow(r) {
    return !state.window || (r.second >= state.window[0] && r.second <= state.window[1]);
  }

  function renderSampling() {
    var s = data.sampling || {};
    var parts = [];
    var slow = (data.requests || []).filter(function (r) { return r.why.indexOf('slowest') >= 0; }).length;
    parts.push('the ' + fmtInt(slow) + ' slowest of ' + fmtInt(s.requests_total) + ' requests');
    parts.push(fmtInt(s.failed_listed) + ' of ' + fmtInt(s.failed_total) + ' failed ones' +
      (s.failed_listed < s.failed_total ? ' (the slowest)' : ''));
    if (s.exemplars_listed) {
      parts.push('the slowest request of each of ' + fmtInt(s.exemplars_listed) + ' seconds');
    }
    var stored = [];
    if (s.stored_client_spans !== null && s.stored_client_spans !== undefined) {
      stored.push(fmtInt(s.stored_client_spans) + ' client spans');
    }
    if (s.stored_service_spans !== null && s.stored_service_spans !== undefined) {
      stored.push(fmtInt(s.stored_service_spans) + ' service spans');
    }
    var text = 'Listed: ' + parts.join(', ') + '. Only their traces are embedded in this page' +
      (stored.length ? ' (the run file stores ' + stored.join(' and ') + ')' : '') +
      '. A window selected on the charts lists the slowest of that window among them.';
    byId('sampling').textContent = text;
  }

  var traceView = window.stampedeTraceView;  // trace_view.js
  var requestTitle = traceView.requestTitle;
  var statusText = traceView.statusText;
  var phaseBar = traceView.phaseBar;

  function renderRequests() {
    var box = clear(byId('requests'));
    var all = data.requests || [];
    var list = all.filter(function (r) {
      return inWindow(r) && (state.tab === 'failed' ? r.why.indexOf('failed') >= 0
        : r.why.indexOf('slowest') >= 0 || r.why.indexOf('exemplar') >= 0);
    });
    list.sort(function (a, b) { return b.duration_ms - a.duration_ms; });
    var limit = state.tab === 'failed' ? (data.sampling && data.sampling.failed_limit || 500)
      : (data.sampling && data.sampling.slowest_limit || 50);
    var shown = list.slice(0, limit);
    if (!shown.length) {
      box.appendChild(el('p', {class: 'empty'}, state.tab === 'failed'
        ? 'No failed request' + (state.window ? ' in this window' : '') + ' was stored.'
        : 'No request span' + (state.window ? ' in this window' : '') + ' was stored.'));
      return;
    }
    var head = el('tr', null, ['Start', 'Name', 'Method', 'Status', 'Duration', 'Phases',
      'Service', 'Outside the service', 'Trace'].map(function (h, i) {
      return el('th', {class: i === 0 || i === 4 || i === 7 ? 'num' : null}, h);
    }));
    var body = el('tbody');
    shown.forEach(function (r) {
      var link = safeUrl(r.trace_url)
        ? el('a', {href: safeUrl(r.trace_url), target: '_blank', rel: 'noopener noreferrer'}, 'open ↗')
        : '';
      var tr = el('tr', {class: 'request' + (r.why.indexOf('failed') >= 0 ? ' failed' : ''),
        tabindex: '0', role: 'button', 'data-trace-id': r.trace_id, 'data-span-id': r.span_id,
        'data-second': r.second,
        title: r.url}, [
        el('td', {class: 'num'}, '+' + (r.offset_ms / 1000).toFixed(3) + ' s'),
        el('td', {class: 'mono name'}, r.name || r.url),
        el('td', null, r.method),
        el('td', {class: r.error_type ? 'bad-text' : null}, statusText(r)),
        el('td', {class: 'num'}, fmtMs(r.duration_ms)),
        el('td', null, phaseBar(r, r.duration_ms)),
        el('td', null, r.service || ''),
        el('td', {class: 'num'}, r.outside_ms === null ? '–' : fmtMs(r.outside_ms)),
        el('td', null, link),
      ]);
      tr.addEventListener('click', function (e) {
        if (e.target && e.target.tagName === 'A') return;
        openTrace(r);
      });
      tr.addEventListener('keydown', function (e) { if (e.key === 'Enter') openTrace(r); });
      body.appendChild(tr);
    });
    box.appendChild(el('table', {id: 'requests-table', class: 'data clickable',
      'data-tab': state.tab}, [el('thead', null, head), body]));
    if (list.length > shown.length) {
      box.appendChild(el('p', {class: 'hint'}, fmtInt(list.length - shown.length) + ' more not shown.'));
    }
  }

  // -------------------------------------------------------------- trace ---
  function openTrace(r) {
    var section = byId('trace-section');
    section.hidden = false;
    byId('trace-title').textContent = r.trace_id;
    state.trace = r.trace_id;
    document.documentElement.setAttribute('data-trace', r.trace_id);
    traceView.render(byId('trace'), r, (data.traces || {})[r.trace_id]);
    section.scrollIntoView({block: 'start'});
  }

  // --------------------------------------------------------------- main ---
  function setTab(tab) {
    state.tab = tab;
    byId('tab-slow').classList.toggle('active', tab === 'slow');
    byId('tab-failed').classList.toggle('active', tab === 'failed');
    renderRequests();
  }

  renderHeader();
  renderSummary();
  renderThresholds();
  renderChecks();
  renderNames();
  renderCharts();
  renderSampling();
  byId('tab-slow').addEventListener('click', function () { setTab('slow'); });
  byId('tab-failed').addEventListener('click', function () { setTab('failed'); });
  renderRequests();
  window.stampedeReport.setWindow = setWindow;
  window.stampedeReport.openTrace = openTrace;
  document.documentElement.setAttribute('data-ready', 'true');
})();
