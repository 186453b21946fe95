/**
 * The playground: a page served by the model server, generated from the model's schema, to try the model by hand.
 * A form with one input per feature (numbers show the training clip range and the value a blank takes, and a number
 * the browser cannot read is flagged, never sent as a blank; categories are a list of the training categories, or
 * another value typed), a bar chart of class probabilities and the version that answered; and a CSV upload that
 * predicts every row (in requests within the server's instance and body limits) and offers the table as a CSV
 * download whose text cells no spreadsheet runs as formulas; the whole file is checked first (closed quotes, distinct
 * column names, cells per row, decimal numbers), so a bad file sends nothing and its problems name the file's lines
 * and columns. No external scripts: the page works on a closed network.
 */
import type { FeatureSchema } from '../models/predictor';

export interface PlaygroundModel {
  name: string;
  task: 'classification' | 'regression';
  classes: string[];
  features: FeatureSchema[];
  maxInstances: number;
  /**
   * The server's body limit (bytes), so the page splits a CSV into requests under it. Absent: the page learns it from
   * the first request the server refuses as too large (a 413 names the limit) and sends that request's rows again.
   */
  bodyLimit?: number;
}

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The category a categorical feature's nulls take under the constant imputation (the transform's default). */
const missingPlaceholder = '__missing__';

/**
 * What the page's script builds the form from (the model's schema, training categories and fitted statistics):
 * embedded in the page, or served by `GET /playground/model` to a page that holds the API key.
 */
export function playgroundModel(model: PlaygroundModel): PlaygroundModel {
  return {
    name: model.name,
    task: model.task,
    classes: model.classes,
    // The placeholder that training's nulls became is the "(missing)" choice, not a category of its own.
    features: model.features.map((f) =>
      f.type === 'category'
        ? {
            ...f,
            categories: (f.categories ?? []).filter((c) => c !== missingPlaceholder || f.impute !== missingPlaceholder),
          }
        : f,
    ),
    maxInstances: model.maxInstances,
    bodyLimit: model.bodyLimit,
  };
}

/**
 * The page. With `model`, its schema is embedded and the form is shown at once. Without (the server requires API keys:
 * the schema, training categories and statistics are what the key protects on the metadata routes), the page holds
 * nothing of the model but its name, asks for the key and loads `GET /playground/model` with it.
 */
export function playgroundHtml(page: { name: string; model?: PlaygroundModel }): string {
  const embedded = page.model ? JSON.stringify(playgroundModel(page.model)).replace(/</g, '\\u003c') : 'null';
  const keyHint = page.model
    ? 'only if the server requires one'
    : 'this server requires one: type it, then open the model';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(page.name)} · playground</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;max-width:1000px;color:#222}
form{display:grid;grid-template-columns:max-content 14em auto;gap:6px 12px;align-items:center}
#fields{display:contents}
.hint{color:#777;font-size:12px} button{margin-top:12px;padding:6px 16px}
.control{display:flex;gap:4px;min-width:0}.control select,.control input{min-width:0;flex:1}
#result{margin:16px 0;padding:12px;border:1px solid #ddd;min-height:2em}
.bar{display:flex;align-items:center;gap:8px;margin:3px 0}.bar span:first-child{width:8em}
.bar div{background:#4a7bd0;height:14px} .error{color:#b00020;white-space:pre-wrap}
.problem{color:#b00020;font-weight:600;margin-right:8px} input[aria-invalid="true"]{outline:2px solid #b00020}
table{border-collapse:collapse;margin-top:8px;font-size:12px} td,th{border:1px solid #ddd;padding:2px 6px}
</style></head><body>
<h1>${esc(page.name)} <small id="version"></small></h1>
<p>Fill in the features and predict, or upload a CSV with one column per feature.</p>
<form id="form"><div id="fields"></div>
<label for="api-key">API key</label><input id="api-key" type="password" autocomplete="off"><span class="hint">${keyHint}</span>
</form>
<button id="open" type="button" hidden>Open the model</button><div id="open-status" class="error"></div>
<div id="model-part" hidden>
<button id="predict" type="button">Predict</button>
<div id="result" aria-live="polite"></div>
<h2>Predict a CSV</h2>
<input id="csv" type="file" accept=".csv,text/csv"> <a id="download" hidden download="predictions.csv">Download predictions</a>
<div id="csv-status"></div><div id="table"></div>
</div>
<script>
let MODEL = ${embedded};
const MODEL_NAME = ${JSON.stringify(page.name).replace(/</g, '\\u003c')};
${clientScript}
</script></body></html>`;
}

/** The page's script: plain browser JavaScript, no dependencies. */
const clientScript = String.raw`
const $ = (id) => document.getElementById(id);
const headers = () => {
  const h = { 'content-type': 'application/json' };
  const key = $('api-key').value.trim();
  if (key) h.authorization = 'Bearer ' + key;
  return h;
};
function coerce(f, raw) {
  if (raw === undefined || raw === null || String(raw).trim() === '') return null;
  if (f.type === 'number') { const n = Number(raw); return Number.isFinite(n) ? n : String(raw); }
  return String(raw);
}
/** A field's value: a category typed as "another value" when that is chosen. */
function fieldValue(f) {
  const field = $('f-' + f.name);
  if (f.type === 'category' && field.selectedOptions[0] && field.selectedOptions[0].dataset.other) return $('o-' + f.name).value;
  return field.value;
}
/** A fitted number as a person reads it: 10 significant digits, so 176.10000000000002 shows as 176.1. */
function shown(value, absent) {
  if (value === null || value === undefined) return absent;
  return typeof value === 'number' ? String(Number(value.toPrecision(10))) : String(value);
}
function el(tag, props, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}
/**
 * A feature's label, control and hint. Built through the DOM, never as HTML text: a category is the option's value as
 * it is (an HTML parser would turn a carriage return in an attribute into a line feed, and send another category).
 */
function fieldRow(f) {
  const label = el('label', { htmlFor: 'f-' + f.name, textContent: f.name });
  if (f.type === 'category') {
    const select = el('select', { id: 'f-' + f.name, name: f.name });
    select.dataset.kind = 'category';
    const imputed = f.impute === undefined || f.impute === '__missing__' ? '' : ': ' + f.impute;
    select.append(el('option', { value: '', textContent: '(missing' + imputed + ')' }));
    for (const c of f.categories) select.append(el('option', { value: c, textContent: c }));
    // A value training did not keep (a new product, a rare city) is typed: the model takes it as an unknown category.
    const other = el('option', { value: '', textContent: '(another value…)' });
    other.dataset.other = '1';
    select.append(other);
    const typed = el('input', { id: 'o-' + f.name, className: 'other', hidden: true, placeholder: 'a value not in the list' });
    typed.setAttribute('aria-label', f.name + ': another value');
    select.addEventListener('change', () => {
      typed.hidden = !(select.selectedOptions[0] && select.selectedOptions[0].dataset.other);
      if (!typed.hidden) typed.focus();
    });
    const hint = el('span', { className: 'hint', textContent: f.categories.length + ' training categories' });
    return [label, el('span', { className: 'control' }, select, typed), hint];
  }
  const range = f.range ? 'training range ' + shown(f.range.lower, '−∞') + ' … ' + shown(f.range.upper, '∞') + '; ' : '';
  const field = el('input', { id: 'f-' + f.name, name: f.name, type: 'number', step: 'any', placeholder: shown(f.impute, '') });
  field.dataset.kind = 'number';
  // The browser reads "1e999", "-" or "abc" as "" (validity.badInput): the page flags it rather than send a blank.
  const problem = el('span', { id: 'e-' + f.name, className: 'problem', hidden: true, textContent: 'not a number' });
  // "-" on the way to "-3" is no mistake yet: a field is flagged when it is left, and cleared as soon as it reads.
  field.addEventListener('blur', () => flagged(field));
  field.addEventListener('input', () => { if (!field.validity.badInput) flagged(field); });
  const hint = el('span', { className: 'hint' }, problem, range + 'blank = ' + (f.imputedWith || 'median') + ' ' + shown(f.impute, ''));
  return [label, field, hint];
}
/** Shows the form of MODEL. */
function render() {
  $('fields').replaceChildren(...MODEL.features.flatMap(fieldRow));
  $('model-part').hidden = false;
  $('open').hidden = true;
  $('open-status').textContent = '';
}
/** With API keys on, the page loads the model's schema with the key typed. */
async function open() {
  const r = await fetch('/playground/model', { headers: headers() });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { $('open-status').textContent = body.error || 'HTTP ' + r.status; return; }
  MODEL = body;
  render();
}
$('open').addEventListener('click', () => open().catch((e) => { $('open-status').textContent = e.message; }));
// Enter in the key field (the form's only field before the model is open) submits the form: open the model instead
// of reloading the page, which would drop the key.
$('form').addEventListener('submit', (event) => { event.preventDefault(); if (!MODEL) $('open').click(); });
/**
 * Flags a number field whose text the browser cannot read as a number: its value then reads "", like a blank field,
 * which would be sent as null (imputed). Returns whether it is flagged.
 */
function flagged(field) {
  const bad = field.validity.badInput;
  field.setAttribute('aria-invalid', String(bad));
  $('e-' + field.name).hidden = !bad;
  return bad;
}
async function predict(instances) {
  const r = await fetch('/v1/models/' + encodeURIComponent(MODEL_NAME) + ':predict', { method: 'POST', headers: headers(), body: JSON.stringify({ instances }) });
  const body = await r.json();
  if (!r.ok) throw Object.assign(new Error(body.error || JSON.stringify(body)), { code: body.code });
  return { version: r.headers.get('x-model-version'), predictions: body.predictions };
}
function showError(message) {
  const d = document.createElement('div'); d.className = 'error'; d.textContent = message; $('result').replaceChildren(d);
}
function show(p, version) {
  const out = $('result');
  out.textContent = '';
  $('version').textContent = 'version ' + version;
  const head = document.createElement('div');
  head.id = 'answer';
  // A float32 output read as a double (176.10000610351562) shows its 7 significant digits (176.1).
  head.textContent = MODEL.task === 'regression' ? 'Prediction: ' + Number(p.value.toPrecision(7)) : 'Prediction: ' + p.label;
  head.dataset.version = version;
  out.append(head);
  if (MODEL.task === 'regression') return;
  for (const c of MODEL.classes) {
    const row = document.createElement('div'); row.className = 'bar';
    const name = document.createElement('span'); name.textContent = c;
    const bar = document.createElement('div'); bar.style.width = Math.round(300 * p.probabilities[c]) + 'px';
    const value = document.createElement('span'); value.textContent = (100 * p.probabilities[c]).toFixed(1) + '%';
    row.append(name, bar, value); out.append(row);
  }
}
$('predict').addEventListener('click', async () => {
  const bad = MODEL.features.filter((f) => f.type === 'number' && flagged($('f-' + f.name)));
  if (bad.length) {
    $('f-' + bad[0].name).focus();
    const names = bad.map((f) => f.name).join(', ');
    return showError('Nothing was sent: ' + names + (bad.length === 1 ? ' is' : ' are') + ' not a number. Type a number, or leave the field empty for a missing value (imputed).');
  }
  // No prototype: a feature named __proto__ is then a field like any other, not the object's prototype.
  const instance = Object.create(null);
  for (const f of MODEL.features) instance[f.name] = coerce(f, fieldValue(f));
  try { const { version, predictions } = await predict([instance]); show(predictions[0], version); }
  catch (e) { showError(e.message); }
});
/**
 * The file's records, each with the line it starts on (line 1 is the header); lines that are empty or only white space
 * are skipped. A quote opens a quoted field only where the field starts; elsewhere (=HYPERLINK("x")) it is a character
 * of the cell, as RFC 4180 readers commonly take it. A quote that is never closed would swallow the rest of the file
 * into one cell: its line is returned as openQuote instead.
 */
function parseCsv(text) {
  const records = []; let row = [], field = '', quoted = false, fresh = true, sawQuote = false, line = 1, start = 1, quoteLine = 1;
  const endRecord = () => {
    row.push(field);
    if (row.length > 1 || sawQuote || row[0].trim() !== '') records.push({ cells: row, line: start });
    row = []; field = ''; fresh = true; sawQuote = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) line++;
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
      continue;
    }
    if (c === '"' && fresh) { quoted = true; sawQuote = true; quoteLine = line; fresh = false; }
    else if (c === ',') { row.push(field); field = ''; fresh = true; }
    else if (c === '\n' || c === '\r') { if (c === '\r' && text[i + 1] === '\n') i++; endRecord(); start = ++line; }
    else { field += c; fresh = false; }
  }
  if (quoted) return { records, openQuote: quoteLine };
  if (field !== '' || row.length) endRecord();
  return { records };
}
/** Each column name the header repeats, with the (1-based) columns it names; empty when every name is unique. */
function repeatedColumns(header) {
  const at = new Map();
  header.forEach((name, k) => at.set(name, [...(at.get(name) || []), k + 1]));
  return [...at].filter(([, columns]) => columns.length > 1)
    .map(([name, columns]) => 'column ' + JSON.stringify(name) + ' is named ' + (columns.length === 2 ? 'twice' : columns.length + ' times') + ', as columns ' + columns.slice(0, -1).join(', ') + ' and ' + columns[columns.length - 1]);
}
// Decimal notation only: Number() would also read 0x10, 0b1, 0o7, Infinity and blank space, which no spreadsheet means.
const decimal = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/**
 * A cell of the download. Text that starts like a formula (=, +, -, @, tab, carriage return) gets a leading ' so a
 * spreadsheet shows it instead of running it (OWASP's advice on CSV injection); a number such as -3.5 stays a number.
 */
const csvCell = (v) => {
  let s = v === null || v === undefined ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s) && !decimal.test(s.trim())) s = "'" + s;
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
};
/** A CSV cell as a feature value ({ value }), or why it cannot be one ({ problem }). An empty cell is null: imputed. */
function readCell(f, raw) {
  if (f.type !== 'number' || raw === '') return { value: coerce(f, raw) };
  const text = raw.trim();
  if (!decimal.test(text)) return { problem: JSON.stringify(raw) + ' is not a decimal number' + (text ? '' : ' (leave the cell empty for a missing value)') };
  const n = Number(text);
  return Number.isFinite(n) ? { value: n } : { problem: JSON.stringify(raw) + ' is too large' };
}
/** Every row as an instance, or every problem the page can see (wrong number of cells, numbers that are not numbers). */
function readRows(header, records, features) {
  const problems = [];
  const instances = records.map(({ cells, line }) => {
    if (cells.length !== header.length) {
      problems.push('line ' + line + ': ' + cells.length + (cells.length === 1 ? ' cell' : ' cells') + ', but the header has ' + header.length);
      return null;
    }
    const instance = Object.create(null);
    for (const f of features) {
      const { value, problem } = readCell(f, cells[header.indexOf(f.name)]);
      if (problem) problems.push('line ' + line + ', ' + f.name + ': ' + problem);
      instance[f.name] = value;
    }
    return instance;
  });
  return { instances, problems };
}
const shownProblems = 20;
const utf8 = new TextEncoder();
/** The rows from row "from" on that are too large for a request even alone, named by line. */
function oversized(sizes, records, from, limit) {
  const problems = [];
  for (let k = from; k < sizes.length; k++)
    if (16 + sizes[k] > limit) problems.push('line ' + records[k].line + ': the row is ' + (16 + sizes[k]) + ' bytes as a request, over the server\'s body limit of ' + limit + ' bytes');
  return problems;
}
/** Where the request that starts at row "start" ends: at most the instance limit, and at most "limit" bytes of body. */
function requestEnd(sizes, start, limit) {
  // {"instances":[…]} is 16 bytes around the rows, with a comma between two rows.
  let end = start, bytes = 15;
  while (end < sizes.length && end - start < MODEL.maxInstances && bytes + sizes[end] + 1 <= limit) bytes += sizes[end++] + 1;
  return end;
}
$('csv').addEventListener('change', async (event) => {
  const file = event.target.files[0]; if (!file) return;
  const status = (text, error) => { $('csv-status').textContent = text; $('csv-status').className = error ? 'error' : ''; };
  $('table').replaceChildren(); $('download').hidden = true; status('');
  const bytes = await file.arrayBuffer();
  let text;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); }
  catch {
    const lenient = new TextDecoder('utf-8').decode(bytes);
    const line = lenient.slice(0, lenient.indexOf('\ufffd')).split('\n').length;
    return status('Nothing was sent: the file is not UTF-8 text (line ' + line + ' holds bytes that are not; a spreadsheet may have saved it as Latin-1 or Windows-1252). Save it as "CSV UTF-8" and upload it again.', true);
  }
  const { records: [head, ...records], openQuote } = parseCsv(text);
  if (openQuote) return status('Nothing was sent: the quoted field that starts on line ' + openQuote + ' is never closed (line 1 is the header). End it with a double quote ("), and write a double quote inside a quoted field as two ("").', true);
  if (!head) return status('The file is empty.', true);
  if (!records.length) return status('The file has a header but no rows.', true);
  const header = head.cells;
  const repeated = repeatedColumns(header);
  if (repeated.length) return status('Nothing was sent: the header (line 1) repeats a column name, so its cells could be read from either column: ' + repeated.join('; ') + '. Rename or remove the extra columns.', true);
  const features = MODEL.features.filter((f) => header.includes(f.name));
  const missing = MODEL.features.filter((f) => !header.includes(f.name)).map((f) => f.name);
  if (missing.length) {
    const semicolons = header.length === 1 && header[0].includes(';') ? ' (its header is separated by semicolons: save the file with commas)' : '';
    // Names are matched exactly, not trimmed: cells written after ", " would also carry the space, and a category
    // read as " fiber" is an unknown category, a silent wrong answer.
    const spaced = header.filter((name) => name !== name.trim() && missing.includes(name.trim())).map((name) => JSON.stringify(name));
    const spaces = spaced.length ? ' (the header names ' + spaced.join(', ') + ' with spaces around: remove the spaces, in the header and in the rows, if the file is separated by ", ")' : '';
    return status('The CSV has no column ' + missing.join(', ') + semicolons + spaces, true);
  }
  const refuse = (problems, done = '') => {
    const more = problems.length > shownProblems ? ['… and ' + (problems.length - shownProblems) + ' more'] : [];
    return status(['Nothing ' + (done ? 'more ' : '') + 'was sent' + done + ': ' + problems.length + ' problem' + (problems.length === 1 ? '' : 's') + ' in the file (line 1 is the header):', ...problems.slice(0, shownProblems), ...more].join('\n'), true);
  };
  const { instances, problems } = readRows(header, records, features);
  if (problems.length) return refuse(problems);
  // Requests are cut by size too: 4096 rows of long text can be over the body limit (a 413 predicts nothing).
  const sizes = instances.map((instance) => utf8.encode(JSON.stringify(instance)).length);
  let limit = MODEL.bodyLimit || Infinity;
  const tooLarge = oversized(sizes, records, 0, limit);
  if (tooLarge.length) return refuse(tooLarge);
  // The outputs' columns never take a name the file has: a file column "label" keeps it, the prediction is
  // "predicted_label" (two columns of one name would be read from either by a spreadsheet or pandas).
  const taken = new Set(header);
  const fresh = (name) => { while (taken.has(name)) name = 'predicted_' + name; taken.add(name); return name; };
  const outputs = (MODEL.task === 'regression' ? ['prediction'] : ['label', ...MODEL.classes.map((c) => 'p_' + c)]).map(fresh);
  const table = [[...header, ...outputs, fresh('version')]];
  for (let start = 0, end = 0; start < instances.length; start = end) {
    end = requestEnd(sizes, start, limit);
    const chunk = records.slice(start, end);
    let answer;
    try { answer = await predict(instances.slice(start, end)); }
    catch (e) {
      const done = start ? ' (the rows of lines 2–' + (chunk[0].line - 1) + ' were predicted and logged, but are not shown)' : '';
      const learnt = e.code === 'MLOPS_ERR_SERVE_BODY_TOO_LARGE' ? Number((/(\d+) bytes/.exec(e.message) || [])[1]) : NaN;
      if (learnt < limit) {
        // A page served without the limit learns it from the refusal, which predicted nothing: these rows go again.
        limit = learnt; end = start;
        const big = oversized(sizes, records, start, limit);
        if (big.length) return refuse(big, done);
        continue;
      }
      // The server names a row by its place in the request: name its line in the file instead.
      const message = e.message.replace(/instances\[(\d+)\]/g, (m, k) => (chunk[k] ? 'line ' + chunk[k].line : m));
      return status('The server refused the rows of lines ' + chunk[0].line + '–' + chunk[chunk.length - 1].line + done + ': ' + message, true);
    }
    answer.predictions.forEach((p, k) => {
      const extra = MODEL.task === 'regression' ? [p.value] : [p.label, ...MODEL.classes.map((c) => p.probabilities[c])];
      table.push([...chunk[k].cells, ...extra, answer.version]);
    });
  }
  status('Predicted ' + (table.length - 1) + (table.length === 2 ? ' row.' : ' rows.'));
  const el = document.createElement('table');
  table.slice(0, 51).forEach((cells, r) => { const tr = el.insertRow(); cells.forEach((c) => { const td = document.createElement(r ? 'td' : 'th'); td.textContent = c; tr.append(td); }); });
  $('table').replaceChildren(el);
  const link = $('download');
  link.href = URL.createObjectURL(new Blob([table.map((r) => r.map(csvCell).join(',')).join('\n') + '\n'], { type: 'text/csv' }));
  link.hidden = false;
});
if (MODEL) render(); else $('open').hidden = false;
`;
