// stampede trace view: one request and its trace as a waterfall (client
// phases and the service's spans), shared by the HTML report (report.js,
// inlined with its own CSP hash) and the live dashboard (app.js, served as
// /trace_view.js). Loaded before either; defines window.stampedeTraceView:
//   render(box, request, trace)  request: a report `requests[]` entry
//                                {trace_id, span_id, name, method, url, status,
//                                error_type, duration_ms, phases {...},
//                                server_ms|null, outside_ms|null, service,
//                                trace_url?}; trace: {total_spans, spans [{span_id,
//                                parent, source, service, scope, name, kind,
//                                status, status_message, start_ms, duration_ms,
//                                attributes, events}]} or null
//   phaseBar(request, total_ms), requestTitle(request), statusText(request),
//   PHASES, fmtMs(ms)
// Stable DOM hooks: #phases-table, .outside[data-outside-ms], #waterfall,
// .span-row[data-source][data-kind][data-span-id][data-service], .wf-name,
// #span-details, #span-attributes, a.trace-link.
//
// Every string may come from a script or from the service under test and may
// be hostile: the DOM is built with createElement, textContent and
// setAttribute only, links accept http(s) URLs only, and styles change
// through CSSOM properties only (the dashboard's CSP has no inline styles).
(function () {
  'use strict';

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        node.setAttribute(k, v === true ? '' : String(v));
      });
    }
    if (children === null || children === undefined) return node;
    (Array.isArray(children) ? children : [children]).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function safeUrl(url) {
    return typeof url === 'string' && /^https?:\/\//i.test(url) ? url : null;
  }
  function fmtInt(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    return Math.round(v).toLocaleString('en-US').replace(/,/g, '\u202f');
  }
  function fmtMs(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    if (Math.abs(v) >= 1000) return (v / 1000).toFixed(2) + ' s';
    if (Math.abs(v) >= 100) return v.toFixed(0) + ' ms';
    if (Math.abs(v) >= 10) return v.toFixed(1) + ' ms';
    return v.toFixed(2) + ' ms';
  }
  function table(id, heads, rows, numeric) {
    var thead = el('thead', null, el('tr', null, heads.map(function (h, i) {
      return el('th', numeric && numeric[i] ? {class: 'num'} : null, h);
    })));
    var tbody = el('tbody');
    rows.forEach(function (r) {
      tbody.appendChild(el('tr', null, r.map(function (c, i) {
        return el('td', {class: numeric && numeric[i] ? 'num' : null},
          c === null || c === undefined ? '' : String(c));
      })));
    });
    return el('table', {id: id, class: 'data'}, [thead, tbody]);
  }

  // "GET /api/items" (the name, with the method unless it already says it).
  function requestTitle(r) {
    var name = r.name || r.url || '';
    var method = r.method || '';
    return method && name.indexOf(method + ' ') !== 0 ? method + ' ' + name : name;
  }

  function statusText(r) {
    if (r.error_type && !/^\d+$/.test(r.error_type)) return r.error_type + (r.status ? ' (' + r.status + ')' : '');
    return r.status ? String(r.status) : 'no response';
  }

  var PHASES = [
    ['blocked', 'blocked', '#94a3b8'], ['dns', 'DNS', '#a855f7'], ['connect', 'connect', '#f59e0b'],
    ['tls', 'TLS', '#ec4899'], ['sending', 'sending', '#06b6d4'], ['waiting', 'waiting', '#2563eb'],
    ['receiving', 'receiving', '#16a34a']];

  function phaseBar(r, total) {
    var bar = el('div', {class: 'phasebar'});
    var p = r.phases || {};
    var sum = 0;
    PHASES.forEach(function (ph) { if (p[ph[0]] > 0) sum += p[ph[0]]; });
    var scale = Math.max(total || 0, sum) || 1;
    PHASES.forEach(function (ph) {
      var v = p[ph[0]];
      if (!(v > 0)) return;
      var seg = el('span', {class: 'seg', title: ph[1] + ' ' + fmtMs(v)});
      seg.style.width = (100 * v / scale).toFixed(3) + '%';
      seg.style.background = ph[2];
      bar.appendChild(seg);
    });
    return bar;
  }

  // Fills `box` (emptied first) with request `r` and its `trace`: title,
  // the link to the user's tracing UI, the time outside the service, the
  // phases and the waterfall (click a span for its attributes).
  function render(box, r, trace) {
    clear(box);

    var title = el('p', {class: 'trace-head'}, [
      el('strong', {class: 'mono'}, requestTitle(r)),
      ' — ' + fmtMs(r.duration_ms) + ' — ' + statusText(r) + ' — ',
      el('span', {class: 'mono url'}, r.url || ''),
    ]);
    box.appendChild(title);
    var link = safeUrl(r.trace_url);
    if (link) {
      box.appendChild(el('p', null, el('a', {href: link, target: '_blank', rel: 'noopener noreferrer',
        class: 'trace-link'}, 'Open this trace in your tracing UI ↗')));
    }
    if (r.outside_ms !== null && r.outside_ms !== undefined) {
      box.appendChild(el('div', {class: 'outside', 'data-outside-ms': r.outside_ms}, [
        el('strong', null, 'outside the service: ' + fmtMs(r.outside_ms)),
        ' — network, queues, connection setup (the client span ' + fmtMs(r.duration_ms) +
        ' minus the service\'s own SERVER span ' + fmtMs(r.server_ms) +
        (r.service ? ' in ' + r.service : '') + ')',
      ]));
    } else {
      box.appendChild(el('div', {class: 'outside none'},
        'The service under test sent no span for this request, so the time outside the service ' +
        'is unknown (does the service export its spans to stampede\'s receiver?).'));
    }
    var phases = r.phases || {};
    box.appendChild(table('phases-table', PHASES.map(function (p) { return p[1]; }),
      [PHASES.map(function (p) { return phases[p[0]] === undefined ? '–' : fmtMs(phases[p[0]]); })],
      PHASES.map(function () { return true; })));
    if (!trace || !trace.spans || !trace.spans.length) {
      box.appendChild(el('p', {class: 'empty'}, 'No span of this trace is stored.'));
      return;
    }
    box.appendChild(waterfall(trace, r));
    if (trace.total_spans > trace.spans.length) {
      box.appendChild(el('p', {class: 'hint'}, 'The first ' + fmtInt(trace.spans.length) + ' of ' +
        fmtInt(trace.total_spans) + ' spans of this trace are shown.'));
    }
    box.appendChild(el('div', {id: 'span-details', class: 'span-details'}));
  }

  // Spans ordered depth-first by start, children under their parent.
  function orderSpans(spans) {
    var ids = {};
    spans.forEach(function (s) { ids[s.span_id] = true; });
    var kids = {};
    var roots = [];
    spans.forEach(function (s) {
      if (s.parent && ids[s.parent] && s.parent !== s.span_id) (kids[s.parent] = kids[s.parent] || []).push(s);
      else roots.push(s);
    });
    function byStart(a, b) { return a.start_ms - b.start_ms; }
    var out = [];
    var seen = {};
    function walk(s, depth) {
      if (seen[s.span_id]) return;
      seen[s.span_id] = true;
      out.push({span: s, depth: depth});
      (kids[s.span_id] || []).sort(byStart).forEach(function (c) { walk(c, depth + 1); });
    }
    roots.sort(byStart).forEach(function (s) { walk(s, 0); });
    spans.forEach(function (s) { if (!seen[s.span_id]) walk(s, 0); });  // cycles
    return out;
  }

  function waterfall(trace, req) {
    var rows = orderSpans(trace.spans);
    var end = 0;
    trace.spans.forEach(function (s) { end = Math.max(end, s.start_ms + Math.max(s.duration_ms, 0)); });
    end = end || 1;
    var wf = el('div', {class: 'waterfall', id: 'waterfall'});
    var axis = el('div', {class: 'wf-row wf-axis'}, [el('div', {class: 'wf-label'}, 'span'),
      el('div', {class: 'wf-track'})]);
    var track = axis.lastChild;
    for (var i = 0; i <= 4; i++) {
      var tick = el('span', {class: 'wf-tick'}, fmtMs(end * i / 4));
      tick.style.left = (25 * i) + '%';
      track.appendChild(tick);
    }
    wf.appendChild(axis);
    rows.forEach(function (row) {
      var s = row.span;
      var isReq = s.span_id === req.span_id;
      var label = el('div', {class: 'wf-label'}, [
        el('span', {class: 'wf-name'}, s.name),
        el('span', {class: 'wf-src ' + (s.source === 'service' ? 'svc' : 'cli')},
          s.source === 'service' ? (s.service || 'service') : 'stampede'),
      ]);
      label.style.paddingLeft = (6 + 14 * Math.min(row.depth, 20)) + 'px';
      var bar = el('div', {class: 'wf-bar ' + (s.source === 'service' ? 'svc' : 'cli') +
        (s.status === 'error' ? ' err' : ''), title: s.name + ' — ' + fmtMs(s.duration_ms)});
      bar.style.left = (100 * s.start_ms / end).toFixed(3) + '%';
      bar.style.width = Math.max(100 * s.duration_ms / end, 0.2).toFixed(3) + '%';
      if (isReq) bar.appendChild(phaseBar(req, s.duration_ms));
      var dur = el('span', {class: 'wf-dur'}, fmtMs(s.duration_ms));
      var line = el('div', {class: 'wf-row span-row' + (isReq ? ' wf-req' : ''), tabindex: '0',
        'data-source': s.source,
        'data-kind': s.kind, 'data-span-id': s.span_id, 'data-service': s.service || null},
        [label, el('div', {class: 'wf-track'}, [bar, dur])]);
      line.addEventListener('click', function () { showSpan(s, line); });
      wf.appendChild(line);
    });
    var legend = el('div', {class: 'wf-legend'}, [
      el('span', {class: 'key cli'}, 'stampede (client)'), el('span', {class: 'key svc'}, 'service under test')]
      .concat(PHASES.map(function (p) {
        var k = el('span', {class: 'key'}, p[1]);
        k.style.setProperty('--c', p[2]);
        return k;
      })));
    wf.appendChild(legend);
    return wf;
  }

  function showSpan(s, line) {
    Array.prototype.forEach.call(document.querySelectorAll('.span-row.selected'), function (n) {
      n.classList.remove('selected');
    });
    line.classList.add('selected');
    var box = clear(byId('span-details'));
    box.appendChild(el('h3', null, [s.name, ' ', el('span', {class: 'pill'}, s.kind),
      ' ', el('span', {class: 'pill' + (s.status === 'error' ? ' bad' : '')}, s.status)]));
    var rows = [['source', s.source], ['service', s.service], ['scope', s.scope],
      ['span id', s.span_id], ['parent', s.parent], ['start', '+' + fmtMs(s.start_ms)],
      ['duration', fmtMs(s.duration_ms)], ['status message', s.status_message]];
    var attrs = s.attributes && typeof s.attributes === 'object' ? s.attributes : {value: s.attributes};
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      rows.push([k, typeof v === 'string' ? v : JSON.stringify(v)]);
    });
    box.appendChild(table('span-attributes', ['attribute', 'value'], rows.filter(function (r) {
      return r[1] !== '' && r[1] !== null && r[1] !== undefined;
    })));
    if (Array.isArray(s.events) && s.events.length) {
      box.appendChild(el('h4', null, 'Events'));
      box.appendChild(el('pre', {class: 'mono'}, JSON.stringify(s.events, null, 1)));
    } else if (typeof s.events === 'string') {
      box.appendChild(el('pre', {class: 'mono'}, s.events));
    }
  }

  window.stampedeTraceView = {
    render: render, phaseBar: phaseBar, requestTitle: requestTitle, statusText: statusText,
    PHASES: PHASES, fmtMs: fmtMs,
  };
})();
