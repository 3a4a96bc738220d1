// Browser check of the live ticker page of `wsloop -mode feed`: headless
// Chromium (the system browser, not a downloaded one) driven by
// playwright-core.
//
// Usage: node feed_page.js CHROMIUM SYMBOLS http://127.0.0.1:PORT/
//
// The Go test (feed_page_test.go) owns the wsloop processes; the two sides
// take turns over stdout and stdin, one line each:
//
//   script: STEP <what>: <page state>   progress, any number
//   script: PHASE1 OK                   page live, recovered after idle drops
//   test:   stopped                     the server is gone
//   script: PHASE2 OK                   the page noticed
//   test:   restarted                   a new server on the same address
//   script: OK                          a fresh snapshot, then the live stream
//
// Any failure prints "FAIL: <why>" and exits non-zero; every wait is
// bounded, and so is the whole run.
'use strict';

const readline = require('readline');
const { chromium } = require('playwright-core');

const [browserPath, symbolsArg, url] = process.argv.slice(2);
const symbols = Number(symbolsArg);
if (!browserPath || !(symbols > 0) || !url) {
  console.log('usage: node feed_page.js CHROMIUM SYMBOLS http://host:port/');
  process.exit(2);
}

// fail prints msg on one line (the test reads lines) and exits;
// process.exit also kills the browser, as playwright-core's exit hook ends
// its process group.
function fail(msg) {
  const line = String(msg).replace(/\x1b\[[0-9;]*m/g, '').trim().replace(/\s*\n\s*/g, ' | ');
  console.log('FAIL: ' + line);
  process.exit(1);
}

setTimeout(() => fail('timed out after 180 s'), 180000).unref();

// Lines from the test, in order; a line may arrive before it is awaited.
// The test closes stdin to abort the run.
const lines = [];
let lineWaiter = null;
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (l) => {
  lines.push(l.trim());
  if (lineWaiter) lineWaiter();
});
rl.on('close', () => fail('stdin closed: the test ended the run'));

// expectLine waits (bounded) for the test's next line and requires it to be
// want.
async function expectLine(want, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (lines.length === 0) {
    const left = deadline - Date.now();
    if (left <= 0) fail(`no "${want}" from the test within ${timeoutMs} ms`);
    await new Promise((resolve) => {
      const t = setTimeout(resolve, left);
      lineWaiter = () => {
        clearTimeout(t);
        resolve();
      };
    });
    lineWaiter = null;
  }
  const got = lines.shift();
  if (got !== want) fail(`got "${got}" from the test, want "${want}"`);
}

// pageState reads what the page shows; its element ids are the page's
// contract with this test.
function pageState() {
  const e = (id) => document.getElementById(id);
  if (!e('state')) return null;
  const rows = {};
  for (const tr of document.querySelectorAll('#rows tr[data-sym]')) {
    rows[tr.dataset.sym] = tr.querySelector('.px').textContent;
  }
  return {
    state: e('state').dataset.state,
    count: +e('count').textContent,
    gaps: +e('gaps').textContent,
    reconnects: +e('reconnects').textContent,
    recovery: e('recovery').dataset.result,
    rows,
    nrows: document.querySelectorAll('#rows tr').length,
    stale: document.querySelectorAll('#rows tr.stale').length,
  };
}

function describe(s) {
  return `state ${s.state}, ${s.count} messages, ${s.gaps} gaps, ${s.reconnects} reconnects, ` +
    `recovery ${JSON.stringify(s.recovery)}, ${s.nrows} rows (${s.stale} stale)`;
}

// waitFor polls the page every 100 ms until ok accepts its state, and fails
// after timeoutMs.
async function waitFor(page, what, timeoutMs, ok) {
  const deadline = Date.now() + timeoutMs;
  let s = null;
  for (;;) {
    s = await page.evaluate(pageState);
    if (s && ok(s)) {
      console.log(`STEP ${what}: ${describe(s)}`);
      return s;
    }
    if (Date.now() > deadline) {
      fail(`no ${what} within ${timeoutMs} ms; the page shows ${JSON.stringify(s)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: browserPath,
    headless: true,
    timeout: 60000,
    args: ['--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update'],
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(10000);
  await page.goto(url, { timeout: 20000 });

  // Phase 1: the server closes connections idle for 2 s, and the page only
  // listens, so it is dropped every 2 s and must recover each time.
  let s = await waitFor(page, 'the page open with every symbol', 20000,
    (s) => s.state === 'open' && Object.keys(s.rows).length === symbols && s.count > 0);
  const before = s.rows;
  await waitFor(page, 'prices updated in place', 10000, (s) => {
    let changed = 0;
    for (const [sym, px] of Object.entries(s.rows)) {
      if (px !== before[sym]) changed++;
    }
    return changed >= symbols / 2 && s.nrows === symbols;
  });
  s = await waitFor(page, 'a reconnect with recovery', 15000,
    (s) => s.reconnects >= 1 && s.recovery === 'ok' && s.state === 'open');
  let count = s.count;
  s = await waitFor(page, 'the stream going on after recovery', 10000,
    (s) => s.count > count + 50 && s.state === 'open');
  if (s.gaps !== 0) {
    fail(`${s.gaps} sequence gaps across idle-timeout reconnects (recovery should fill them): ${JSON.stringify(s)}`);
  }
  console.log('PHASE1 OK');

  // Phase 2: the test stopped the server.
  await expectLine('stopped', 30000);
  s = await waitFor(page, 'the page noticing the server went away', 10000, (s) => s.state !== 'open');
  const reconnects = s.reconnects;
  console.log('PHASE2 OK');

  // Phase 3: a new server (a new broker, so a new epoch) on the same
  // address: recovery must fail, and a fresh snapshot replace every row
  // before the live stream goes on.
  await expectLine('restarted', 30000);
  s = await waitFor(page, 'the page back on the restarted server with a fresh snapshot', 20000,
    (s) => s.state === 'open' && s.recovery === 'snapshot' && s.reconnects > reconnects &&
      s.nrows === symbols && s.stale === 0);
  count = s.count;
  s = await waitFor(page, 'a fresh stream after the restart', 10000,
    (s) => s.count > count + 50 && s.state === 'open' && s.recovery === 'snapshot');
  if (s.gaps !== 0 || s.nrows !== symbols || s.stale !== 0) {
    fail(`after the restart: ${s.gaps} gaps, ${s.nrows} rows, ${s.stale} stale (want 0, ${symbols}, 0): ${JSON.stringify(s)}`);
  }
  await browser.close();
  console.log('OK');
  process.exit(0);
}

main().catch((err) => fail(err && err.message ? err.message : err));
