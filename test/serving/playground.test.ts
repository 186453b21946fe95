import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/serving/app';
import type { PlaygroundModel } from '../../src/serving/playground';
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
    assert.deepEqual(await contract.allInnerTexts(), [
      '(missing)',
      'month-to-month',
      'one-year',
      'two-year',
      '(another value…)',
    ]);
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

  it('sends a category typed as "another value", one training never saw, and shows what the model answers', async function () {
    const page = await browser.newPage();
    await page.goto(`${address}/playground`);
    for (const [name, value] of Object.entries(riskyCustomer)) {
      const field = page.locator(`#f-${name}`);
      if ((await field.getAttribute('data-kind')) === 'number') await field.fill(String(value));
      else await field.selectOption(String(value));
    }
    const typed = page.locator('#o-contract');
    assert.equal(await typed.isHidden(), true, 'the text box shows only for "another value"');
    await page.locator('#f-contract').selectOption({ label: '(another value…)' });
    await typed.fill('quarterly');
    const [request] = await Promise.all([page.waitForRequest(/:predict$/), page.click('#predict')]);
    assert.equal(
      (request.postDataJSON() as { instances: { contract: unknown }[] }).instances[0]!.contract,
      'quarterly',
    );
    await page.locator('#answer').waitFor();
    assert.match(await page.locator('#answer').innerText(), /^Prediction: (true|false)$/);
    // Back to a listed category: the typed value is no longer sent.
    await page.locator('#f-contract').selectOption('one-year');
    assert.equal(await typed.isHidden(), true);
    const [again] = await Promise.all([page.waitForRequest(/:predict$/), page.click('#predict')]);
    assert.equal((again.postDataJSON() as { instances: { contract: unknown }[] }).instances[0]!.contract, 'one-year');
    await page.close();
  });

  it('flags a number the browser cannot read ("1e999", "-", "1e") next to its field and sends nothing until it is fixed', async function () {
    const page = await browser.newPage();
    let requests = 0;
    page.on('request', (r) => void (r.url().includes(':predict') && requests++));
    await page.goto(`${address}/playground`);
    for (const [name, value] of Object.entries(riskyCustomer)) {
      const field = page.locator(`#f-${name}`);
      if ((await field.getAttribute('data-kind')) === 'number') await field.fill(String(value));
      else await field.selectOption(String(value));
    }
    const field = page.locator('#f-tenure_months');
    const flag = page.locator('#e-tenure_months');
    // Chromium takes no letter but e in a number input ("abc" types nothing), so "e" and "." stand for it here:
    // the page reads validity.badInput, as true in Firefox for "abc" as in Chromium for these.
    for (const bad of ['1e999', '-', '1e', 'e', '.']) {
      await field.fill('');
      await field.focus();
      await page.keyboard.insertText(bad); // as typed or pasted: fill() refuses text a number input cannot hold
      assert.deepEqual(
        await field.evaluate((el) => {
          const input = el as unknown as { value: string; validity: { badInput: boolean } };
          return [input.value, input.validity.badInput];
        }),
        ['', true],
        bad,
      );
      await page.click('#predict');
      const outcome = page.locator('#answer, #result .error').first();
      await outcome.waitFor();
      assert.match(await outcome.innerText(), /^Nothing was sent: tenure_months is not a number\./, bad);
      assert.equal(await flag.innerText(), 'not a number', bad);
      assert.equal(await field.getAttribute('aria-invalid'), 'true', bad);
      assert.equal(
        await field.evaluate((el) => (el as unknown as { matches(s: string): boolean }).matches(':focus')),
        true,
        'the field is focused to fix',
      );
    }
    assert.equal(await page.locator('#answer').count(), 0);
    // Fixed: the flag goes as soon as the field reads a number, and the prediction is shown.
    await field.fill('2');
    await flag.waitFor({ state: 'hidden' });
    assert.equal(await field.getAttribute('aria-invalid'), 'false');
    const [request] = await Promise.all([page.waitForRequest(/:predict$/), page.click('#predict')]);
    assert.equal(
      (request.postDataJSON() as { instances: { tenure_months: unknown }[] }).instances[0]!.tenure_months,
      2,
    );
    await page.locator('#answer').waitFor();
    assert.equal(requests, 1, 'nothing was sent while the field was flagged');
    // A field left with an unreadable number is flagged at once; an empty one is still "missing", imputed.
    await field.fill('');
    await field.focus();
    await page.keyboard.insertText('-');
    await page.locator('#f-monthly_charges').focus();
    await flag.waitFor();
    await field.fill('');
    await flag.waitFor({ state: 'hidden' });
    const [blank] = await Promise.all([page.waitForRequest(/:predict$/), page.click('#predict')]);
    assert.equal(
      (blank.postDataJSON() as { instances: { tenure_months: unknown }[] }).instances[0]!.tenure_months,
      null,
    );
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

  /** A predict request the page sent: the bytes of its body and the status it was answered with. */
  interface Sent {
    bytes: number;
    status: number;
  }
  /**
   * Opens the page (of the server at `base`; `html` instead of the page that server serves), uploads `text` as a CSV
   * file and waits for the upload's status; counts the predict requests sent, and lists those answered.
   */
  async function uploadCsv(
    text: string | Buffer,
    base = address,
    html?: string,
  ): Promise<{ page: Page; status: string; requests: number; sent: Sent[] }> {
    const page = await browser.newPage();
    let requests = 0;
    const sent: Sent[] = [];
    page.on('request', (r) => void (r.url().includes(':predict') && requests++));
    page.on('response', (r) => {
      if (r.url().includes(':predict')) sent.push({ bytes: r.request().postDataBuffer()!.length, status: r.status() });
    });
    if (html)
      await page.route(`${base}/playground`, (route) => route.fulfill({ contentType: 'text/html', body: html }));
    await page.goto(`${base}/playground`);
    const csv = path.join(tempDir('playground'), 'upload.csv');
    fs.writeFileSync(csv, text);
    await page.setInputFiles('#csv', csv);
    const status = page.locator('#csv-status:not(:empty)');
    await status.waitFor({ timeout: 60_000 });
    return { page, status: await status.innerText(), requests, sent };
  }
  const [churnHeader, ...churnRows] = fs.readFileSync(exampleDataset, 'utf8').trim().split('\n');
  /** `n` rows of the example dataset, repeated as needed. */
  const manyRows = (n: number): string[] => Array.from({ length: n }, (_, i) => churnRows[i % churnRows.length]!);
  /** A row of the example dataset with its cell of `column` replaced. */
  const withCell = (row: string, column: string, value: string): string => {
    const cells = row.split(',');
    cells[churnHeader!.split(',').indexOf(column)] = value;
    return cells.join(',');
  };

  it('refuses rows with another number of cells than the header, naming their lines, and sends nothing', async function () {
    const [a, b, c] = churnRows;
    // The second row's quoted note spans two lines, so the rows after it start one line further down.
    const rows = [`${a}`, `${withCell(b!, 'churned', '"no,\nreally"')}`, 'month-to-month,fiber', 'south', `${c},extra`];
    const { page, status, requests } = await uploadCsv(`${churnHeader}\n${rows.join('\n')}\n\n`);
    assert.equal(requests, 0);
    assert.match(status, /line 5: 2 cells, but the header has 10/);
    assert.match(status, /line 6: 1 cell, but the header has 10/);
    assert.match(status, /line 7: 11 cells, but the header has 10/);
    assert.doesNotMatch(status, /^line [1-4]\b|Predicted/m);
    assert.equal(await page.locator('#table tr').count(), 0);
    await page.close();
  });

  it('names the line and column of a cell that is not a number, also past the first request, and sends nothing', async function () {
    const rows = manyRows(4300);
    rows[4201] = withCell(rows[4201]!, 'monthly_charges', '"1,5"'); // data row 4202, line 4203 of the file
    const { page, status, requests } = await uploadCsv(`${churnHeader}\n${rows.join('\n')}\n`);
    assert.equal(requests, 0);
    assert.match(status, /line 4203, monthly_charges: "1,5" is not a decimal number/);
    assert.doesNotMatch(status, /instances\[/);
    await page.close();
  });

  it('refuses hexadecimal, binary, octal, infinite and blank-space numbers, and reads decimals with spaces around', async function () {
    const bad = ['0x10', '0b1', '0o7', 'Infinity', '1e999', '" "'];
    const rows = bad.map((v, k) => withCell(churnRows[k]!, 'tenure_months', v));
    const refused = await uploadCsv(`${churnHeader}\n${rows.join('\n')}\n`);
    assert.equal(refused.requests, 0);
    assert.match(refused.status, /^Nothing was sent: 6 problems in the file \(line 1 is the header\):$/m);
    assert.match(refused.status, /^line 2, tenure_months: "0x10" is not a decimal number$/m);
    assert.match(refused.status, /^line 5, tenure_months: "Infinity" is not a decimal number$/m);
    assert.match(refused.status, /^line 6, tenure_months: "1e999" is too large$/m);
    assert.match(refused.status, /^line 7, tenure_months: " " is not a decimal number \(leave the cell empty/m);
    for (const line of [3, 4]) assert.match(refused.status, new RegExp(`^line ${line}, tenure_months: .+`, 'm'));
    await refused.page.close();
    // Spaces around a decimal are trimmed, exponents are decimals, and an empty cell is missing (imputed).
    const fine = [' 12 ', '1e1', '-0.5', '.5', ''].map((v, k) => withCell(churnRows[k]!, 'tenure_months', v));
    const read = await uploadCsv(`${churnHeader}\n${fine.join('\n')}\n`);
    assert.equal(read.status, 'Predicted 5 rows.');
    await read.page.close();
  });

  it('says so when the file is empty or has a header but no rows', async function () {
    for (const [text, message] of [
      ['', 'The file is empty.'],
      ['\n\n', 'The file is empty.'],
      [`${churnHeader}\n`, 'The file has a header but no rows.'],
      [`${churnHeader}\r\n\r\n`, 'The file has a header but no rows.'],
    ] as const) {
      const { page, status, requests } = await uploadCsv(text);
      assert.equal(status, message, JSON.stringify(text));
      assert.equal(requests, 0);
      await page.close();
    }
  });

  it('predicts 10,000 CRLF rows with a quoted newline in an extra column in requests of at most 4096', async function () {
    const rows = manyRows(10_000);
    rows[5000] = withCell(rows[5000]!, 'churned', '"multi\r\nline"');
    const { page, status, requests } = await uploadCsv(`${churnHeader}\r\n${rows.join('\r\n')}\r\n`);
    assert.equal(status, 'Predicted 10000 rows.');
    assert.equal(requests, 3);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const text = fs.readFileSync(await download.path(), 'utf8');
    assert.match(text, /,"multi\r?\nline",(true|false),/);
    await page.close();
  });

  it('names the lines of rows the server refuses, not their place in the request', async function () {
    const rows = manyRows(4300);
    rows[4201] = withCell(rows[4201]!, 'senior', 'maybe'); // line 4203: a boolean feature only the server checks
    const { page, status, requests } = await uploadCsv(`${churnHeader}\n${rows.join('\n')}\n`);
    assert.equal(requests, 2);
    assert.match(status, /line 4203: .*senior/);
    assert.match(status, /lines 2–4097 were predicted/);
    assert.doesNotMatch(status, /instances\[/);
    await page.close();
  });

  it('says "1 row" when the file has one row', async function () {
    const { page, status, requests } = await uploadCsv(`${churnHeader}\n${churnRows[0]}\n`);
    assert.equal(status, 'Predicted 1 row.');
    assert.equal(requests, 1);
    await page.close();
  });

  it('refuses a header that repeats a column name, naming the column and its positions, and sends nothing', async function () {
    const names = churnHeader!.split(',');
    const at = names.indexOf('tenure_months');
    const header = [...names, 'tenure_months', 'note', 'note', 'note'].join(',');
    const row = `${churnRows[0]},7,a,b,c`;
    const { page, status, requests } = await uploadCsv(`${header}\n${row}\n`);
    assert.equal(requests, 0);
    assert.match(status, /^Nothing was sent: the header \(line 1\) repeats a column name/);
    assert.ok(
      status.includes(`column "tenure_months" is named twice, as columns ${at + 1} and ${names.length + 1}`),
      status,
    );
    assert.ok(
      status.includes(
        `column "note" is named 3 times, as columns ${names.length + 2}, ${names.length + 3} and ${names.length + 4}`,
      ),
      status,
    );
    assert.equal(await page.locator('#table tr').count(), 0);
    await page.close();
  });

  it('names the line where a quoted field that is never closed starts, and sends nothing', async function () {
    const rows = manyRows(6);
    rows[3] = withCell(rows[3]!, 'churned', '"no,\nreally'); // data row 4 (line 5) opens a quote that never ends
    const { page, status, requests } = await uploadCsv(`${churnHeader}\n${rows.join('\n')}\n`);
    assert.equal(requests, 0);
    assert.match(status, /^Nothing was sent: the quoted field that starts on line 5 is never closed/);
    assert.match(status, /End it with a double quote/);
    assert.doesNotMatch(status, /cells, but the header/);
    await page.close();
  });

  it('names the line of a file that is not UTF-8 (a spreadsheet saved as Latin-1), and sends nothing', async function () {
    const rows = manyRows(5);
    rows[2] = withCell(rows[2]!, 'contract', 'Zürich'); // data row 3: line 4
    const { page, status, requests } = await uploadCsv(Buffer.from(`${churnHeader}\n${rows.join('\n')}\n`, 'latin1'));
    assert.equal(requests, 0);
    assert.match(status, /^Nothing was sent: the file is not UTF-8 text \(line 4 holds bytes that are not;/);
    assert.match(status, /Save it as "CSV UTF-8"/);
    await page.close();
  });

  it('tells a CSV separated by semicolons from one missing columns', async function () {
    const { page, status, requests } = await uploadCsv(
      `${churnHeader!.replaceAll(',', ';')}\n${churnRows[0]!.replaceAll(',', ';')}\n`,
    );
    assert.equal(requests, 0);
    assert.match(status, /semicolons/);
    await page.close();
  });

  /** The page of `server`, generated as the server does, with or without its body limit. */
  function pageOf(server: FastifyInstance, withLimit: boolean): string {
    const { slot, limits } = server.serving.core;
    const p = slot.current!.predictor;
    const { maxInstances, bodyLimit } = limits;
    const model = { name: 'churn', task: p.task, classes: p.classes, features: p.features, maxInstances };
    return playgroundHtml({ name: 'churn', model: withLimit ? { ...model, bodyLimit } : model });
  }

  it("splits 4096 rows of long text into requests under the server's body limit, predicting every row", async function () {
    // A region no one trained on, 200 characters long: the rows are a file of about 1 MB, but 1.6 MB as one request.
    const rows = manyRows(4096).map((row, i) => withCell(row, 'region', `r${i}-${'x'.repeat(200)}`));
    const text = `${churnHeader}\n${rows.join('\n')}\n`;
    assert.ok(text.length < 1_200_000 && text.length > 1_000_000, String(text.length));
    const { page, status, sent } = await uploadCsv(text);
    assert.equal(status, 'Predicted 4096 rows.');
    const predicted = sent.filter((s) => s.status === 200);
    assert.ok(predicted.length >= 2, JSON.stringify(sent));
    assert.ok(predicted.reduce((n, s) => n + s.bytes, 0) > 1_500_000, 'the rows are over the limit as one request');
    for (const s of predicted) assert.ok(s.bytes <= 1_500_000, JSON.stringify(sent));
    // A page served without the limit learns it from one 413 (which predicted nothing); one served with it sends none.
    const refused = sent.filter((s) => s.status !== 200);
    assert.ok(refused.length <= 1 && refused.every((s) => s.status === 413), JSON.stringify(sent));
    await page.close();
  });

  it('keeps every request under a small body limit, learnt from the server or served with the page, and names a row too large alone', async function () {
    const bodyLimit = 50_000;
    const { store } = await servedChurn();
    const small = await buildServer({ store, modelName: 'churn', alias: 'production', limits: { bodyLimit } });
    try {
      const base = await small.listen({ host: '127.0.0.1', port: 0 });
      const text = `${churnHeader}\n${manyRows(1000).join('\n')}\n`;
      // Served without the limit, the page learns it from the server's 413, which names it, and sends those rows again.
      const learnt = await uploadCsv(text, base, pageOf(small, false));
      assert.equal(learnt.status, 'Predicted 1000 rows.');
      assert.deepEqual(
        learnt.sent.filter((s) => s.bytes > bodyLimit).map((s) => s.status),
        [413],
      );
      assert.ok(learnt.sent.filter((s) => s.status === 200).length >= 4, JSON.stringify(learnt.sent));
      await learnt.page.close();
      // Served with the limit, the page sends no request over it; nor does the page the server serves.
      for (const html of [pageOf(small, true), undefined]) {
        const known = await uploadCsv(text, base, html);
        assert.equal(known.status, 'Predicted 1000 rows.');
        const predicted = known.sent.filter((s) => s.status === 200);
        assert.ok(predicted.length >= 4, JSON.stringify(known.sent));
        for (const s of predicted) assert.ok(s.bytes <= bodyLimit, JSON.stringify(known.sent));
        if (html) assert.equal(predicted.length, known.sent.length, JSON.stringify(known.sent));
        await known.page.close();
      }
      // A row that is over the limit alone is named, and nothing is predicted.
      const rows = manyRows(3);
      rows[1] = withCell(rows[1]!, 'region', 'x'.repeat(bodyLimit));
      const huge = `${churnHeader}\n${rows.join('\n')}\n`;
      for (const html of [pageOf(small, false), pageOf(small, true)]) {
        const refused = await uploadCsv(huge, base, html);
        assert.match(refused.status, /^Nothing was sent: 1 problem in the file \(line 1 is the header\):$/m);
        assert.match(
          refused.status,
          /^line 3: the row is \d+ bytes as a request, over the server's body limit of 50000 bytes$/m,
        );
        assert.equal(refused.sent.filter((s) => s.status === 200).length, 0);
        await refused.page.close();
      }
    } finally {
      await small.close();
    }
  });

  it('keeps double quotes inside an unquoted cell, and writes text cells of the download so no spreadsheet runs them as formulas', async function () {
    const notes = ['=HYPERLINK("x")', '-3.5', '+cmd|calc', '@SUM(A1)', '"\tq"', '-2+3', '"\r=1"', '12"'];
    const rows = notes.map((v, k) => withCell(churnRows[k]!, 'churned', v));
    const { page, status } = await uploadCsv(`${churnHeader}\n${rows.join('\n')}\n`);
    assert.equal(status, 'Predicted 8 rows.');
    const churned = churnHeader!.split(',').indexOf('churned');
    const shown = await page.locator(`#table tr td:nth-child(${churned + 1})`).allInnerTexts();
    assert.equal(shown[0], '=HYPERLINK("x")');
    assert.equal(shown[7], '12"');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const text = fs.readFileSync(await download.path(), 'utf8');
    const expected = [`"'=HYPERLINK(""x"")"`, '-3.5', "'+cmd|calc", "'@SUM(A1)", "'\tq", "'-2+3", `"'\r=1"`, '"12"""'];
    for (const cell of expected) assert.ok(text.includes(`,${cell},`), `${JSON.stringify(cell)} in ${text}`);
    // Numbers stay numbers: the probabilities are written as they are.
    assert.doesNotMatch(text, /,'[\d.]/);
    await page.close();
  });

  it('skips lines that are empty or only white space, as blank lines', async function () {
    const [a, b, c] = churnRows;
    const { page, status, requests } = await uploadCsv(`${churnHeader}\n${a}\n   \n${b}\r\n\t \r\n\n${c}\n  `);
    assert.equal(status, 'Predicted 3 rows.');
    assert.equal(requests, 1);
    await page.close();
  });

  it('says so when a header names a feature with spaces around, as written with ", " separators, and sends nothing', async function () {
    const { page, status, requests } = await uploadCsv(
      `${churnHeader!.split(',').join(', ')}\n${churnRows[0]!.split(',').join(', ')}\n`,
    );
    assert.equal(requests, 0);
    assert.match(status, /^The CSV has no column monthly_charges, total_charges, contract, /);
    assert.ok(status.includes('(the header names " monthly_charges", " total_charges", " contract", '), status);
    assert.match(status, /with spaces around: remove the spaces/);
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

  /**
   * The page generated from `model` alone, opened at a made-up address: each predict request is kept and answered
   * with one regression prediction from version 3.
   */
  async function pageFrom(model: PlaygroundModel): Promise<{ page: Page; bodies: unknown[] }> {
    const base = 'http://playground.test';
    const page = await browser.newPage();
    const bodies: unknown[] = [];
    const html = playgroundHtml({ name: model.name, model });
    await page.route(`${base}/playground`, (route) => route.fulfill({ contentType: 'text/html', body: html }));
    await page.route(`${base}/v1/models/**`, (route) => {
      bodies.push(route.request().postDataJSON());
      return route.fulfill({ json: { predictions: [{ value: 1 }] }, headers: { 'x-model-version': '3' } });
    });
    await page.goto(`${base}/playground`);
    return { page, bodies };
  }

  it('offers the category that training nulls became as the "(missing)" choice, not as a category, and shows fitted numbers short', async function () {
    const { page } = await pageFrom({
      name: 'm',
      task: 'regression',
      classes: [],
      maxInstances: 10,
      bodyLimit: 20_000,
      features: [
        { name: 'city', type: 'category', categories: ['Oslo', '__missing__', 'Bergen'], impute: '__missing__' },
        { name: 'plan', type: 'category', categories: ['a', '__missing__'], impute: 'a', imputedWith: 'most_frequent' },
        // Fitted numbers carry binary noise: the page shows them as a person would write them.
        { name: 'mrr', type: 'number', impute: 176.10000000000002, range: { lower: 0.30000000000000004, upper: null } },
      ],
    });
    assert.match(await page.locator('body').innerText(), /training range 0\.3 … ∞; blank = median 176\.1/);
    assert.equal(await page.locator('#f-mrr').getAttribute('placeholder'), '176.1');
    assert.deepEqual(await page.locator('#f-city option').allInnerTexts(), [
      '(missing)',
      'Oslo',
      'Bergen',
      '(another value…)',
    ]);
    // A real category spelled so, under another imputation, stays one.
    assert.deepEqual(await page.locator('#f-plan option').allInnerTexts(), [
      '(missing: a)',
      'a',
      '__missing__',
      '(another value…)',
    ]);
    await page.close();
  });

  it('sends the very category picked, carriage returns and line feeds included (an HTML attribute would change them)', async function () {
    const categories = ['a\r\nb', 'c\rd', 'e\nf', 'tab\there', ' padded '];
    const { page, bodies } = await pageFrom({
      name: 'm',
      task: 'regression',
      classes: [],
      maxInstances: 10,
      features: [{ name: 'cat', type: 'category', categories, impute: '__missing__' }],
    });
    for (const [k, category] of categories.entries()) {
      await page.locator('#f-cat').selectOption({ index: k + 1 });
      const [request] = await Promise.all([page.waitForRequest(/:predict$/), page.click('#predict')]);
      assert.deepEqual(request.postDataJSON(), { instances: [{ cat: category }] });
    }
    assert.equal(bodies.length, categories.length);
    await page.close();
  });

  it('with API keys on, shows nothing of the schema until the key is typed, then predicts with it', async function () {
    const { store } = await servedChurn();
    const key = 'playground-key-0123456789';
    const keyed = await buildServer({ store, modelName: 'churn', alias: 'production', apiKeys: [key] });
    try {
      const base = await keyed.listen({ host: '127.0.0.1', port: 0 });
      const html = await (await fetch(`${base}/playground`)).text();
      for (const secret of ['month-to-month', 'electronic-check', 'tenure_months', 'monthly_charges'])
        assert.ok(!html.includes(secret), `the open page holds "${secret}"`);
      assert.match(html, /let MODEL = null;/);
      assert.equal((await fetch(`${base}/playground/model`)).status, 401);
      const page = await browser.newPage();
      await page.goto(`${base}/playground`);
      assert.equal(await page.locator('#model-part').isHidden(), true);
      await page.locator('#api-key').fill('not-the-key');
      await page.click('#open');
      await page.locator('#open-status:not(:empty)').waitFor();
      assert.match(await page.locator('#open-status').innerText(), /key/);
      // Enter in the key field opens the model, as the button does (it submitted the form, reloading the page).
      await page.locator('#api-key').fill(key);
      await page.locator('#api-key').press('Enter');
      await page.locator('#model-part').waitFor();
      assert.equal(new URL(page.url()).search, '', 'the page was not reloaded with a query');
      for (const [name, value] of Object.entries(riskyCustomer)) {
        const field = page.locator(`#f-${name}`);
        if ((await field.getAttribute('data-kind')) === 'number') await field.fill(String(value));
        else await field.selectOption(String(value));
      }
      await page.click('#predict');
      await page.locator('#answer').waitFor();
      assert.equal(await page.locator('#answer').innerText(), 'Prediction: true');
      await page.close();
    } finally {
      await keyed.close();
    }
  });

  it("names the download's prediction columns so they never repeat a column of the file", async function () {
    const header = `${churnHeader},label,version`;
    const rows = churnRows.slice(0, 3).map((row) => `${row},mine,v9`);
    const { page, status } = await uploadCsv(`${header}\n${rows.join('\n')}\n`);
    assert.equal(status, 'Predicted 3 rows.');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const [head, first] = fs.readFileSync(await download.path(), 'utf8').split('\n');
    assert.equal(head, `${header},predicted_label,p_false,p_true,predicted_version`);
    assert.match(first!, /,mine,v9,(true|false),[-+.\de]+,[-+.\de]+,1$/);
    await page.close();
  });
});
