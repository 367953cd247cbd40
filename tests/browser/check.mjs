// Opens densing report pages in headless Chromium (Debian's, not a downloaded one)
// and checks what a reader would see: the page loads with no console errors and no
// network requests, every figure is present and non-empty, and sorting the models
// table by density (a prediction report: its predictions by score) works. Saves a full-page screenshot of each page.
//
// usage: node check.mjs SHOT_DIR PAGE.html [PAGE.html ...]
// env:   CHROMIUM  path of the browser (default /usr/bin/chromium)
// Prints one JSON line per page; exits non-zero on the first failed check.

import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

function fail(msg) {
  console.error(`browser check FAILED: ${msg}`);
  process.exit(1);
}

const [shotDir, ...pages] = process.argv.slice(2);
if (!shotDir || pages.length === 0) fail('usage: node check.mjs SHOT_DIR PAGE.html [...]');

const exe = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(exe)) {
  fail(`no Chromium at ${exe}: install it with "apt-get install -y chromium" (or set CHROMIUM)`);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  fail(`playwright-core is not installed: run "npm ci --prefix tests/browser" (${e.message})`);
}

mkdirSync(shotDir, { recursive: true });
const browser = await chromium.launch({
  executablePath: exe,
  headless: true,
  // Without the background-networking flags Chromium phones home at start, which
  // a closed network refuses (and which would not be the page's doing anyway).
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

try {
  for (const page of pages) {
    await checkPage(resolve(page));
  }
} finally {
  await browser.close();
}

async function checkPage(file) {
  const url = pathToFileURL(file).href;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  const requests = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (r.url() !== url) requests.push(r.url());
  });
  // Anything but the page itself is refused, so a stray reference cannot succeed
  // silently even if it slipped past the request listener.
  await context.route('**/*', (route) =>
    route.request().url() === url ? route.continue() : route.abort(),
  );

  const response = await page.goto(url, { waitUntil: 'load' });
  if (!response || !response.ok()) problems.push(`page did not load: ${response && response.status()}`);
  await page.waitForTimeout(200);

  const figures = await page.$$eval('figure.fig', (figs) =>
    figs.map((f) => {
      const svg = f.querySelector('svg');
      const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
      return {
        id: f.id,
        width: Math.round(box.width),
        height: Math.round(box.height),
        shapes: svg ? svg.querySelectorAll('circle, path, polyline, polygon, rect, line').length : 0,
        texts: svg ? svg.querySelectorAll('text').length : 0,
      };
    }),
  );
  if (figures.length === 0) problems.push('no figures on the page');
  for (const f of figures) {
    if (f.width < 200 || f.height < 100) problems.push(`figure ${f.id} is ${f.width}x${f.height} px`);
    if (f.shapes < 3 || f.texts < 3) problems.push(`figure ${f.id} looks empty: ${f.shapes} shapes, ${f.texts} texts`);
  }

  // A density report sorts its models by ρ; a prediction report (densing predict)
  // sorts its predictions by score.
  const kind = await page.evaluate(() => document.body.dataset.page || 'density');
  const { table, key, summaryWord } =
    kind === 'predict'
      ? { table: '#predictions', key: 'score', summaryWord: /predicted/i }
      : { table: '#models', key: 'rho', summaryWord: /doubling/i };
  const summary = await page.textContent('#summary');
  if (!summary || !summaryWord.test(summary)) problems.push(`summary lacks ${summaryWord}`);

  const rowCount = await page.$$eval(`${table} tbody tr`, (rows) => rows.length);
  const sorted = [];
  for (const expected of ['descending', 'ascending']) {
    await page.click(`${table} th[data-key="${key}"] button`);
    const state = await page.$eval(table, (t, key) => {
      const th = t.querySelector(`th[data-key="${key}"]`);
      const col = Array.prototype.indexOf.call(th.parentNode.children, th);
      const keys = Array.from(t.tBodies[0].rows, (r) => r.cells[col].dataset.sort);
      return { aria: th.getAttribute('aria-sort'), keys };
    }, key);
    if (state.aria !== expected) problems.push(`after a click the ${key} column says ${state.aria}, expected ${expected}`);
    const values = state.keys.filter((k) => k !== '').map(Number);
    const firstEmpty = state.keys.indexOf('');
    if (firstEmpty !== -1 && state.keys.slice(firstEmpty).some((k) => k !== '')) {
      problems.push('rows without a density are not all at the end');
    }
    for (let i = 1; i < values.length; i++) {
      const ok = expected === 'descending' ? values[i - 1] >= values[i] : values[i - 1] <= values[i];
      if (!ok) {
        problems.push(`${key} column not ${expected} at row ${i}: ${values[i - 1]} then ${values[i]}`);
        break;
      }
    }
    sorted.push(values.length);
  }

  const shot = join(shotDir, `${basename(dirname(file))}-${basename(file, '.html')}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  // The first screen alone too: the full page of a long table is hard to look at.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot.replace(/\.png$/, '-top.png') });
  if (requests.length) problems.push(`network requests: ${requests.slice(0, 5).join(', ')}`);
  await context.close();

  console.log(JSON.stringify({ page: file, figures: figures.length, rows: rowCount, sorted: sorted[0], screenshot: shot }));
  if (problems.length) fail(`${file}:\n  ${problems.join('\n  ')}`);
}
