/**
 * The drift report, on one self-contained page like the profile report (src/reports/chart-page.ts): the drift rows, a
 * Vega-Lite chart of reference vs window shares for each drifted column (every column when none drifted) and, given
 * earlier reports, each column's deciding statistic over time.
 */
import { shareText } from '../contracts/message-text';
import { escapeHtml, renderChartPage } from '../reports/chart-page';
import type { ColumnDrift, DriftReport } from './compute-drift';

export interface DriftReportPage {
  /** Shown in the title, e.g. the model name. */
  title: string;
  /** The window, e.g. `2026-12-01T00:00Z … 2026-12-02T00:00Z`. */
  window: string;
  report: DriftReport;
  /** Earlier reports of the same model, oldest first, each with a label (its window end); the current one is added. */
  history?: { label: string; report: DriftReport }[];
}

type Spec = Record<string, unknown>;

const schema = 'https://vega.github.io/schema/vega-lite/v6.json';
const sides = { reference: '#9aa5b1', window: '#e45756' };

export async function renderDriftReport(page: DriftReportPage): Promise<string> {
  const { report } = page;
  const drifted = report.columns.filter((c) => report.dataset.driftedColumns.includes(c.input));
  const shown = drifted.length ? drifted : report.columns;
  const charts = shown.map((c, i) => ({ id: `chart-column-${i}`, spec: bucketChart(c) }));
  const history = [...(page.history ?? []), { label: 'this window', report }];
  const overTime = history.length > 1 ? [{ id: 'chart-history', spec: historyChart(history) }] : [];
  const cards = shown
    .map(
      (c, i) =>
        `<article class="column"><h3>${escapeHtml(c.input)}</h3>${factsOf(c)}<div class="chart" id="${charts[i]!.id}"></div></article>`,
    )
    .join('');
  const body = [
    verdict(report),
    `<section><h2>Columns</h2>${rowsTable(report)}</section>`,
    `<section><h2>${drifted.length ? 'Drifted columns' : 'Distributions'}: reference vs window</h2><div class="grid">${cards}</div></section>`,
    overTime.length
      ? `<section><h2>Over time</h2><p class="note">Each column's deciding statistic per window; dashed: its threshold.</p><div class="chart" id="chart-history"></div></section>`
      : '',
  ].join('\n');
  return renderChartPage({
    title: `Drift report ${page.title}`,
    heading: 'Drift report',
    subtitle: `<code>${escapeHtml(page.title)}</code> · window ${escapeHtml(page.window)}`,
    css,
    body,
    footer: `Written by temporal-mlops from <code>drift.json</code> (format v${page.report.version}). Counts are exact; docs/monitoring.md defines each statistic, its scale and log base.`,
    charts: [...charts, ...overTime],
  });
}

function verdict(report: DriftReport): string {
  const d = report.dataset;
  const state = d.drifted ? '<span class="bad">dataset drift</span>' : '<span class="good">no dataset drift</span>';
  const share = `${d.driftedColumns.length} of ${d.columns} columns drifted (${(100 * d.share).toFixed(1)} %; threshold ${(100 * d.threshold).toFixed(0)} %)`;
  return `<section class="cards"><div class="card"><div class="value">${state}</div><div class="label">${share} · preset <code>${escapeHtml(report.preset)}</code></div></div></section>`;
}

const ruleText = { below: '<', atOrBelow: '≤', above: '>', atOrAbove: '≥' } as const;

function rowsTable(report: DriftReport): string {
  const rows = report.rows.map((r, i) => {
    const c = report.columns[i]!;
    const status = c.muted ? 'muted' : r.is_anomaly ? '<span class="bad">drift</span>' : 'ok';
    const ks = c.ks && r.metric === 'KS_P_VALUE' ? ` <small>(D ${format(c.ks.statistic)}, ${c.ks.method})</small>` : '';
    const note = c.test.note ? `<br><small class="note">${escapeHtml(c.test.note)}</small>` : '';
    const missing = `${shareText(c.nulls.reference)} → ${shareText(c.nulls.current)}`;
    const nulls = c.nulls.drifted ? `<span class="bad">${missing}</span>` : missing;
    return `<tr><td>${escapeHtml(r.input)}</td><td><code>${r.metric}</code>${note}</td><td class="num">${format(r.value)}${ks}</td><td class="num">${ruleText[c.test.rule]} ${format(r.threshold)}</td><td>${status}</td><td class="num">${c.currentRows.toLocaleString('en-US')}</td><td class="num">${nulls}</td></tr>`;
  });
  const head = ['input', 'metric', 'value', 'anomaly when', 'status', 'window rows', 'missing (reference → window)'];
  return `<table class="summary"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function factsOf(c: ColumnDrift): string {
  const facts = Object.entries(c.statistics).map(([k, v]) => `<span><b>${k}</b> ${format(v)}</span>`);
  return `<p class="quantiles">${facts.join('')}</p>`;
}

/** Reference and window shares of each bucket, side by side. */
function bucketChart(c: ColumnDrift): Spec {
  const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0) || 1;
  const [r, w] = [total(c.buckets.reference), total(c.buckets.current)];
  const values = c.buckets.labels.flatMap((bucket, i) => [
    { bucket, side: 'reference', share: (c.buckets.reference[i] ?? 0) / r },
    { bucket, side: 'window', share: (c.buckets.current[i] ?? 0) / w },
  ]);
  return {
    $schema: schema,
    // The card's width, whatever the bucket count: a width per bucket drew 51 categories or 63 grid values past the
    // card, over its neighbour. Labels that would overlap at that width are thinned (every other one, as needed).
    width: 'container',
    height: 150,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: {
        field: 'bucket',
        type: 'nominal',
        sort: null,
        title: null,
        axis: { labelAngle: -40, labelLimit: 90, labelOverlap: true },
      },
      xOffset: { field: 'side', type: 'nominal' },
      y: { field: 'share', type: 'quantitative', title: 'share of rows', axis: { format: '.0%' } },
      color: {
        field: 'side',
        type: 'nominal',
        title: null,
        scale: { domain: Object.keys(sides), range: Object.values(sides) },
        legend: { orient: 'top' },
      },
      tooltip: [
        { field: 'bucket', type: 'nominal' },
        { field: 'side', type: 'nominal' },
        { field: 'share', type: 'quantitative', format: '.2%' },
      ],
    },
  };
}

/** Each column's deciding statistic per window (one panel per metric), with its threshold dashed. */
function historyChart(history: { label: string; report: DriftReport }[]): Spec {
  const values = history.flatMap(({ label, report }) =>
    report.rows.map((r) => ({
      window: label,
      input: r.input,
      metric: r.metric,
      value: r.value,
      threshold: r.threshold,
    })),
  );
  const x = { field: 'window', type: 'ordinal', sort: null, title: null, axis: { labelAngle: 0 } };
  return {
    $schema: schema,
    data: { values },
    facet: { row: { field: 'metric', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 520,
      height: 130,
      layer: [
        {
          mark: { type: 'line', point: true },
          encoding: {
            x,
            y: { field: 'value', type: 'quantitative', title: 'value' },
            color: { field: 'input', type: 'nominal', title: 'column' },
            tooltip: [
              { field: 'input', type: 'nominal' },
              { field: 'window', type: 'ordinal' },
              { field: 'value', type: 'quantitative', format: '.4~g' },
            ],
          },
        },
        {
          mark: { type: 'line', strokeDash: [4, 4], color: '#57606a' },
          encoding: { x, y: { field: 'threshold', type: 'quantitative' }, detail: { field: 'input', type: 'nominal' } },
        },
      ],
    },
  };
}

function format(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v !== 0 && Math.abs(v) < 1e-4) return v.toExponential(2);
  return v.toLocaleString('en-US', { maximumSignificantDigits: 4 });
}

const css = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:0;background:#f6f8fa}
header,main,footer{max-width:1280px;margin:0 auto;padding:0 24px}
header{padding-top:20px}h1{margin:0 0 4px;font-size:24px}h2{font-size:18px;margin:28px 0 10px}
h3{font-size:14px;margin:0 0 4px;word-break:break-all}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.cards{display:flex;gap:12px;margin-top:16px}.card{padding:10px 16px}.card .value{font-size:22px;font-weight:600}
.card .label{color:#57606a}
.card,.column,table.summary,section>.chart{background:#fff;border:1px solid #d0d7de;border-radius:6px}
section>.chart{display:inline-block;padding:12px}
table.summary{border-collapse:separate;border-spacing:0;width:100%;overflow:hidden}
table.summary th,table.summary td{padding:5px 10px;border-bottom:1px solid #eaeef2;text-align:left}
table.summary th{background:#f6f8fa}table.summary .num{text-align:right;font-variant-numeric:tabular-nums}
table.summary small{color:#57606a}
.bad{color:#cf222e;font-weight:600}.good{color:#1a7f37}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(420px,100%),1fr));gap:12px}
.column{padding:12px;min-width:0}.column .chart{display:block;width:100%}.note{color:#57606a;margin:0 0 8px}
.quantiles{margin:2px 0 6px;font-size:12px;color:#57606a;display:flex;flex-wrap:wrap;gap:2px 10px}
.quantiles b{color:#1f2328;font-weight:600}
footer{color:#57606a;font-size:12px;padding:24px}`;
