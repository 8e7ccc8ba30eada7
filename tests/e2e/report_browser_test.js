#!/usr/bin/env node
// `stampede report` in a real headless Chromium (Debian's /usr/bin/chromium),
// driven by playwright-core from tests/support/node_modules.
//
// CI (ctest report_browser): a fixture run store written by report_fixture
// (the real RunStore; hostile strings in names and span names):
//   node tests/e2e/report_browser_test.js --stampede build/src/cli/stampede \
//        --fixture build/tests/report_fixture --out-dir build/tests/report_browser
// On a real run (e.g. against the demo shop):
//   node tests/e2e/report_browser_test.js --stampede build/src/cli/stampede \
//        --db RUN.db --name 'GET /api/products' --service shop [--hostile]
//
// Checks: every chart draws (a uPlot canvas of non-zero size with non-blank
// pixels, and series colour where there is data), the per-name table holds
// the expected names and sorts by a clicked column, dragging across a chart
// zooms every chart and filters the request list, the slowest request opens
// a waterfall with a span of the service (source=service), the time outside
// the service is named, trace links use the template, and hostile strings
// show literally while no injected script runs (no dialog, no stray element,
// no CSP violation, no page error). Keeps a screenshot (path printed).
//
// Prints one line per check and `N passed, M failed`; exits 1 on a failure,
// 77 (ctest SKIP_RETURN_CODE) only when chromium is absent.
'use strict';

const {execFileSync} = require('child_process');
const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');
const SUPPORT = path.join(REPO, 'tests', 'support');
const HOSTILE_NAME = '<script>alert(1)</script>';
const HOSTILE_SPAN = '<img src=x onerror=alert(2)><script>alert(3)</script>';
const TRACE_TEMPLATE = 'https://grafana.example/explore?traceId={trace_id}';

function parseArgs(argv) {
  const a = {names: [], chromium: '/usr/bin/chromium', outDir: null, hostile: false};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error('missing value for ' + k);
      return argv[++i];
    };
    if (k === '--stampede') a.stampede = v();
    else if (k === '--db') a.db = v();
    else if (k === '--report') a.report = v();
    else if (k === '--fixture') a.fixture = v();
    else if (k === '--name' || k === '--names') a.names.push(v());
    else if (k === '--service') a.service = v();
    else if (k === '--out-dir') a.outDir = v();
    else if (k === '--screenshot') a.screenshot = v();
    else if (k === '--chromium') a.chromium = v();
    else if (k === '--hostile') a.hostile = true;
    else throw new Error('unknown argument ' + k);
  }
  if (!(a.report || (a.stampede && (a.db || a.fixture)))) {
    throw new Error('usage: report_browser_test.js (--report PAGE.html | --stampede BIN ' +
      '(--db RUN.db | --fixture BIN)) [--name NAME]... [--service NAME] [--hostile] ' +
      '[--out-dir DIR] [--screenshot PNG] [--chromium PATH]');
  }
  a.outDir = path.resolve(a.outDir || (a.screenshot ? path.dirname(a.screenshot)
    : path.join(process.cwd(), 'report_browser')));
  a.screenshot = path.resolve(a.screenshot || path.join(a.outDir, 'report.png'));
  return a;
}

const {loadPlaywright, checks} = require(path.join(SUPPORT, 'browser_harness.js'));
const check = checks.check;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(args.chromium)) {
    console.log('SKIP: ' + args.chromium + ' not found (Debian package `chromium`; ' +
      'scripts/setup.sh installs it)');
    process.exit(77);
  }
  fs.mkdirSync(args.outDir, {recursive: true});

  let db = args.db;
  if (args.fixture) {
    db = path.join(args.outDir, 'fixture.db');
    for (const f of [db, db + '-wal', db + '-shm']) fs.rmSync(f, {force: true});
    const out = execFileSync(args.fixture, [db, '--seconds', '40', '--rps', '60'],
      {encoding: 'utf8'});
    const info = JSON.parse(out.trim().split('\n').pop());
    if (!args.names.length) args.names = info.names;
    if (!args.service) args.service = info.service;
    args.hostile = true;
    console.log('# fixture: ' + db + ' (' + info.requests + ' requests, ' + info.spans + ' spans)');
  }
  let html = args.report && path.resolve(args.report);
  if (!html) {
    html = path.join(args.outDir, 'report.html');
    fs.rmSync(html, {force: true});
    const t0 = Date.now();
    const made = execFileSync(args.stampede,
      ['report', db, '-o', html, '--trace-url-template', TRACE_TEMPLATE], {encoding: 'utf8'});
    console.log('# ' + made.trim() + ' in ' + (Date.now() - t0) + ' ms');
  }
  check('the report page exists', fs.existsSync(html) && fs.statSync(html).size > 50000);

  const {chromium} = loadPlaywright();
  const browser = await chromium.launch({
    executablePath: args.chromium, headless: true, args: ['--no-sandbox', '--disable-gpu'],
  });
  const dialogs = [];
  const pageErrors = [];
  const consoleErrors = [];
  const requests = [];
  try {
    const context = await browser.newContext({viewport: {width: 1400, height: 1000}});
    const page = await context.newPage();
    page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    await page.goto('file://' + html);
    await page.waitForSelector('html[data-ready="true"]', {timeout: 30000});

    // ---- charts ----
    const charts = await page.evaluate(() => {
      return Array.from(document.querySelectorAll('figure.chart')).map((fig) => {
        const canvas = fig.querySelector('canvas');
        if (!canvas) return {id: fig.dataset.chart, canvas: false};
        const ctx = canvas.getContext('2d');
        const img = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        let colored = 0;
        for (let i = 0; i < img.length; i += 4) {
          if (img[i + 3] === 0) continue;
          painted++;
          const max = Math.max(img[i], img[i + 1], img[i + 2]);
          const min = Math.min(img[i], img[i + 1], img[i + 2]);
          if (max - min > 60) colored++;
        }
        return {id: fig.dataset.chart, canvas: true, width: canvas.width, height: canvas.height,
          painted, colored};
      });
    });
    const expected = ['vus', 'rps', 'latency', 'errors', 'dropped', 'knee'];
    for (const id of expected) {
      check('chart ' + id + ' exists', charts.some((c) => c.id === id));
    }
    for (const c of charts) {
      check('chart ' + c.id + ' draws on a canvas of non-zero size with non-blank pixels',
        c.canvas && c.width > 0 && c.height > 0 && c.painted > 500, JSON.stringify(c));
    }
    for (const c of charts.filter((c) => ['vus', 'rps', 'latency', 'knee'].includes(c.id))) {
      check('chart ' + c.id + ' draws its series', c.colored > 50, JSON.stringify(c));
    }

    // ---- per-name table ----
    const names = await page.$$eval('#names-table tbody tr td:first-child',
      (tds) => tds.map((td) => td.textContent));
    for (const n of args.names) {
      check('per-name table lists ' + JSON.stringify(n), names.includes(n), JSON.stringify(names));
    }
    // Sorting: click p95 (descending), then again (ascending).
    const expectOrder = await page.evaluate((dir) => {
      const rows = window.stampedeReport.data.names.slice();
      return rows.sort((a, b) => dir * ((a.p95 === null ? -Infinity : a.p95) -
        (b.p95 === null ? -Infinity : b.p95)) || String(a.name).localeCompare(String(b.name)))
        .map((r) => r.name);
    }, -1);
    await page.click('#names-table th[data-key="p95"]');
    let order = await page.$$eval('#names-table tbody tr', (trs) => trs.map((tr) => tr.dataset.name));
    let sortState = await page.getAttribute('#names-table th[data-key="p95"]', 'aria-sort');
    check('clicking p95 sorts the per-name table by p95, slowest first',
      sortState === 'descending' && JSON.stringify(order) === JSON.stringify(expectOrder),
      sortState + ' ' + JSON.stringify(order));
    await page.click('#names-table th[data-key="p95"]');
    order = await page.$$eval('#names-table tbody tr', (trs) => trs.map((tr) => tr.dataset.name));
    sortState = await page.getAttribute('#names-table th[data-key="p95"]', 'aria-sort');
    const reversed = expectOrder.slice();
    const asc = await page.evaluate(() => {
      const rows = window.stampedeReport.data.names.slice();
      return rows.sort((a, b) => ((a.p95 === null ? -Infinity : a.p95) -
        (b.p95 === null ? -Infinity : b.p95)) || String(a.name).localeCompare(String(b.name)))
        .map((r) => r.name);
    });
    check('clicking it again sorts fastest first',
      sortState === 'ascending' && JSON.stringify(order) === JSON.stringify(asc),
      sortState + ' ' + JSON.stringify(order) + ' vs ' + JSON.stringify(reversed));

    // ---- trace links ----
    const template = await page.evaluate(() => window.stampedeReport.data.trace_url_template);
    if (template === TRACE_TEMPLATE) {
      const links = await page.$$eval('#requests-table a', (as) => as.map((a) => a.getAttribute('href')));
      check('every listed request links its trace through the template',
        links.length > 0 && links.every((h) => /^https:\/\/grafana\.example\/explore\?traceId=[0-9a-f]{32}$/.test(h)),
        JSON.stringify(links.slice(0, 3)));
    }

    // ---- brush: drag across the rps chart ----
    const seconds = await page.evaluate(() => window.stampedeReport.data.series.second.length);
    const over = await page.$('#chart-rps .u-over');
    await over.scrollIntoViewIfNeeded();
    const box = await over.boundingBox();
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.45, box.y + box.height / 2, {steps: 8});
    await page.mouse.move(box.x + box.width * 0.55, box.y + box.height / 2, {steps: 4});
    await page.mouse.up();
    const win = await page.getAttribute('html', 'data-window');
    const scales = await page.evaluate(() => window.stampedeReport.state.charts
      .filter((c) => !c.knee).map((c) => [c.u.scales.x.min, c.u.scales.x.max]));
    const [from, to] = (win || '').split('-').map(Number);
    check('dragging across a chart selects a window', win && to > from && to - from < seconds,
      'window ' + win);
    check('every time chart zooms to that window', scales.length > 0 &&
      scales.every(([a, b]) => Math.abs(a - from) < 1e-6 && Math.abs(b - to) < 1e-6),
      JSON.stringify(scales));
    const rowSeconds = await page.$$eval('#requests-table tbody tr',
      (trs) => trs.map((tr) => Number(tr.dataset.second)));
    check('the slow-request list follows the window',
      rowSeconds.every((s) => s >= from && s <= to), JSON.stringify(rowSeconds));
    await page.dblclick('#chart-latency .u-over');
    const reset = await page.getAttribute('html', 'data-window');
    const fullScale = await page.evaluate(() => window.stampedeReport.state.charts
      .filter((c) => !c.knee).map((c) => [c.u.scales.x.min, c.u.scales.x.max]));
    check('double-click resets every chart', reset === '' &&
      fullScale.every(([a, b]) => a <= 0 && b >= seconds - 1), reset + ' ' + JSON.stringify(fullScale));

    // ---- the slowest request's waterfall ----
    const slowest = await page.$('#requests-table tbody tr');
    check('the slowest request is listed', !!slowest);
    if (slowest) {
      const slowestTrace = await slowest.getAttribute('data-trace-id');
      await slowest.click();
      await page.waitForSelector('#waterfall', {timeout: 5000});
      const wf = await page.evaluate(() => {
        const rows = Array.from(document.querySelectorAll('#waterfall .span-row'));
        return {
          trace: document.documentElement.dataset.trace,
          rows: rows.map((r) => ({source: r.dataset.source, kind: r.dataset.kind,
            service: r.dataset.service || '', name: r.querySelector('.wf-name').textContent})),
          outside: (document.querySelector('#trace .outside') || {}).textContent || '',
        };
      });
      check('clicking the slowest request opens its waterfall', wf.trace === slowestTrace);
      check('the waterfall has the client span',
        wf.rows.some((r) => r.source === 'client' && r.kind === 'client'), JSON.stringify(wf.rows));
      check('the waterfall has a span of the service (source=service)',
        wf.rows.some((r) => r.source === 'service' && (!args.service || r.service === args.service)),
        JSON.stringify(wf.rows));
      check('the time outside the service is shown and named',
        /^outside the service: [\d.]+ (ms|s) — network, queues, connection setup/.test(wf.outside),
        wf.outside);
    }

    // ---- hostile strings ----
    if (args.hostile) {
      check('a hostile request name shows literally in the per-name table',
        names.includes(HOSTILE_NAME));
      // Open a request of the hostile name: its service span has a hostile name.
      await page.click('#tab-slow');
      const hostileRow = await page.evaluateHandle((n) => Array.from(
        document.querySelectorAll('#requests-table tbody tr')).find(
        (tr) => tr.querySelector('td.name').textContent === n) || null, HOSTILE_NAME);
      const el = hostileRow.asElement();
      if (!el) {
        const any = await page.evaluate((n) => {
          const r = window.stampedeReport.data.requests.find((x) => x.name === n);
          if (r) window.stampedeReport.openTrace(r);
          return !!r;
        }, HOSTILE_NAME);
        check('a request with the hostile name is embedded', any);
      } else {
        await el.click();
      }
      await page.waitForSelector('#waterfall');
      const spanNames = await page.$$eval('#waterfall .wf-name', (ns) => ns.map((n) => n.textContent));
      check('a hostile span name shows literally in the waterfall', spanNames.includes(HOSTILE_SPAN),
        JSON.stringify(spanNames));
      const injected = await page.evaluate(() => ({
        scripts: document.scripts.length,
        imgs: document.querySelectorAll('img').length,
        bold: document.querySelectorAll('b').length,
      }));
      check('no element was injected', injected.scripts === 4 && injected.imgs === 0 &&
        injected.bold === 0, JSON.stringify(injected));
      const headerText = await page.textContent('#run-meta');
      check('a hostile script path shows literally in the header', headerText.includes(HOSTILE_NAME));
    }
    await page.waitForTimeout(300);  // let a late injected handler fire, if any
    check('no injected script ran (no dialog)', dialogs.length === 0, JSON.stringify(dialogs));
    check('no page error', pageErrors.length === 0, JSON.stringify(pageErrors));
    check('no console error (e.g. a CSP violation)', consoleErrors.length === 0,
      JSON.stringify(consoleErrors));
    check('the page fetched nothing from the network', requests.length === 0, JSON.stringify(requests));

    // Screenshot with a waterfall open, kept as the test's artifact.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({path: args.screenshot, fullPage: true});
    console.log('# screenshot: ' + args.screenshot);

    // A killed run (no end, no exit code): the page says so and how far data goes.
    if (args.fixture) {
      const killedDb = path.join(args.outDir, 'killed.db');
      for (const f of [killedDb, killedDb + '-wal', killedDb + '-shm']) fs.rmSync(f, {force: true});
      execFileSync(args.fixture, [killedDb, '--seconds', '7', '--rps', '10', '--no-finish']);
      const killedHtml = path.join(args.outDir, 'killed.html');
      execFileSync(args.stampede, ['report', killedDb, '-o', killedHtml]);
      await page.goto('file://' + killedHtml);
      await page.waitForSelector('html[data-ready="true"]');
      const warning = await page.evaluate(() => {
        const w = document.getElementById('run-warning');
        return {hidden: w.hidden, text: w.textContent,
          badge: document.getElementById('run-outcome').textContent};
      });
      check('a killed run says it did not end cleanly and where its data ends',
        !warning.hidden && /did not end cleanly.*data up to second 6\b/.test(warning.text) &&
        /did not end cleanly/.test(warning.badge), JSON.stringify(warning));
    }
  } finally {
    await browser.close();
  }
  console.log(checks.passed + ' passed, ' + checks.failed + ' failed');
  process.exit(checks.failed ? 1 : 0);
}

main().catch((e) => {
  console.log('FAIL - ' + (e && e.stack || e));
  console.log(checks.passed + ' passed, ' + (checks.failed + 1) + ' failed');
  process.exit(1);
});
