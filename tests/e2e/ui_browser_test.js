#!/usr/bin/env node
// The live dashboard (`stampede run SCRIPT --ui 127.0.0.1:0`, src/ui/) in a
// real headless Chromium (Debian's /usr/bin/chromium), driven by
// playwright-core from tests/support/node_modules, against a real run: nginx
// on loopback (tests/support/nginx_conf.py) and a 60 s script with two named
// requests, one of them named `<script>alert(1)</script>`, and a threshold
// that fails from the first request (`http_reqs: count<1`).
//
//   node tests/e2e/ui_browser_test.js --stampede build/src/cli/stampede \
//        [--out-dir DIR] [--chromium PATH]
//
// Checks: the page loads under the server's CSP (no console error, no page
// error, nothing fetched elsewhere), the three charts draw (a canvas with
// non-blank pixels) and advance (uPlot's data grows between two moments), the
// per-name table shows the script's names — the hostile one as text, with no
// dialog and no injected element — and sorts by a clicked column (and stays
// sorted across ticks), the failing threshold turns red, Pause stops the
// request counter (two ticks with equal counts), Resume makes it grow again,
// Stop (after its confirm()) ends the stampede process, whose stdout holds
// the summary, and the page shows `run finished: OUTCOME (exit code N)` with
// the process's exit code. A second run with --ui-token: the page asks for the
// token (a password field, kept in memory), shows a refusal (401) in its
// status line, and steers with the right one. Screenshots (and, on a
// failure, stampede's output) go to $STAMPEDE_ARTIFACTS/ui_browser if set,
// else --out-dir, else a new temp dir; the path is printed.
//
// Every wait polls a condition with a deadline; nginx, stampede and the
// browser are stopped on every exit path. Prints one line per check and
// `N passed, M failed`; exits 1 on a failure, 77 (ctest SKIP_RETURN_CODE)
// only when chromium is absent.
'use strict';

const {execFileSync, spawn} = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');
const SUPPORT = path.join(REPO, 'tests', 'support');
const HOSTILE_NAME = '<script>alert(1)</script>';
const PLAIN_NAME = 'home';
const TRACE_TEMPLATE = 'http://traces.invalid/trace/{trace_id}';

function parseArgs(argv) {
  const a = {chromium: '/usr/bin/chromium', outDir: null, stampede: null};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error('missing value for ' + k);
      return argv[++i];
    };
    if (k === '--stampede') a.stampede = path.resolve(v());
    else if (k === '--out-dir') a.outDir = v();
    else if (k === '--chromium') a.chromium = v();
    else throw new Error('unknown argument ' + k);
  }
  if (!a.stampede) {
    throw new Error('usage: ui_browser_test.js --stampede BIN [--out-dir DIR] [--chromium PATH]');
  }
  // A CI's artifacts directory wins over ctest's --out-dir.
  if (process.env.STAMPEDE_ARTIFACTS) {
    a.outDir = path.resolve(process.env.STAMPEDE_ARTIFACTS, 'ui_browser');
  } else if (a.outDir) a.outDir = path.resolve(a.outDir);
  else a.outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stampede-ui-browser-'));
  return a;
}

const {loadPlaywright, checks} = require(path.join(SUPPORT, 'browser_harness.js'));
const check = checks.check;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn() (sync or async) until it returns a truthy value; returns that
// value, or null once timeoutMs has passed.
async function waitFor(fn, timeoutMs, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v = null;
    try {
      v = await fn();
    } catch (e) {
      v = null;
    }
    if (v) return v;
    if (Date.now() >= deadline) return null;
    await sleep(intervalMs);
  }
}

// ------------------------------------------------------------ processes ---
const children = [];
function track(child, name) {
  const c = {child, name, stdout: '', stderr: '', exit: null};
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => { c.stdout += d; });
  child.stderr.on('data', (d) => { c.stderr += d; });
  child.on('exit', (code, signal) => { c.exit = {code, signal}; });
  children.push(c);
  return c;
}
function killAll() {
  for (const c of children) {
    if (c.exit === null && c.child.pid) {
      try { process.kill(c.child.pid, 'SIGTERM'); } catch (e) { /* gone */ }
    }
  }
}
async function stopAll() {
  killAll();
  await waitFor(() => children.every((c) => c.exit !== null), 5000);
  for (const c of children) {
    if (c.exit === null && c.child.pid) {
      try { process.kill(c.child.pid, 'SIGKILL'); } catch (e) { /* gone */ }
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killAll(); process.exit(sig === 'SIGINT' ? 130 : 143); });
}

// nginx_conf.py `run`: serves until SIGTERM, then stops nginx and removes its prefix.
async function startNginx() {
  const c = track(spawn('python3', [path.join(SUPPORT, 'nginx_conf.py'), 'run', '--no-https',
    '--max-seconds', '600'], {stdio: ['ignore', 'pipe', 'pipe']}), 'nginx');
  const url = await waitFor(() => {
    const m = /^NGINX_URL='?([^'\s]+)'?$/m.exec(c.stdout);
    return m ? m[1] : (c.exit !== null ? 'exited' : null);
  }, 30000);
  if (!url || url === 'exited') {
    throw new Error('nginx did not start: ' + (c.stderr || '(no output)').trim().slice(-800));
  }
  return url;
}

function writeScript(dir) {
  const script = path.join(dir, 'ui_browser.lua');
  fs.writeFileSync(script, `-- ui_browser_test.js: two named requests (one hostile name), a threshold
-- that fails from the first request, 60 s so that the test ends the run.
local http = require("stampede.http")
local BASE_URL = ENV.BASE_URL

options = {
  vus = 2,
  duration = "60s",
  thresholds = {
    http_reqs = { "count<1" },
  },
}

function default()
  -- "${PLAIN_NAME}" is requested twice as often: the names' counts differ.
  local res = http.get(BASE_URL .. "/", { name = "${PLAIN_NAME}" })
  check(res, { ["home is 200"] = function(r) return r.status == 200 end })
  http.get(BASE_URL .. "/", { name = "${PLAIN_NAME}" })
  http.get(BASE_URL .. "/big.bin", { name = "${HOSTILE_NAME}" })
  sleep(0.1)
end
`);
  return script;
}

async function startStampede(bin, script, baseUrl, extra = [], name = 'stampede') {
  // In the artifacts directory: the run store it writes stays with them.
  const c = track(spawn(path.resolve(bin), ['run', script, '--ui', '127.0.0.1:0',
    '-e', 'BASE_URL=' + baseUrl].concat(extra),
  {stdio: ['ignore', 'pipe', 'pipe'], cwd: path.dirname(script)}), name);
  const url = await waitFor(() => {
    const m = /dashboard: (http:\/\/\S+)/.exec(c.stderr);
    return m ? m[1] : (c.exit !== null ? 'exited' : null);
  }, 30000);
  if (!url || url === 'exited') {
    throw new Error('stampede printed no `dashboard: URL` line (exit ' + JSON.stringify(c.exit) +
      '): ' + c.stderr.trim().slice(-800));
  }
  return {proc: c, url};
}

// A second, short run with --ui-token: the page asks for the token, shows
// the server's refusals in its status line and steers with the right token.
async function tokenRun(browser, args, script, baseUrl) {
  const TOKEN = 'ui-browser-test-token-0123456789';
  const run = await startStampede(args.stampede, script, baseUrl, ['--ui-token', TOKEN],
    'stampede --ui-token');
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Chromium logs a refused fetch (401) as a console error: that one is expected.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text());
  });
  page.on('dialog', (d) => d.accept().catch(() => {}));
  try {
    await page.goto(run.url);
    await page.waitForSelector('html[data-state="running"]', {timeout: 20000});
    check('token: the page asks for the token', await page.isVisible('#token') &&
      (await page.getAttribute('#token', 'type')) === 'password');
    const statusOf = () => page.evaluate(() => ({
      text: document.getElementById('status').textContent,
      kind: document.getElementById('status').dataset.kind,
      state: document.documentElement.dataset.state,
    }));
    await page.click('#btn-pause');
    const none = await statusOf();
    check('token: without it, Pause says the token is needed and sends nothing',
      none.kind === 'error' && /token/.test(none.text) && none.state === 'running',
      JSON.stringify(none));
    await page.fill('#token', 'wrong-token');
    await page.click('#btn-pause');
    const wrong = await waitFor(async () => {
      const st = await statusOf();
      return /refused \(401\)/.test(st.text) ? st : null;
    }, 10000);
    check('token: a wrong one is refused (401) in the status line',
      wrong && wrong.kind === 'error' && wrong.state === 'running', JSON.stringify(await statusOf()));
    await page.fill('#token', TOKEN);
    await page.click('#btn-pause');
    const ok = await waitFor(async () => (await statusOf()).state === 'paused', 10000);
    check('token: the right one pauses the run', ok, JSON.stringify(await statusOf()));
    const inStorage = await page.evaluate((t) => JSON.stringify(Object.assign({},
      localStorage, sessionStorage)).includes(t) || document.cookie.includes(t), TOKEN);
    check('token: it is kept in memory only (no storage, no cookie)', !inStorage);
    await page.click('#btn-stop');
    const exited = await waitFor(() => run.proc.exit, 30000);
    check('token: Stop with the token ends the run', exited, 'still running after 30 s');
    check('token: no page error or unexpected console error', errors.length === 0,
      JSON.stringify(errors));
  } finally {
    await page.close().catch(() => {});
  }
}

// ------------------------------------------------------------------ page ---
async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(args.chromium)) {
    console.log('SKIP: ' + args.chromium + ' not found (Debian package `chromium`; ' +
      'scripts/setup.sh installs it)');
    process.exit(77);
  }
  fs.mkdirSync(args.outDir, {recursive: true});
  console.log('# artifacts: ' + args.outDir);
  const {chromium} = loadPlaywright();

  const baseUrl = await startNginx();
  console.log('# nginx: ' + baseUrl);
  const script = writeScript(args.outDir);
  const run = await startStampede(args.stampede, script, baseUrl,
    ['--trace-url-template', TRACE_TEMPLATE]);
  const origin = new URL(run.url).origin;
  console.log('# dashboard: ' + run.url);

  const browser = await chromium.launch({
    executablePath: args.chromium, headless: true, args: ['--no-sandbox', '--disable-gpu'],
  });
  const dialogs = [];
  const pageErrors = [];
  const consoleErrors = [];
  const foreign = [];
  let confirmExpected = null;
  const confirms = [];
  try {
    const context = await browser.newContext({viewport: {width: 1400, height: 1100}});
    const page = await context.newPage();
    page.on('dialog', (d) => {
      if (d.type() === 'confirm' && confirmExpected) {
        confirms.push(d.message());
        d.accept().catch(() => {});
      } else {
        dialogs.push(d.type() + ': ' + d.message());
        d.dismiss().catch(() => {});
      }
    });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      // A trace whose second the store has not committed yet is a 404 the
      // page waits out (and says so); Chromium logs it all the same.
      if (m.type() === 'error' && !(/status of 404/.test(m.text()) &&
          /\/api\/trace\//.test(m.location().url || ''))) consoleErrors.push(m.text());
    });
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(origin + '/') && !u.startsWith('data:')) foreign.push(u);
    });

    const resp = await page.goto(run.url);
    const csp = resp ? (await resp.allHeaders())['content-security-policy'] || '' : '';
    check('the dashboard is served with a CSP without unsafe-inline',
      /script-src 'self'/.test(csp) && !/unsafe/.test(csp), csp);
    check('the page becomes ready (api/run answered, charts made)',
      await page.waitForSelector('html[data-ready="true"]', {timeout: 20000}).then(() => true,
        () => false));

    // ---- charts draw and advance ----
    const firstLen = await waitFor(() => page.evaluate(() => {
      const n = window.stampedeUi.charts.rps && window.stampedeUi.charts.rps.data[0].length;
      return n >= 2 ? n : null;
    }), 15000);
    check('the charts receive ticks', firstLen, 'no two ticks within 15 s');
    const charts = await page.evaluate(() => ['vus', 'rps', 'latency'].map((id) => {
      const fig = document.getElementById('chart-' + id);
      const canvas = fig && fig.querySelector('canvas');
      if (!canvas) return {id, canvas: false};
      const ctx = canvas.getContext('2d');
      const img = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let ink = 0;
      for (let i = 3; i < img.length; i += 4) if (img[i] !== 0) ink++;
      return {id, canvas: true, w: canvas.width, h: canvas.height, ink};
    }));
    check('three charts draw (a canvas of non-zero size with non-blank pixels)',
      charts.length === 3 && charts.every((c) => c.canvas && c.w > 0 && c.h > 0 && c.ink > 100),
      JSON.stringify(charts));
    const grown = await waitFor(() => page.evaluate((n) => {
      const c = window.stampedeUi.charts;
      const lens = ['vus', 'rps', 'latency'].map((id) => c[id].data[0].length);
      return lens.every((l) => l > n) ? lens : null;
    }, firstLen || 0), 10000);
    check('every chart advances (uPlot data grows between two moments)', grown,
      'stuck at ' + firstLen);

    // ---- the per-name table ----
    const nameCells = () => page.$$eval('#names-table tbody tr',
      (trs) => trs.map((tr) => tr.querySelector('td[data-key="name"]').textContent));
    const names = await waitFor(async () => {
      const n = await nameCells();
      return n.includes(PLAIN_NAME) && n.includes(HOSTILE_NAME) ? n : null;
    }, 10000);
    check('the per-name table shows the script\'s names', names, JSON.stringify(await nameCells()));
    check('the hostile name shows literally, as text', names && names.includes(HOSTILE_NAME));
    const injected = await page.evaluate(() => ({
      scripts: Array.from(document.scripts).map((s) => s.getAttribute('src')),
      inTable: document.querySelectorAll('#names-table script, #names-table img').length,
    }));
    check('no element was injected (only the page\'s own scripts)',
      JSON.stringify(injected.scripts) === JSON.stringify(['uplot.min.js', 'trace_view.js', 'app.js']) &&
        injected.inTable === 0, JSON.stringify(injected));

    // ---- sorting ----
    const readOrder = () => page.$$eval('#names-table tbody tr', (trs) => trs.map((tr) => ({
      name: tr.dataset.name,
      reqs: Number(tr.querySelector('td[data-key="reqs"]').textContent.replace(/,/g, '')),
    })));
    const sortOf = (key) => page.getAttribute('#names-table th[data-key="' + key + '"]',
      'aria-sort');
    await page.click('#names-table th[data-key="reqs"]');
    let dir = await sortOf('reqs');
    let rows = await readOrder();
    const sortedBy = (rs, d) => rs.every((r, i) => i === 0 ||
      (d === 'ascending' ? rs[i - 1].reqs <= r.reqs : rs[i - 1].reqs >= r.reqs));
    const firstDir = dir;
    check('clicking "requests" sorts the table by requests (numerically)',
      (dir === 'ascending' || dir === 'descending') && sortedBy(rows, dir) && rows.length >= 2,
      dir + ' ' + JSON.stringify(rows));
    await page.click('#names-table th[data-key="reqs"]');
    dir = await sortOf('reqs');
    const rows2 = await readOrder();
    check('clicking it again reverses the order',
      dir !== firstDir && sortedBy(rows2, dir) &&
        rows2.map((r) => r.name).join('\n') !== rows.map((r) => r.name).join('\n'),
      dir + ' ' + JSON.stringify(rows2));
    await page.click('#names-table th[data-key="name"]');
    const byName = (await readOrder()).map((r) => r.name);
    const expectByName = byName.slice().sort((a, b) => a.localeCompare(b));
    check('clicking "name" sorts by name',
      (await sortOf('name')) === 'ascending' && JSON.stringify(byName) === JSON.stringify(expectByName),
      JSON.stringify(byName));
    const ticksNow = Number(await page.getAttribute('html', 'data-ticks'));
    await waitFor(async () => Number(await page.getAttribute('html', 'data-ticks')) >= ticksNow + 2,
      10000);
    const after = (await readOrder()).map((r) => r.name);
    check('the sort survives updates', (await sortOf('name')) === 'ascending' &&
      JSON.stringify(after) === JSON.stringify(expectByName), JSON.stringify(after));

    // ---- thresholds ----
    const red = await waitFor(() => page.evaluate(() => {
      const tr = document.querySelector('#thresholds-table tr.threshold[data-metric="http_reqs"]');
      if (!tr || tr.dataset.ok !== 'false') return null;
      const pill = tr.querySelector('.pill');
      return {cls: pill.className, text: pill.textContent, bg: getComputedStyle(pill).backgroundColor,
        color: getComputedStyle(pill).color};
    }), 10000);
    const reddish = (c) => {
      const m = /rgba?\((\d+), (\d+), (\d+)/.exec(c || '');
      return m && Number(m[1]) > Number(m[2]) + 60 && Number(m[1]) > Number(m[3]) + 60;
    };
    check('the failing threshold (http_reqs: count<1) turns red',
      red && /\bbad\b/.test(red.cls) && reddish(red.color), JSON.stringify(red));

    // ---- the other cards ----
    const cards = await page.evaluate(() => ({
      total: Number(document.getElementById('total-reqs').dataset.value),
      passes: Number(document.getElementById('checks-counts').dataset.passes),
      dropped: document.getElementById('dropped-iterations').dataset.value,
      progress: document.getElementById('progress').dataset.fraction,
      state: document.documentElement.dataset.state,
    }));
    check('the cards show requests, checks, dropped iterations and progress',
      cards.total > 0 && cards.passes > 0 && cards.dropped !== undefined &&
        Number(cards.progress) > 0 && cards.state === 'running', JSON.stringify(cards));
    // The progress bar's width is set through CSSOM (style-src 'self' allows
    // that, not a style attribute): it follows the fraction.
    const bar = await page.evaluate(() => {
      const outer = document.getElementById('progress');
      const fill = document.getElementById('progress-fill');
      return {fraction: Number(outer.dataset.fraction),
        ratio: fill.getBoundingClientRect().width / outer.getBoundingClientRect().width};
    });
    check('the progress bar is drawn at the run\'s fraction',
      bar.fraction > 0 && bar.ratio > 0 && Math.abs(bar.ratio - bar.fraction) < 0.1,
      JSON.stringify(bar));
    await page.screenshot({path: path.join(args.outDir, 'running.png'), fullPage: true});

    // ---- the run's progress names its scenario ----
    const stage = await waitFor(() => page.evaluate(() => {
      const s = document.querySelector('#progress-stages .stage');
      return s ? {scenario: s.dataset.scenario, text: s.textContent} : null;
    }), 10000);
    check('the progress names the running scenario and its time left',
      stage && stage.scenario === 'default' && /^default: constant-vus \(\d+m?\d*s left\)$/.test(stage.text),
      JSON.stringify(stage));

    // ---- exemplars: a click on a latency point lists its slowest requests ----
    // A real mouse click on a point a few seconds old (its spans have come
    // in: store-only runs send them every second); retried while the
    // answer is still empty.
    let exemplars = null;
    const exDeadline = Date.now() + 25000;
    while (Date.now() < exDeadline) {
      const pos = await page.evaluate(() => {
        const u = window.stampedeUi.charts.latency;
        const n = u.data[0].length;
        const idx = n - 3;
        if (idx < 1 || u.data[1][idx] === null) return null;
        document.getElementById('exemplars-section').dataset.state = '';
        const rect = u.over.getBoundingClientRect();
        return {idx, x: rect.left + u.valToPos(u.data[0][idx], 'x'), y: rect.top + rect.height / 2};
      });
      if (pos) {
        await page.mouse.move(pos.x, pos.y);
        await page.mouse.click(pos.x, pos.y);
        const got = await waitFor(() => page.evaluate(() => {
          const s = document.getElementById('exemplars-section');
          if (s.dataset.state !== 'ready' && s.dataset.state !== 'error') return null;
          const rows = Array.from(s.querySelectorAll('tr.exemplar')).map((tr) => ({
            trace: tr.dataset.traceId, span: tr.dataset.spanId,
            name: tr.querySelector('td.name').textContent,
            ms: tr.cells[4].textContent,
            href: (tr.querySelector('a.trace-out') || {}).href || null,
            waterfall: !!tr.querySelector('button.open-trace')}));
          return {state: s.dataset.state, hidden: s.hidden, from: Number(s.dataset.from),
            to: Number(s.dataset.to), hint: document.getElementById('exemplars-hint').textContent,
            rows};
        }), 5000);
        if (got && got.rows.length) { exemplars = got; break; }
        exemplars = got;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    check('clicking a latency point lists that second\'s slowest requests',
      exemplars && exemplars.state === 'ready' && !exemplars.hidden && exemplars.rows.length > 0 &&
        exemplars.to - exemplars.from > 0 && exemplars.to - exemplars.from <= 1500,
      JSON.stringify(exemplars));
    const exRows = exemplars ? exemplars.rows : [];
    check('each lists the script\'s request name (the hostile one as text) and its trace id',
      exRows.length > 0 && exRows.every((r) => (r.name === PLAIN_NAME || r.name === HOSTILE_NAME) &&
        /^[0-9a-f]{32}$/.test(r.trace) && /^[0-9a-f]{16}$/.test(r.span)), JSON.stringify(exRows));
    check('trace ids link through --trace-url-template',
      exRows.length > 0 && exRows.every((r) => r.href === TRACE_TEMPLATE.replace('{trace_id}', r.trace)),
      JSON.stringify(exRows.map((r) => r.href)));
    check('with the run store on, each offers its waterfall', exRows.length > 0 &&
      exRows.every((r) => r.waterfall));
    if (exRows.length) {
      // The store commits a second a few seconds after it ends: the page
      // waits for it by itself (and says so).
      let wf = null;
      const wfDeadline = Date.now() + 30000;
      while (Date.now() < wfDeadline && !wf) {
        await page.click('#exemplars-table tr.exemplar[data-span-id="' + exRows[0].span + '"] td.name');
        wf = await waitFor(() => page.evaluate((span) => {
          const err = document.querySelector('#trace [data-error]');
          if (err) return {error: err.textContent};
          const row = document.querySelector('#waterfall .span-row[data-span-id="' + span + '"]');
          if (!row) return null;
          return {trace: document.documentElement.dataset.trace,
            kind: row.dataset.kind, source: row.dataset.source,
            rows: document.querySelectorAll('#waterfall .span-row').length,
            phases: !!document.getElementById('phases-table'),
            title: document.getElementById('trace-title').textContent};
        }, exRows[0].span), 20000);
        if (wf && wf.error) {
          check('a trace not yet stored says so', /not in the run store yet/.test(wf.error), wf.error);
          wf = null;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      check('clicking a request opens its waterfall from the run store',
        wf && wf.trace === exRows[0].trace && wf.title === exRows[0].trace &&
          wf.kind === 'client' && wf.source === 'client' && wf.rows >= 1 && wf.phases,
        JSON.stringify(wf));
      await page.screenshot({path: path.join(args.outDir, 'exemplars.png'), fullPage: true});
    }

    // ---- late connect: a second page draws the history, then continues ----
    const late = await context.newPage();
    late.on('pageerror', (e) => pageErrors.push('late page: ' + String(e)));
    late.on('console', (m) => { if (m.type() === 'error') consoleErrors.push('late page: ' + m.text()); });
    await late.goto(run.url);
    const hist = await waitFor(() => Promise.all([
      late.evaluate(() => window.stampedeUi && window.stampedeUi.charts.rps ?
        window.stampedeUi.charts.rps.data[0].length : 0),
      page.evaluate(() => window.stampedeUi.charts.rps.data[0].length),
    ]).then(([l, p]) => (l >= 3 && l >= p - 1 ? {late: l, first: p} : null)), 10000);
    check('a page opened late draws the history at once', hist, 'late page has less history');
    const lateGrows = hist && await waitFor(() => late.evaluate((n) =>
      window.stampedeUi.charts.rps.data[0].length > n, hist.late), 10000);
    check('... and then advances with the run', lateGrows);
    await late.close();

    // ---- pause ----
    const sample = () => page.evaluate(() => ({
      ticks: Number(document.documentElement.dataset.ticks),
      reqs: Number(document.getElementById('total-reqs').dataset.value),
      state: document.documentElement.dataset.state,
    }));
    await page.click('#btn-pause');
    const pausedState = await waitFor(async () => (await sample()).state === 'paused', 10000);
    check('Pause: the page shows paused', pausedState,
      JSON.stringify(await sample()) + ' status: ' + await page.textContent('#status'));
    // In-flight requests may still finish: wait for two ticks with equal counts.
    let prev = await sample();
    const still = await waitFor(async () => {
      const s = await sample();
      if (s.ticks === prev.ticks) return null;
      const same = s.reqs === prev.reqs && s.ticks > prev.ticks;
      prev = s;
      return same ? s : null;
    }, 15000);
    check('Pause: the request counter stops increasing (two ticks with equal counts)', still,
      JSON.stringify(prev));
    await page.screenshot({path: path.join(args.outDir, 'paused.png'), fullPage: true});
    const pausedAt = (await sample()).reqs;

    // ---- resume ----
    await page.click('#btn-resume');
    const resumed = await waitFor(async () => {
      const s = await sample();
      return s.state === 'running' && s.reqs > pausedAt ? s : null;
    }, 15000);
    check('Resume: the page shows running and the counter increases again', resumed,
      JSON.stringify(await sample()) + ' (paused at ' + pausedAt + ')');
    const steering = await page.$$eval('#steering-table tbody tr',
      (trs) => trs.map((tr) => tr.dataset.action));
    check('the steering log lists pause and resume',
      steering.includes('pause') && steering.includes('resume'), JSON.stringify(steering));

    // ---- set VUs from the page: 2 → 5 ----
    const vusRow = '#scenarios-table tr[data-scenario="default"]';
    check('the scenarios table offers Set VUs for the constant-vus scenario',
      await page.$(vusRow + ' button.steer-set[data-action="set_vus"]') !== null,
      await page.$eval('#scenarios-table', (t) => t.textContent).catch((e) => e.message));
    await page.fill(vusRow + ' input.steer-value', '5');
    await page.click(vusRow + ' button.steer-set');
    const fiveVus = await waitFor(() => page.evaluate(() => {
      const last = window.stampedeUi.state.last;
      return last && last.vus === 5 && document.getElementById('card-vus').textContent === '5';
    }), 15000);
    check('Set VUs: the vus metric follows (5 VUs in the ticks and the card)', fiveVus,
      await page.evaluate(() => JSON.stringify(window.stampedeUi.state.last &&
        window.stampedeUi.state.last.vus)));

    // ---- stop ----
    confirmExpected = true;
    await page.click('#btn-stop');
    const exited = await waitFor(() => run.proc.exit, 30000);
    check('Stop asks for confirmation', confirms.length === 1, JSON.stringify(confirms));
    check('Stop: the stampede process exits', exited, 'still running after 30 s');
    check('its stdout holds the summary (http_reqs)', /http_reqs/.test(run.proc.stdout),
      run.proc.stdout.slice(-600));
    const vusLine = /^\s*vus\.*:\s*\d+\s+min=\d+\s+max=(\d+)/m.exec(run.proc.stdout);
    check('the summary\'s vus metric reports the 5 VUs set from the page',
      vusLine && Number(vusLine[1]) === 5, vusLine ? vusLine[0] : run.proc.stdout.slice(-600));
    const finished = await waitFor(() => page.evaluate(() => ({
      state: document.documentElement.dataset.state,
      badge: document.getElementById('run-state').textContent,
      status: document.getElementById('status').textContent,
    })).then((f) => (f.state === 'finished' ? f : null)), 10000);
    const m = finished && /^run finished: (\S+) \(exit code (-?\d+)\)$/.exec(finished.status);
    check('the page shows finished: outcome (exit code)',
      finished && m && finished.badge === 'finished: ' + m[1], JSON.stringify(finished));
    check('the exit code shown is the process\'s',
      m && exited && Number(m[2]) === exited.code,
      (m ? m[2] : '?') + ' vs ' + JSON.stringify(exited));
    const buttons = await page.evaluate(() => ['btn-pause', 'btn-resume', 'btn-stop'].map(
      (id) => document.getElementById(id).disabled));
    check('the controls are disabled once finished', buttons.every(Boolean), JSON.stringify(buttons));
    await page.screenshot({path: path.join(args.outDir, 'finished.png'), fullPage: true});
    console.log('# screenshots: ' + ['running.png', 'exemplars.png', 'paused.png', 'finished.png']
      .map((f) => path.join(args.outDir, f)).join(' '));

    await sleep(300);  // let a late injected handler fire, if any
    check('no injected script ran (no alert)', dialogs.length === 0, JSON.stringify(dialogs));
    check('no page error', pageErrors.length === 0, JSON.stringify(pageErrors));
    check('no console error (e.g. a CSP violation)', consoleErrors.length === 0,
      JSON.stringify(consoleErrors));
    check('the page fetched nothing from elsewhere', foreign.length === 0, JSON.stringify(foreign));

    await tokenRun(browser, args, script, baseUrl);
  } finally {
    await browser.close().catch(() => {});
    const s = children.find((c) => c.name === 'stampede');
    if (s && checks.failed) {
      fs.writeFileSync(path.join(args.outDir, 'stampede.stdout'), s.stdout);
      fs.writeFileSync(path.join(args.outDir, 'stampede.stderr'), s.stderr);
    }
    await stopAll();
  }
  console.log(checks.passed + ' passed, ' + checks.failed + ' failed');
  process.exit(checks.failed ? 1 : 0);
}

main().catch(async (e) => {
  console.log('FAIL - ' + (e && e.stack || e));
  console.log(checks.passed + ' passed, ' + (checks.failed + 1) + ' failed');
  await stopAll();
  process.exit(1);
});
