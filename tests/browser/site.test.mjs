// A real browser test of the public site: Debian's Chromium (/usr/bin/chromium, driven
// by playwright-core; nothing is downloaded) loads every page that `portal serve`
// serves, runs axe-core with the WCAG 2.1 AA rules, checks the window calculator with
// JavaScript on and off, checks the statistics page's charts and tables (the site is
// built with a statistics file of made-up figures), checks live reload, and saves a
// screenshot of the home page.
//
// Run from the repository root after `cargo build`:
//   npm ci --prefix tests/browser && node --test tests/browser/
// Environment: PORTAL_BIN (default target/debug/portal), CHROMIUM_BIN (default
// /usr/bin/chromium). The server runs in a temporary copy of content/, templates/ and
// portal.toml, so nothing is written into the repository except the screenshot under
// target/browser/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PORTAL_BIN = process.env.PORTAL_BIN
  ? path.resolve(process.env.PORTAL_BIN)
  : path.join(REPO, 'target', 'debug', 'portal');
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const SCREENSHOT = path.join(REPO, 'target', 'browser', 'home.png');
const START_TIMEOUT_MS = 60_000; // the first build and the bind
const TEST_TIMEOUT_MS = 120_000; // every test and hook; the page loop gets more
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
// Every closure reason code: the build refuses a statistics file that lacks one or
// has another, so a change to the reasons fails here loudly, naming the file.
const REASONS = [
  'incomplete', 'invalid_value', 'over_100_lines', 'mixed_mco', 'unknown_template', 'too_early',
  'too_late', 'not_exhausted', 'fee_for_service', 'medicare_only', 'duplicate', 'npi_not_registered',
];
const LAUNCH_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Shared by the tests; set up in `before`. */
let work; // the temporary folder the server runs in
let server; // the `portal serve` child process
let serverLog = ''; // everything it wrote to stderr, for failure messages
let origin; // http://127.0.0.1:PORT
let browser;
let config; // the few portal.toml values the tests compare against
let pagePaths = []; // every page path from the sitemap
let filePaths = []; // every other file the sitemap lists (the statistics downloads)

// ---------------------------------------------------------------------------------
// Setup and teardown

before(async () => {
  assert.ok(
    fs.existsSync(PORTAL_BIN),
    `no portal binary at ${PORTAL_BIN}: run \`cargo build\` first or set PORTAL_BIN`,
  );
  assert.ok(fs.existsSync(CHROMIUM_BIN), `no Chromium at ${CHROMIUM_BIN}: apt-get install chromium`);

  work = fs.mkdtempSync(path.join(os.tmpdir(), 'portal-browser-'));
  for (const name of ['content', 'templates', 'portal.toml']) {
    fs.cpSync(path.join(REPO, name), path.join(work, name), { recursive: true });
  }
  config = readConfig(fs.readFileSync(path.join(work, 'portal.toml'), 'utf8'));
  writeStatistics(path.join(work, config.statisticsFile));

  origin = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM_BIN, headless: true, args: LAUNCH_ARGS });

  const sitemap = await fetch(`${origin}/sitemap.xml`, { signal: AbortSignal.timeout(30_000) });
  assert.equal(sitemap.status, 200, '/sitemap.xml answers 200');
  const locs = [...(await sitemap.text()).matchAll(/<loc>([^<]*)<\/loc>/g)].map((m) => unescapeXml(m[1]));
  assert.ok(locs.length > 0, 'the sitemap lists pages');
  for (const loc of locs) {
    assert.ok(
      loc.startsWith(config.baseUrl.replace(/\/$/, '') + '/'),
      `sitemap URL ${loc} starts with the config's base_url ${config.baseUrl}`,
    );
  }
  const paths = locs.map((loc) => {
    const url = new URL(loc);
    return url.pathname + url.search;
  });
  const isPage = (p) => p.endsWith('/') || p.endsWith('.html');
  pagePaths = paths.filter(isPage);
  filePaths = paths.filter((p) => !isPage(p));
}, { timeout: TEST_TIMEOUT_MS });

after(async () => {
  await browser?.close().catch(() => {});
  stopServer();
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, { timeout: TEST_TIMEOUT_MS });

// Never leave the server behind, even when the runner is interrupted or times out.
process.on('exit', stopServer);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    stopServer();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}

/** Starts `portal serve --port 0` in the temporary folder; resolves with its origin. */
function startServer() {
  server = spawn(PORTAL_BIN, ['serve', '--port', '0'], {
    cwd: work,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  return new Promise((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(
      () => fail(new Error(`portal serve printed no "Serving … at http://…" line in ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    function fail(error) {
      clearTimeout(timer);
      error.message += `\n--- portal serve stderr ---\n${serverLog}`;
      reject(error);
    }
    server.on('error', fail);
    server.on('exit', (code, signal) => fail(new Error(`portal serve exited early (code ${code}, signal ${signal})`)));
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', (chunk) => {
      serverLog += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        const match = /^Serving .* at (http:\/\/[^\s/]+)\/? /.exec(line);
        if (match) {
          clearTimeout(timer);
          server.removeAllListeners('exit');
          resolve(match[1]);
        }
      }
    });
  });
}

function stopServer() {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
}

/** base_url and the R1 window from portal.toml (the defaults when a key is absent). */
function readConfig(toml) {
  const section = (name) => {
    const start = toml.search(new RegExp(`^\\[${name}\\]\\s*$`, 'm'));
    if (start < 0) return '';
    const rest = toml.slice(start).split('\n').slice(1).join('\n');
    const end = rest.search(/^\[/m);
    return end < 0 ? rest : rest.slice(0, end);
  };
  const value = (text, key) => new RegExp(`^\\s*${key}\\s*=\\s*("([^"]*)"|\\d+)`, 'm').exec(text);
  const baseUrl = value(section('site'), 'base_url');
  const min = value(section('rules'), 'window_min_days');
  const max = value(section('rules'), 'window_max_days');
  const statisticsFile = value(section('store'), 'statistics_file');
  const mcos = [...toml.matchAll(/^\[\[mco\]\]\s*\ncode\s*=\s*"([^"]*)"\s*\nname\s*=\s*"([^"]*)"/gm)]
    .map((m) => ({ code: m[1], name: m[2] }));
  return {
    baseUrl: baseUrl ? baseUrl[2] : 'https://portal.example.gov',
    windowMinDays: min ? Number(min[1]) : 30,
    windowMaxDays: max ? Number(max[1]) : 60,
    statisticsFile: statisticsFile ? statisticsFile[2] : 'var/statistics.json',
    mcos,
  };
}

/** A statistics file of made-up figures as intake writes it: 12 months to November 2026,
 * every configured MCO and `mco: null`, from a fixed seed. */
function writeStatistics(file) {
  assert.ok(config.mcos.length > 0, 'portal.toml lists the MCOs');
  let seed = 13;
  const below = (bound) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % bound;
  };
  const months = Array.from({ length: 12 }, (_, n) => {
    const date = new Date(Date.UTC(2025, 11 + n, 1));
    return date.toISOString().slice(0, 7);
  });
  const rows = months.flatMap((month) =>
    [...config.mcos.map((mco) => mco.code), null].map((mco) => ({
      month,
      mco,
      complaints: below(40),
      lines_forwarded: mco ? below(150) : 0,
      lines_closed: Object.fromEntries(REASONS.map((reason) => [reason, below(6)])),
      proposals_on_time: mco ? below(30) : 0,
      proposals_late: mco ? below(5) : 0,
      overdue: mco ? below(4) : 0,
      median_days_to_proposal: mco && below(5) > 0 ? below(400) / 10 : null,
      extensions: mco ? below(3) : 0,
    })));
  const registrations = months.map((month) => ({ month, received: below(20), approved: below(15), denied: below(4) }));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ as_of: '2026-11-30', months: rows, registrations }, null, 2));
}

function unescapeXml(text) {
  return text
    .replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'").replaceAll('&amp;', '&');
}

/** A page in a fresh context (JavaScript on unless told), closed with the context. */
async function withPage(options, body) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US', ...options });
  try {
    return await body(await context.newPage());
  } finally {
    await context.close();
  }
}

/** The structural facts every page must have. */
async function pageFacts(page) {
  return page.evaluate(() => ({
    lang: document.documentElement.getAttribute('lang'),
    title: document.title.trim(),
    description: document.querySelector('meta[name="description"]')?.getAttribute('content')?.trim() ?? null,
    canonical: document.querySelector('link[rel="canonical"]')?.getAttribute('href') ?? null,
    h1: document.querySelectorAll('h1').length,
    links: [...document.querySelectorAll('a[href], link[href], script[src], img[src]')]
      .map((element) => element.href || element.src),
  }));
}

/** axe-core's WCAG 2.1 A and AA violations on the page, one readable line each. */
async function axeViolations(page, label) {
  await page.addScriptTag({ path: AXE_PATH });
  const violations = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }).then((result) => result.violations),
    WCAG_TAGS,
  );
  return violations.flatMap((violation) =>
    violation.nodes.map((node) =>
      `${label}: [${violation.impact}] ${violation.id}: ${violation.help} at ${node.target.join(' ')}` +
      (node.failureSummary ? `\n      ${node.failureSummary.replaceAll('\n', '\n      ')}` : '') +
      `\n      ${violation.helpUrl}`),
  );
}

/** The expected calculator result: `days` calendar days after an ISO date, in UTC. */
function addDays(iso, days) {
  const [year, month, day] = iso.split('-').map(Number);
  return new Date(Date.UTC(year, month - 1, day + days)).toISOString().slice(0, 10);
}

// ---------------------------------------------------------------------------------
// Tests

test('every page: 200, lang, title, description, canonical, one h1, no WCAG 2.1 AA violation', { timeout: 5 * TEST_TIMEOUT_MS }, async (t) => {
  assert.ok(pagePaths.includes('/'), 'the sitemap lists the home page');
  const targets = [...pagePaths.map((p) => ({ path: p, status: 200 })), { path: '/404.html', status: 200 }];
  const problems = [];
  const links = new Map(); // internal URL → first page that links to it
  await withPage({}, async (page) => {
    for (const target of targets) {
      await t.test(target.path, async () => {
        const response = await page.goto(origin + target.path, { waitUntil: 'load' });
        assert.equal(response.status(), target.status, `${target.path} answers ${target.status}`);
        const facts = await pageFacts(page);
        assert.equal(facts.lang, 'en', `${target.path}: <html lang="en">`);
        assert.ok(facts.title, `${target.path}: a non-empty <title>`);
        assert.ok(facts.description, `${target.path}: a non-empty <meta name="description">`);
        assert.ok(facts.canonical, `${target.path}: a <link rel="canonical">`);
        assert.equal(
          facts.canonical,
          config.baseUrl.replace(/\/$/, '') + target.path,
          `${target.path}: the canonical link is the page's permalink`,
        );
        assert.equal(facts.h1, 1, `${target.path}: exactly one <h1> (found ${facts.h1})`);
        for (const link of facts.links) {
          const url = new URL(link);
          if (url.origin !== origin) continue; // mailto:, tel:, the canonical's base_url, other sites
          url.hash = '';
          if (!links.has(url.href)) links.set(url.href, target.path);
        }
        const found = await axeViolations(page, target.path);
        problems.push(...found);
        assert.deepEqual(found, [], `axe-core WCAG 2.1 AA violations:\n  ${found.join('\n  ')}`);
      });
    }
  });
  await t.test('every internal link answers 200', async () => {
    assert.ok(links.size > pagePaths.length, `internal links were collected (${links.size})`);
    const broken = [];
    for (const [url, from] of links) {
      const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      await response.arrayBuffer();
      if (response.status !== 200) broken.push(`${new URL(url).pathname} (linked from ${from}): ${response.status}`);
    }
    assert.deepEqual(broken, [], `broken internal links:\n  ${broken.join('\n  ')}`);
    t.diagnostic(`${links.size} internal URLs checked`);
  });
  assert.deepEqual(problems, [], `axe-core WCAG 2.1 AA violations:\n  ${problems.join('\n  ')}`);
});

test('a missing URL answers 404 with the 404 page, which passes axe', { timeout: TEST_TIMEOUT_MS }, async () => {
  const notFoundPage = await (await fetch(`${origin}/404.html`, { signal: AbortSignal.timeout(30_000) })).text();
  const missing = await fetch(`${origin}/no-such-page/`, { signal: AbortSignal.timeout(30_000) });
  assert.equal(missing.status, 404, 'a missing URL answers 404');
  assert.match(missing.headers.get('content-type') ?? '', /^text\/html/, 'the 404 answer is HTML');
  assert.equal(await missing.text(), notFoundPage, 'the 404 answer is /404.html');
  await withPage({}, async (page) => {
    const response = await page.goto(`${origin}/no-such-page/`);
    assert.equal(response.status(), 404);
    const facts = await pageFacts(page);
    assert.equal(facts.h1, 1, 'one <h1> on the 404 page');
    assert.match(await page.locator('h1').innerText(), /not found/i, 'the 404 page says the page was not found');
    const found = await axeViolations(page, '/no-such-page/ (404)');
    assert.deepEqual(found, [], `axe-core WCAG 2.1 AA violations:\n  ${found.join('\n  ')}`);
  });
});

test('the window calculator works with JavaScript on', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withPage({}, async (page) => {
    const response = await page.goto(`${origin}/before-you-submit/`);
    assert.equal(response.status(), 200);
    const form = page.locator('.calculator .window-form');
    await form.waitFor({ state: 'visible', timeout: 10_000 });

    const bounds = await page.locator('.calculator').evaluate((section) => ({
      min: Number(section.dataset.minDays),
      max: Number(section.dataset.maxDays),
    }));
    assert.equal(bounds.min, config.windowMinDays, 'data-min-days is portal.toml window_min_days');
    assert.equal(bounds.max, config.windowMaxDays, 'data-max-days is portal.toml window_max_days');
    // The shipped portal.toml has R1's 30–60 day window (Public Act 101-0209).
    assert.deepEqual(bounds, { min: 30, max: 60 }, 'the shipped config has the 30–60 day window');

    const result = page.locator('#window-result');
    const check = async (filed) => {
      const earliest = addDays(filed, bounds.min);
      const latest = addDays(filed, bounds.max);
      await page
        .waitForFunction(
          ([e, l]) => {
            const r = document.querySelector('#window-result');
            return r.dataset.earliest === e && r.dataset.latest === l;
          },
          [earliest, latest],
          { timeout: 10_000 },
        )
        .catch(async () => {
          const shown = await result.evaluate((r) => ({ ...r.dataset, text: r.textContent }));
          assert.fail(`filed ${filed}: expected ${earliest} to ${latest}, the page shows ${JSON.stringify(shown)}`);
        });
      const text = await result.innerText();
      assert.ok(text.includes(earliest), `the result mentions ${earliest}: ${text}`);
      assert.ok(text.includes(latest), `the result mentions ${latest}: ${text}`);
      return { earliest, latest, text };
    };

    // Type a date and press the button.
    await page.locator('#filed-on').fill('2026-11-01');
    await page.getByRole('button', { name: 'Show my window' }).click();
    const first = await check('2026-11-01');
    assert.deepEqual([first.earliest, first.latest], ['2026-12-01', '2026-12-31']);
    assert.equal(await result.getAttribute('data-earliest'), '2026-12-01');
    assert.equal(await result.getAttribute('data-latest'), '2026-12-31');

    // The button alone (no change event): a value set silently, then submitted.
    await page.locator('#filed-on').evaluate((input) => { input.value = '2027-01-15'; });
    await page.getByRole('button', { name: 'Show my window' }).click();
    await check('2027-01-15');

    // The page with its result shown still passes axe.
    const found = await axeViolations(page, '/before-you-submit/ (calculator result shown)');
    assert.deepEqual(found, [], `axe-core WCAG 2.1 AA violations:\n  ${found.join('\n  ')}`);
  });
});

test('with JavaScript off the calculator form stays hidden and the examples table shows', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withPage({ javaScriptEnabled: false }, async (page) => {
    const response = await page.goto(`${origin}/before-you-submit/`);
    assert.equal(response.status(), 200);
    assert.equal(await page.locator('.calculator').count(), 1, 'the calculator section is there');
    assert.equal(await page.locator('.window-form').isVisible(), false, 'the form stays hidden');
    assert.equal(await page.locator('.window-examples').isVisible(), true, 'the examples table is visible');
    const rows = await page.locator('.window-examples tbody tr').count();
    assert.ok(rows > 0, `the examples table has rows (${rows})`);
    const cells = await page.locator('.window-examples tbody tr').first().locator('td').allInnerTexts();
    assert.equal(cells.length, 3, 'each example row has filed, earliest, latest');
    assert.ok(cells.every((cell) => cell.trim()), `every cell has text: ${JSON.stringify(cells)}`);
  });
});

test('a screenshot of the home page', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withPage({}, async (page) => {
    const response = await page.goto(`${origin}/`);
    assert.equal(response.status(), 200);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    fs.rmSync(SCREENSHOT, { force: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = fs.readFileSync(SCREENSHOT);
    assert.ok(png.length > 10_000, `the screenshot has content (${png.length} bytes)`);
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    const height = png.readUInt32BE(20);
    assert.ok(height > 900, `the screenshot is the full page (${height} px tall)`);
    t.diagnostic(`screenshot: ${SCREENSHOT}`);
  });
});

test('the statistics page: figures, SVG charts with role, title and description, tables, print', { timeout: TEST_TIMEOUT_MS }, async () => {
  assert.ok(pagePaths.includes('/statistics/'), 'the sitemap lists the statistics page');
  assert.deepEqual(
    [...filePaths].sort(),
    ['/statistics/statistics.csv', '/statistics/statistics.json'],
    'the sitemap lists the two downloads',
  );
  const csv = await fetch(`${origin}/statistics/statistics.csv`, { signal: AbortSignal.timeout(30_000) });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
  assert.match(await csv.text(), /^month,mco,complaints,lines_forwarded,lines_closed_/);
  const json = await fetch(`${origin}/statistics/statistics.json`, { signal: AbortSignal.timeout(30_000) });
  assert.equal(json.status, 200);
  assert.equal((await json.json()).as_of, '2026-11-30');

  // Drawn at build time: the page as written has no script at all.
  const written = fs.readFileSync(path.join(work, 'site', 'statistics', 'index.html'), 'utf8');
  assert.equal(written.includes('<script'), false, 'the statistics page has no script');

  await withPage({ javaScriptEnabled: false }, async (page) => {
    const response = await page.goto(`${origin}/statistics/`);
    assert.equal(response.status(), 200);
    assert.match(await page.locator('.as-of').innerText(), /^Figures as of November 30, 2026/);
    const charts = await page.locator('svg').evaluateAll((svgs) => svgs.map((svg) => {
      const named = (svg.getAttribute('aria-labelledby') ?? '').split(' ').map((id) => document.getElementById(id));
      return {
        role: svg.getAttribute('role'),
        named: named.map((element) => element && element.closest('svg') === svg ? element.localName : null),
        title: named[0]?.textContent.trim() ?? '',
        desc: named[1]?.textContent.trim() ?? '',
        width: svg.getBoundingClientRect().width,
        figure: svg.closest('figure') !== null,
        table: svg.closest('figure')?.querySelector('table caption')?.textContent.trim() ?? '',
      };
    }));
    assert.equal(charts.length, 3, 'three charts');
    for (const chart of charts) {
      assert.equal(chart.role, 'img', 'each chart is an image to assistive technology');
      assert.deepEqual(chart.named, ['title', 'desc'], 'aria-labelledby names its own <title> and <desc>');
      assert.ok(chart.title.length > 10, `a title: ${chart.title}`);
      assert.ok(chart.desc.length > 40, `a description: ${chart.desc}`);
      assert.ok(chart.width > 300, `the chart is drawn (${chart.width} px wide)`);
      assert.ok(chart.figure && chart.table, 'each chart is followed by its table, in its figure');
    }
    const headers = await page.locator('table.figures th').evaluateAll((cells) => cells.map((cell) => cell.getAttribute('scope')));
    assert.ok(headers.length > 50 && headers.every((scope) => scope === 'col' || scope === 'row'), 'every header cell has a scope');
    const names = await page.locator('#complaints-table thead th').allInnerTexts();
    for (const mco of config.mcos) assert.ok(names.includes(mco.name), `the complaints table names ${mco.name}`);

    // In print: the navigation goes, the charts and every table column stay.
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('.toc').isVisible(), false, 'no table of contents in print');
    const printed = await page.locator('svg').evaluateAll((svgs) => svgs.map((svg) => svg.getBoundingClientRect().width));
    assert.ok(printed.every((width) => width > 300), `the charts print (${printed})`);
    const overflow = await page.locator('.table-scroll').evaluateAll((regions) =>
      regions.filter((region) => region.scrollWidth > region.clientWidth + 1).length);
    assert.equal(overflow, 0, 'no table is cut in print');
  });
});

// Last: it changes the served content.
test('live reload: editing content reloads the open page', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withPage({}, async (page) => {
    // The page's first poll of /__reload records the generation to compare with.
    const firstPoll = page.waitForResponse((r) => new URL(r.url()).pathname === '/__reload', { timeout: 10_000 });
    await page.goto(`${origin}/contact/`);
    await firstPoll;
    await page.evaluate(() => { window.beforeReload = true; });

    const marker = `Live reload check ${process.pid}-${Date.now()}.`;
    assert.equal(await page.locator('main').innerText().then((text) => text.includes(marker)), false);
    const reloaded = page.waitForEvent('load', { timeout: 30_000 });
    fs.appendFileSync(path.join(work, 'content', 'contact.md'), `\n${marker}\n`);
    await reloaded;
    await page.waitForFunction((text) => document.querySelector('main')?.innerText.includes(text), marker, {
      timeout: 30_000,
    });
    assert.equal(await page.evaluate(() => window.beforeReload), undefined, 'the page was reloaded, not patched');
    // The script is added as the page is served: the built site never polls /__reload.
    const written = fs.readFileSync(path.join(work, 'site', 'contact', 'index.html'), 'utf8');
    assert.ok(written.includes(marker), 'the rebuilt page is on disk');
    assert.equal(written.includes('__reload'), false, 'the page on disk has no live-reload script');
  }).catch((error) => {
    error.message += `\n--- portal serve stderr ---\n${serverLog}`;
    throw error;
  });
});
