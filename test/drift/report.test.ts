/**
 * The drift report in headless Chromium: every chart drawn from disk with no page error, console error or network
 * request, the drifted column charted, the history chart drawn, a hostile column name shown as text, and every chart
 * inside its card however many buckets it has.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import type { DriftReport } from '../../src/drift/compute-drift';
import { computeDrift } from '../../src/drift/compute-drift';
import { computeDriftReference } from '../../src/drift/reference';
import { renderDriftReport } from '../../src/drift/report';
import { withDuckDb } from '../../src/warehouse/duckdb';
import { duckDbDialect } from '../../src/warehouse/sql-dialect';
import { launchChromium } from '../support/browser';
import { amountIqr, syntheticRows, windowStart } from '../support/drift-windows';
import { repoRoot, tempDir } from '../support/stack';

const hostile = `</script><img src=x onerror=alert(1)>'&`;

/** The synthetic traffic with the normal column renamed to a hostile name. */
const traffic = (first: number, count: number, shift = 0) =>
  `(SELECT amount AS "${hostile}", latency, visits, is_member, plan, channel, __row FROM ${syntheticRows(first, count, shift)})`;

describe('the drift report in headless Chromium', function () {
  this.timeout(120_000);
  let browser: Browser;
  let history: { label: string; report: DriftReport }[];
  let current: DriftReport;

  before(async () => {
    await withDuckDb(
      async (db) => {
        const query = (sql: string) => db.query(sql);
        await db.run(`CREATE TABLE training AS SELECT * FROM ${traffic(0, 20_000)}`);
        const reference = await computeDriftReference(query, duckDbDialect, {
          from: 'training',
          columns: [hostile, 'latency', 'visits', 'is_member', 'plan', 'channel'].map((name) => ({
            name,
            numeric: !['plan', 'channel'].includes(name),
          })),
          sample: { from: 'training', rowNumber: '__row', size: 100_000 },
        });
        const day = async (d: number) =>
          computeDrift(query, duckDbDialect, {
            from: traffic(windowStart(5_000, d), 5_000, 0.15 * d * amountIqr),
            reference,
          });
        history = [];
        for (let d = 0; d < 3; d++) history.push({ label: `2026-11-${28 + d}`, report: await day(d) });
        current = await day(3);
      },
      { threads: 1 },
    );
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it('draws the drifted column, the history and the table from disk without errors or requests', async () => {
    assert.deepEqual(current.dataset.driftedColumns, [hostile]);
    const file = path.join(tempDir('drift-report'), 'report.html');
    fs.writeFileSync(file, await renderDriftReport({ title: 'churn', window: '2026-12-01', report: current, history }));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    const url = `file://${file}`;
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('dialog', (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on('request', (request) => {
      if (request.url() !== url) problems.push(`request: ${request.url()}`);
    });
    await page.goto(url);
    await page.waitForSelector('body:not([data-charts="pending"])');
    assert.equal(await page.getAttribute('body', 'data-charts'), 'ready', problems.join('\n'));
    assert.deepEqual(problems, []);
    // One chart for the one drifted column, one for the history.
    assert.equal(await page.locator('.chart.vega-embed svg.marks').count(), 2);
    assert.ok((await page.locator('#chart-column-0 svg .mark-rect path').count()) >= 20, 'reference and window bars');
    assert.equal((await page.locator('#chart-history svg .mark-line path').count()) > 0, true);
    assert.ok((await page.locator('h3').allInnerTexts()).includes(hostile), 'the hostile name is shown as text');
    assert.equal(await page.locator('img').count(), 0);
    const rows = await page.locator('table.summary tbody tr').allInnerTexts();
    assert.equal(rows.length, 6);
    assert.match(rows[0]!, /WASSERSTEIN_NORMED.*≥ 0\.1\s+drift/);
    // UPDATE_SCREENSHOTS=1 refreshes docs/drift-report.png; otherwise the screenshot stays in the test's temp folder.
    const shotDir = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs') : tempDir('screenshots');
    await page.screenshot({ path: path.join(shotDir, 'drift-report.png'), fullPage: true });
    await page.close();
  });

  it('draws each chart inside its card, for a 63-value grid and a 51-bucket category, at three widths', async () => {
    const report = await manyBucketsReport();
    assert.deepEqual(
      report.columns.map((c) => [c.input, c.kind, c.buckets.labels.length]),
      [
        ['score', 'numeric', 64],
        ['store', 'categorical', 51],
      ],
      '63 grid values and "other"; 50 stores kept and "other"',
    );
    assert.deepEqual(report.dataset.driftedColumns, ['score', 'store'], 'both are charted');
    const file = path.join(tempDir('drift-report-buckets'), 'report.html');
    fs.writeFileSync(file, await renderDriftReport({ title: 'shop', window: '2026-12-01', report }));
    for (const width of [1280, 900, 480]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      await page.goto(`file://${file}`);
      await page.waitForSelector('body:not([data-charts="pending"])');
      assert.equal(await page.getAttribute('body', 'data-charts'), 'ready');
      // The chart's element (svg or canvas) and each of its texts (tick labels, legend) against the card's box.
      const cards = await page.locator('article.column').all();
      assert.deepEqual(await Promise.all(cards.map((card) => card.locator('h3').innerText())), ['score', 'store']);
      for (const card of cards) {
        const name = await card.locator('h3').innerText();
        const box = (await card.boundingBox())!;
        assert.equal(await card.locator('svg.marks, canvas').count(), 1, `${name} at ${width} px holds its chart`);
        let beyond = 0;
        for (const drawn of await card.locator('svg, canvas, svg text').all()) {
          const r = await drawn.boundingBox();
          if (!r) continue;
          const [right, bottom] = [r.x + r.width - (box.x + box.width), r.y + r.height - (box.y + box.height)];
          beyond = Math.max(beyond, box.x - r.x, right, box.y - r.y, bottom);
        }
        assert.ok(beyond <= 0.5, `${name} at ${width} px: drawn ${beyond.toFixed(1)} px outside its card`);
      }
      await page.close();
    }
  });
});

/**
 * A shop's traffic: `score` takes 63 values (an exact grid), `store` 120 (the reference keeps the 50 most frequent,
 * store-7 among them, and "other"). The window bunches scores below 40 and sends 30 % of its rows to store-7.
 */
function manyBucketsReport(): Promise<DriftReport> {
  const rows = (store: string, score: string) =>
    `(SELECT ${score} AS score, ${store} AS store, i AS __row FROM range(0, 20000) AS t(i))`;
  const usual = `CASE WHEN i % 3 = 0 THEN concat('store-', i % 50) ELSE concat('store-', i % 120) END`;
  return withDuckDb(
    async (db) => {
      const query = (sql: string) => db.query(sql);
      await db.run(`CREATE TABLE shop AS SELECT * FROM ${rows(usual, 'i % 63')}`);
      const reference = await computeDriftReference(query, duckDbDialect, {
        from: 'shop',
        columns: [
          { name: 'score', numeric: true },
          { name: 'store', numeric: false },
        ],
        sample: { from: 'shop', rowNumber: '__row', size: 100_000 },
      });
      const window = rows(`CASE WHEN i % 10 < 3 THEN 'store-7' ELSE ${usual} END`, '(i * 7) % 40');
      return computeDrift(query, duckDbDialect, { from: window, reference });
    },
    { threads: 1 },
  );
}
