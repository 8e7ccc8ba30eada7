// Keeps N headless Chromium pages on a live dashboard for
// bench/dashboard_browsers.sh: whenever `stampede run --ui 127.0.0.1:PORT`
// is up, every page loads it and follows the run (the page's own SSE stream,
// charts and tables, as a user's browser would) until the run ends, then
// waits for the next one. Runs until SIGTERM; each (re)connection is logged
// on stdout as `connected PAGE RUN_ID`.
//
//   node bench/dashboard_browsers.js --port 18998 [--pages 3] [--chromium /usr/bin/chromium]
'use strict';

const path = require('path');
const {loadPlaywright} = require(path.join(__dirname, '..', 'tests', 'support', 'browser_harness.js'));

function parseArgs(argv) {
  const a = {port: 0, pages: 3, chromium: '/usr/bin/chromium'};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--port') a.port = Number(v);
    else if (k === '--pages') a.pages = Number(v);
    else if (k === '--chromium') a.chromium = v;
    else throw new Error('unknown argument ' + k);
  }
  if (!(a.port > 0 && a.port < 65536)) throw new Error('--port PORT is required');
  if (!(a.pages >= 1 && a.pages <= 10)) throw new Error('--pages must be 1..10');
  return a;
}

const net = require('net');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let stopping = false;

// Whether something listens on 127.0.0.1:port (a TCP connect, nothing more).
function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({host: '127.0.0.1', port});
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

// Between runs the pages stay idle on the finished dashboard, and the wait
// for the next one is a cheap TCP probe every 100 ms: reloading a browser
// page in a loop would take the CPU the measured runs need.
async function follow(page, n, url, port) {
  let lastRun = null;
  while (!stopping) {
    try {
      while (!stopping && !(await portOpen(port))) await sleep(100);
      await page.goto(url, {timeout: 5000});
      await page.waitForFunction(() => document.documentElement.dataset.ready === 'true',
        null, {timeout: 5000});
      const run = await page.evaluate(() => window.stampedeUi.run.run_id);
      if (run === lastRun) {  // the previous run's dashboard, still draining: wait it out
        while (!stopping && (await portOpen(port))) await sleep(100);
        continue;
      }
      lastRun = run;
      console.log('connected ' + n + ' ' + run);
      // Until the run ends (or the process goes away): the page works as a user's would.
      await page.waitForFunction(() => ['finished', 'lost'].includes(document.documentElement.dataset.state),
        null, {timeout: 0, polling: 500});
    } catch (e) {
      await sleep(200);  // it went away while loading: probe again
    }
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const {chromium} = loadPlaywright();
  const browser = await chromium.launch({executablePath: args.chromium, headless: true,
    args: ['--no-sandbox', '--disable-gpu']});
  const stop = async () => { stopping = true; await browser.close().catch(() => {}); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const url = 'http://127.0.0.1:' + args.port + '/';
  const pages = [];
  for (let i = 0; i < args.pages; i++) {
    // One context each: separate browsers as far as the server can tell.
    const context = await browser.newContext({viewport: {width: 1400, height: 1000}});
    pages.push(follow(await context.newPage(), i + 1, url, args.port));
  }
  console.log('ready ' + args.pages);
  await Promise.all(pages);
}

main().catch((e) => { console.error(e); process.exit(1); });
