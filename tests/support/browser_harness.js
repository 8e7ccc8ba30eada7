// Shared by the real-browser tests (tests/e2e/*_browser_test.js): loading
// playwright-core from tests/support (running `npm ci` there once when it is
// missing) and the one-line-per-check reporting they print
// (`ok   - name` / `FAIL - name: detail`, then `N passed, M failed`).
'use strict';

const {execFileSync} = require('child_process');
const fs = require('fs');
const path = require('path');

function loadPlaywright() {
  const dir = path.join(__dirname, 'node_modules', 'playwright-core');
  if (!fs.existsSync(dir)) {
    execFileSync('npm', ['ci', '--prefix', __dirname, '--no-audit', '--no-fund'], {stdio: 'inherit'});
  }
  return require(dir);
}

// The counters and check(name, ok, detail) → !!ok.
const checks = {
  passed: 0,
  failed: 0,
  check(name, ok, detail) {
    if (ok) {
      checks.passed++;
      console.log('ok   - ' + name);
    } else {
      checks.failed++;
      console.log('FAIL - ' + name + (detail !== undefined ? ': ' + detail : ''));
    }
    return !!ok;
  },
};

module.exports = {loadPlaywright, checks};
