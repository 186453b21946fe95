import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/serving/app';
import { playgroundHtml } from '../../src/serving/playground';
import { launchChromium } from '../support/browser';
import { riskyCustomer, servedChurn, servedPrototypeKeys, withPrototypeKeys } from '../support/served-model';
import { exampleDataset, repoRoot, tempDir } from '../support/stack';

describe('the playground page (headless Chromium)', function () {
  this.timeout(120_000);
  let app: FastifyInstance;
  let address: string;
  let browser: Browser;

  before(async function () {
    const { store } = await servedChurn();
    app = await buildServer({ store, modelName: 'churn', alias: 'production' });
    address = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
  });

  it('predicts from the form generated from the schema, showing probabilities and the version that answered', async function () {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    await page.goto(`${address}/playground`);
    assert.match(await page.locator('body').innerText(), /tenure_months\s+blank = median \d/);
    const contract = page.locator('#f-contract option');
    assert.deepEqual(await contract.allInnerTexts(), ['(missing)', 'month-to-month', 'one-year', 'two-year']);
    for (const [name, value] of Object.entries(riskyCustomer)) {
      const field = page.locator(`#f-${name}`);
      if ((await field.getAttribute('data-kind')) === 'number') await field.fill(String(value));
      else await field.selectOption(String(value));
    }
    await page.locator('#f-total_charges').fill(''); // blank: imputed with the training median
    await page.click('#predict');
    const answer = page.locator('#answer');
    await answer.waitFor();
    assert.equal(await answer.innerText(), 'Prediction: true');
    assert.equal(await answer.getAttribute('data-version'), '1');
    assert.deepEqual(
      (await page.locator('.bar span:first-child').allInnerTexts()).map((t) => t.trim()),
      ['false', 'true'],
    );
    // UPDATE_SCREENSHOTS=1 refreshes docs/playground.png; otherwise the screenshot stays in the test's temp folder.
    const shotDir = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs') : tempDir('screenshots');
    await page.screenshot({ path: path.join(shotDir, 'playground.png'), fullPage: true });
    await page.close();
  });

  it('predicts every row of an uploaded CSV and offers the table as a download', async function () {
    const page = await browser.newPage();
    await page.goto(`${address}/playground`);
    const csv = path.join(tempDir('playground'), 'customers.csv');
    // With a byte-order mark, as spreadsheet programs export "CSV UTF-8": the first column's name must still match.
    const rows = fs.readFileSync(exampleDataset, 'utf8').split('\n').slice(0, 31).join('\n');
    fs.writeFileSync(csv, `\uFEFF${rows}\n`);
    await page.setInputFiles('#csv', csv);
    await page.locator('#csv-status', { hasText: 'Predicted 30 rows.' }).waitFor();
    assert.equal(await page.locator('#table tr').count(), 31);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const text = fs
      .readFileSync(await download.path(), 'utf8')
      .trim()
      .split('\n');
    assert.equal(text.length, 31);
    assert.match(text[0]!, /,label,p_false,p_true,version$/);
    for (const line of text.slice(1)) assert.match(line, /,(true|false),[-+.\de]+,[-+.\de]+,1$/);
    await page.close();
  });

  it('predicts from the form of a model whose features are named like Object.prototype keys', async function () {
    const { store, modelName } = await servedPrototypeKeys();
    const keys = await buildServer({ store, modelName, alias: 'production' });
    try {
      const page = await browser.newPage();
      await page.goto(`${await keys.listen({ host: '127.0.0.1', port: 0 })}/playground`);
      for (const [name, value] of Object.entries(withPrototypeKeys(riskyCustomer))) {
        const field = page.locator(`#f-${name}`);
        if ((await field.getAttribute('data-kind')) === 'number') await field.fill(String(value));
        else await field.selectOption(String(value));
      }
      await page.click('#predict');
      const answer = page.locator('#answer, #result .error').first();
      await answer.waitFor();
      assert.equal(await answer.innerText(), 'Prediction: toString');
      const bars = await page.locator('.bar span').allInnerTexts();
      assert.deepEqual(
        bars.filter((_, k) => k % 2 === 0),
        ['__proto__', 'toString'],
      );
      for (const share of bars.filter((_, k) => k % 2 === 1)) assert.match(share, /^\d+\.\d%$/);
      await page.close();
    } finally {
      await keys.close();
    }
  });
});

describe('the playground page as generated from the schema', function () {
  it('offers the category that training nulls became as the "(missing)" choice, not as a category', function () {
    const html = playgroundHtml({
      name: 'm',
      task: 'regression',
      classes: [],
      maxInstances: 10,
      features: [
        { name: 'city', type: 'category', categories: ['Oslo', '__missing__', 'Bergen'], impute: '__missing__' },
        { name: 'plan', type: 'category', categories: ['a', '__missing__'], impute: 'a', imputedWith: 'most_frequent' },
      ],
    });
    const city = /<select id="f-city"[^]*?<\/span>/.exec(html)![0];
    assert.deepEqual(
      [...city.matchAll(/<option value="([^"]*)">/g)].map((m) => m[1]),
      ['', 'Oslo', 'Bergen'],
    );
    assert.match(city, /\(missing\)<\/option>.*2 training categories/);
    // A real category spelled so, under another imputation, stays one.
    const plan = /<select id="f-plan"[^]*?<\/span>/.exec(html)![0];
    assert.deepEqual(
      [...plan.matchAll(/<option value="([^"]*)">/g)].map((m) => m[1]),
      ['', 'a', '__missing__'],
    );
  });
});
