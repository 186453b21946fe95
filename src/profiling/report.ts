/**
 * The profile report: one self-contained HTML page (works offline, opened from disk) with a summary table and
 * Vega-Lite charts. Vega, Vega-Lite and vega-embed are inlined; the chart specs travel as one JSON block that is
 * escaped so no dataset string can end the script element. A Content-Security-Policy forbids every network load.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CategoricalColumnProfile, ColumnProfile, DatasetProfile, NumericColumnProfile } from './dataset-profile';
import type { ReportChart } from './report-charts';
import { reportCharts } from './report-charts';

/** The browser builds of the chart libraries, in load order: package and file beside its main module. */
const libraries = [
  ['vega', 'vega.min.js'],
  ['vega-lite', 'vega-lite.min.js'],
  ['vega-embed', 'vega-embed.min.js'],
] as const;

let inlinedLibraries: Promise<string> | undefined;

export async function renderReport(profile: DatasetProfile): Promise<string> {
  const { columns, extra } = reportCharts(profile);
  const charts = [...extra, ...columns.values()];
  const target = extra.find((c) => c.id === 'chart-target');
  const correlations = extra.find((c) => c.id === 'chart-correlations');
  return page(profile, {
    body: [
      summaryCards(profile),
      section('Target', `<p class="note">${targetNote(profile)}</p>${chartDiv(target)}`),
      section('Columns', summaryTable(profile)),
      section(
        'Distributions',
        `<div class="grid">${profile.columns.map((c) => columnCard(c, profile, columns.get(c.name))).join('')}</div>`,
      ),
      section(
        'Correlations',
        correlations
          ? `<p class="note">Pearson r between numeric columns, over rows where both are present.</p>${chartDiv(correlations)}`
          : '<p class="note">Fewer than two numeric columns.</p>',
      ),
    ].join('\n'),
    charts,
    libraries: await loadLibraries(),
  });
}

function page(profile: DatasetProfile, parts: { body: string; charts: ReportChart[]; libraries: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dataset profile ${escapeHtml(profile.snapshotId)}</title>
<style>${css}</style>
</head><body data-charts="pending">
<header><h1>Dataset profile</h1><p>Snapshot <code>${escapeHtml(profile.snapshotId)}</code> · target <code>${escapeHtml(profile.target)}</code></p></header>
<main>
${parts.body}
</main>
<footer>Written by temporal-mlops from <code>profile.json</code> (format v${profile.version}). Quantiles are exact, over a uniform sample of ${profile.settings.quantileSampleRows.toLocaleString('en-US')} rows when there are more; distinct counts marked ≈ are HyperLogLog estimates.</footer>
<script type="application/json" id="report-charts">${jsonForScript(parts.charts)}</script>
<script>${parts.libraries}</script>
<script>${bootstrap}</script>
</body></html>
`;
}

/** Draws every chart; `body[data-charts]` becomes `ready` (or `failed`) for readers and tests. */
const bootstrap = `
(function () {
  var charts = JSON.parse(document.getElementById('report-charts').textContent);
  Promise.all(charts.map(function (c) {
    return vegaEmbed('#' + c.id, c.spec, { renderer: 'svg', actions: false });
  })).then(function () { document.body.dataset.charts = 'ready'; }, function (err) {
    document.body.dataset.charts = 'failed';
    console.error(err);
  });
})();`;

function summaryCards(profile: DatasetProfile): string {
  const numeric = profile.columns.filter((c) => c.kind === 'numeric').length;
  const cells = profile.rowCount * profile.columns.length;
  const nulls = profile.columns.reduce((n, c) => n + c.nulls, 0);
  const cards: [string, string][] = [
    ['rows', formatCount(profile.rowCount)],
    [
      'columns',
      `${profile.columns.length} <small>(${numeric} numeric, ${profile.columns.length - numeric} categorical)</small>`,
    ],
    ['missing cells', `${formatCount(nulls)} <small>(${formatShare(nulls, cells)})</small>`],
    ['columns with nulls', String(profile.columns.filter((c) => c.nulls > 0).length)],
  ];
  return `<section class="cards">${cards.map(([label, value]) => `<div class="card"><div class="value">${value}</div><div class="label">${label}</div></div>`).join('')}</section>`;
}

function summaryTable(profile: DatasetProfile): string {
  const head = ['column', 'type', 'non-null', 'nulls', 'distinct', 'min', 'median', 'max', 'mean', 'std'];
  const rows = profile.columns.map((c) => {
    const name = `${escapeHtml(c.name)}${c.name === profile.target ? ' <span class="badge">target</span>' : ''}`;
    const base = [
      name,
      `<code>${escapeHtml(c.type)}</code>`,
      formatCount(c.count),
      nullCell(c, profile.rowCount),
      distinctCell(c),
    ];
    const stats =
      c.kind === 'numeric'
        ? [c.min, c.quantiles.p50 ?? null, c.max, c.mean, c.std].map((v) => `<td class="num">${formatNumber(v)}</td>`)
        : [`<td colspan="5" class="top">${topValuesText(c)}</td>`];
    return `<tr>${base.map((v, i) => `<td${i > 1 ? ' class="num"' : ''}>${v}</td>`).join('')}${stats.join('')}</tr>`;
  });
  const th = head.map((h, i) => `<th${i > 1 ? ' class="num"' : ''}>${h}</th>`).join('');
  return `<table class="summary"><thead><tr>${th}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

function columnCard(c: ColumnProfile, profile: DatasetProfile, chart: ReportChart | undefined): string {
  const badge = c.name === profile.target ? ' <span class="badge">target</span>' : '';
  const facts = c.kind === 'numeric' ? numericFacts(c) : categoricalFacts(c);
  const body = chart ? chartDiv(chart) : '<p class="note">No non-null values.</p>';
  return `<article class="column"><h3>${escapeHtml(c.name)}${badge} <code>${escapeHtml(c.type)}</code></h3>${facts}${body}</article>`;
}

function numericFacts(c: NumericColumnProfile): string {
  const quantiles = Object.entries(c.quantiles)
    .map(([k, v]) => `<span><b>${k}</b> ${formatNumber(v)}</span>`)
    .join('');
  return `<p class="facts">mean ${formatNumber(c.mean)} · std ${formatNumber(c.std)} · nulls ${formatShare(c.nulls, c.count + c.nulls)}</p><p class="quantiles">${quantiles}</p>`;
}

function categoricalFacts(c: CategoricalColumnProfile): string {
  return `<p class="facts">${formatCount(c.distinct)} distinct · nulls ${formatShare(c.nulls, c.count + c.nulls)}</p>`;
}

function targetNote(profile: DatasetProfile): string {
  const t = profile.targetDistribution;
  if (!t) return `The target column <code>${escapeHtml(profile.target)}</code> is not in this dataset.`;
  const what = t.kind === 'numeric' ? 'Histogram of' : 'Class counts of';
  return `${what} <code>${escapeHtml(t.name)}</code>${t.nulls ? `; ${formatCount(t.nulls)} rows have no target` : ''}.`;
}

function topValuesText(c: CategoricalColumnProfile): string {
  const shown = c.top.slice(0, 3).map((v) => `${escapeHtml(v.value)} <small>${formatShare(v.count, c.count)}</small>`);
  return shown.join(', ') + (c.distinct > shown.length ? ', …' : '');
}

function nullCell(c: ColumnProfile, rowCount: number): string {
  return c.nulls ? `${formatCount(c.nulls)} <small>${formatShare(c.nulls, rowCount)}</small>` : '0';
}

function distinctCell(c: ColumnProfile): string {
  return `${c.distinctApproximate ? '≈' : ''}${formatCount(c.distinct)}`;
}

function section(title: string, body: string): string {
  return `<section><h2>${title}</h2>${body}</section>`;
}

function chartDiv(chart: ReportChart | undefined): string {
  return chart ? `<div class="chart" id="${chart.id}"></div>` : '';
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * JSON that is inert inside a `<script>` element: `<`, `>` and `&` become `\u003c`-style escapes (so neither
 * `</script>` nor `<!--` can appear), and U+2028/2029 are escaped for older JavaScript parsers.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Reads the libraries once per process; a failed read is retried on the next report. */
async function loadLibraries(): Promise<string> {
  inlinedLibraries ??= readLibraries().catch((err: unknown) => {
    inlinedLibraries = undefined;
    throw err;
  });
  return inlinedLibraries;
}

async function readLibraries(): Promise<string> {
  const sources = await Promise.all(
    libraries.map(([pkg, file]) => fs.readFile(path.join(path.dirname(require.resolve(pkg)), file), 'utf8')),
  );
  // A literal "</script" inside a library would end its element; in JavaScript it can only sit in a string, template
  // or regular expression literal, where "<\/script" means the same.
  return sources.map((s) => s.replace(/<\/script/gi, '<\\/script')).join('\n;\n');
}

function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

function formatNumber(v: number | null): string {
  return v === null ? '–' : v.toLocaleString('en-US', { maximumSignificantDigits: 4 });
}

function formatShare(part: number, whole: number): string {
  return whole ? `${((100 * part) / whole).toFixed(1)}%` : '–';
}

const css = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:0;background:#f6f8fa}
header,main,footer{max-width:1280px;margin:0 auto;padding:0 24px}
header{padding-top:20px}h1{margin:0 0 4px;font-size:24px}h2{font-size:18px;margin:28px 0 10px}
h3{font-size:14px;margin:0 0 4px;word-break:break-all}h3 code{font-weight:normal;color:#57606a;font-size:12px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.cards{display:flex;gap:12px;margin-top:16px;flex-wrap:wrap}
.card,.column,table.summary,section>.chart{background:#fff;border:1px solid #d0d7de;border-radius:6px}
.card{padding:10px 16px;min-width:150px}.card .value{font-size:22px;font-weight:600}.card .label{color:#57606a}
.card small{font-size:12px;font-weight:normal;color:#57606a}
section>.chart{display:inline-block;padding:12px}
table.summary{border-collapse:separate;border-spacing:0;width:100%;overflow:hidden}
table.summary th,table.summary td{padding:5px 10px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
table.summary th{background:#f6f8fa;font-weight:600}table.summary .num{text-align:right;font-variant-numeric:tabular-nums}
table.summary td small,.top small{color:#57606a}table.summary tr:last-child td{border-bottom:0}
.badge{background:#ddf4ff;color:#0969da;border-radius:10px;padding:0 7px;font-size:11px;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:12px}
.column{padding:12px}.facts{margin:0;color:#57606a}.note{color:#57606a;margin:0 0 8px}
.quantiles{margin:2px 0 6px;font-size:12px;color:#57606a;display:flex;flex-wrap:wrap;gap:2px 10px}
.quantiles b{color:#1f2328;font-weight:600}
footer{color:#57606a;font-size:12px;padding:24px}`;
