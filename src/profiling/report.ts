/**
 * The profile report: a summary table and Vega-Lite charts on one self-contained page (src/reports/chart-page.ts).
 */
import { escapeHtml, renderChartPage } from '../reports/chart-page';
import type {
  CategoricalColumnProfile,
  ColumnProfile,
  CorrelationSelection,
  DatasetProfile,
  NumericColumnProfile,
  ProfileWarning,
  SpellingVariantGroup,
} from './dataset-profile';
import type { ReportChart } from './report-charts';
import { maxColumnCharts, reportCharts } from './report-charts';
import { quoteValue, spellingVariantFix } from './spelling-variants';

export async function renderReport(profile: DatasetProfile): Promise<string> {
  const { columns, extra } = reportCharts(profile);
  const charts = [...extra, ...columns.values()];
  const target = extra.find((c) => c.id === 'chart-target');
  const correlations = extra.find((c) => c.id === 'chart-correlations');
  return renderChartPage({
    title: `Dataset profile ${profile.snapshotId}`,
    heading: 'Dataset profile',
    subtitle: `Snapshot <code>${escapeHtml(profile.snapshotId)}</code> · target <code>${escapeHtml(profile.target)}</code>`,
    css,
    footer: `Written by temporal-mlops from <code>profile.json</code> (format v${profile.version}). Quantiles are exact, over a uniform sample of ${profile.settings.quantileSampleRows.toLocaleString('en-US')} rows when there are more; distinct counts marked ≈ are HyperLogLog estimates.`,
    body: [
      summaryCards(profile),
      warningsSection(profile.warnings),
      section('Target', `<p class="note">${targetNote(profile)}</p>${chartDiv(target)}`),
      section('Columns', summaryTable(profile)),
      section(
        'Distributions',
        `<div class="grid">${profile.columns.map((c) => columnCard(c, profile, columns.get(c.name))).join('')}</div>`,
      ),
      section(
        'Correlations',
        correlations
          ? `<p class="note">Pearson r between numeric columns, over rows where both are present.</p>${omittedNote(profile)}${chartDiv(correlations)}`
          : `<p class="note">Fewer than two numeric columns.</p>${omittedNote(profile)}`,
      ),
    ].join('\n'),
    charts,
  });
}

const selectionText: Record<Exclude<CorrelationSelection, 'all'>, string> = {
  'target-pearson': 'the target and the columns with the largest |r| with it',
  'target-eta': 'the columns whose means differ most between the target classes (correlation ratio η)',
  'dataset-order': 'the first columns in dataset order (the target is absent or has too many classes to rank them)',
};

/** Says which numeric columns were left out of the heatmap and why, listing them; empty when none were. */
function omittedNote(profile: DatasetProfile): string {
  const { omitted = [], selection, columns } = profile.correlations;
  if (!omitted.length || !selection || selection === 'all') return '';
  const list = omitted.map((name) => `<code>${escapeHtml(name)}</code>`).join(', ');
  return (
    `<div class="note omitted">Only ${formatCount(columns.length)} of ${formatCount(columns.length + omitted.length)} numeric columns are correlated ` +
    `(at most ${formatCount(profile.settings.correlationColumns)}): ${selectionText[selection]}. ` +
    `<details><summary>${formatCount(omitted.length)} numeric column${omitted.length === 1 ? '' : 's'} without correlations</summary>${list}</details></div>`
  );
}

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
    const name = `${escapeHtml(c.name)}${c.name === profile.target ? ' <span class="badge">target</span>' : ''}${warningBadge(c, profile)}`;
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
  const badge = (c.name === profile.target ? ' <span class="badge">target</span>' : '') + warningBadge(c, profile);
  const facts = c.kind === 'numeric' ? numericFacts(c) : categoricalFacts(c);
  const body = chart
    ? chartDiv(chart)
    : c.count === 0
      ? '<p class="note">No non-null values.</p>'
      : `<p class="note">Not drawn: the report draws the first ${maxColumnCharts} columns' charts (profile.json holds every column's).</p>`;
  return `<article class="column"><h3>${escapeHtml(c.name)}${badge} <code>${escapeHtml(c.type)}</code></h3>${facts}${body}</article>`;
}

/** Each warning as a card: what it is, the groups of variant spellings with their rows, and the fix. */
function warningsSection(warnings: ProfileWarning[]): string {
  if (!warnings.length) return '';
  const cards = warnings.map((w) => {
    const badge = w.target ? ' <span class="badge">target</span>' : '';
    const total = w.groups.length + w.moreGroups;
    const what = w.target ? 'Classes' : 'Values';
    const more = w.moreGroups
      ? `<p class="note">and ${formatCount(w.moreGroups)} more group${w.moreGroups === 1 ? '' : 's'}, not listed</p>`
      : '';
    return (
      `<article class="warning"><h3>${escapeHtml(w.column)}${badge}</h3>` +
      `<p>${what} that differ only in letter case or whitespace: ${formatCount(total)} group${total === 1 ? '' : 's'}, ${formatCount(w.rows)} rows.</p>` +
      `<table class="variants"><thead><tr><th>normalized</th><th>spellings (rows)</th><th class="num">rows</th></tr></thead>` +
      `<tbody>${w.groups.map(variantRow).join('')}</tbody></table>${more}` +
      `<p class="note">${escapeHtml(spellingVariantFix)}</p></article>`
    );
  });
  return `<section id="warnings"><h2>Warnings</h2>${cards.join('')}</section>`;
}

function variantRow(g: SpellingVariantGroup): string {
  const spellings = g.spellings.map(
    (s) => `<code>${escapeHtml(quoteValue(s.value))}</code> <small>${formatCount(s.count)}</small>`,
  );
  const more = g.moreSpellings ? ` <small>and ${formatCount(g.moreSpellings)} more</small>` : '';
  return `<tr><td><code>${escapeHtml(quoteValue(g.normalized))}</code></td><td>${spellings.join(', ')}${more}</td><td class="num">${formatCount(g.count)}</td></tr>`;
}

/** Marks a column that has a warning, linking to the warnings. */
function warningBadge(c: ColumnProfile, profile: DatasetProfile): string {
  return profile.warnings.some((w) => w.column === c.name)
    ? ' <a class="badge warn" href="#warnings">spelling variants</a>'
    : '';
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
.badge.warn{background:#fff8c5;color:#9a6700;text-decoration:none}
.warning{background:#fff;border:1px solid #d4a72c;border-left-width:4px;border-radius:6px;padding:12px;margin-bottom:12px}
.warning p{margin:0 0 8px}table.variants{border-collapse:collapse;margin-bottom:8px}
table.variants th,table.variants td{padding:3px 10px 3px 0;text-align:left;vertical-align:top;border-bottom:1px solid #eaeef2}
table.variants .num{text-align:right;font-variant-numeric:tabular-nums}
table.variants code{white-space:pre;background:#f6f8fa;padding:0 2px}table.variants small{color:#57606a}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:12px}
.column{padding:12px}.facts{margin:0;color:#57606a}.note{color:#57606a;margin:0 0 8px}
.quantiles{margin:2px 0 6px;font-size:12px;color:#57606a;display:flex;flex-wrap:wrap;gap:2px 10px}
.quantiles b{color:#1f2328;font-weight:600}
footer{color:#57606a;font-size:12px;padding:24px}`;
