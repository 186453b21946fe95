/**
 * Vega-Lite specs for the profile report, built from the profile's aggregates (inline data, no URLs). Dataset
 * strings only ever appear as data values, never as field names or expressions, so Vega draws them as text.
 */
import type { ColumnProfile, CorrelationMatrix, DatasetProfile, HistogramBin, ValueCount } from './dataset-profile';

export type VegaLiteSpec = Record<string, unknown>;

/** A chart of the report: the element id it is drawn into, and its spec. */
export interface ReportChart {
  id: string;
  spec: VegaLiteSpec;
}

const schema = 'https://vega.github.io/schema/vega-lite/v6.json';
const accent = '#4c78a8';
const muted = '#b8b8b8';
const countFormat = ',d';

/**
 * Most columns whose distribution the report draws (the target's always): a browser took 18 s and 442 MB to draw the
 * 2,000 of a 2,000-column profile. The rest show their figures only; profile.json holds every histogram.
 */
export const maxColumnCharts = 300;

/**
 * One chart per column with values (the first {@link maxColumnCharts}, and the target), then the target distribution
 * and the correlation heatmap.
 */
export function reportCharts(profile: DatasetProfile): { columns: Map<string, ReportChart>; extra: ReportChart[] } {
  const columns = new Map<string, ReportChart>();
  for (const [i, c] of profile.columns.entries()) {
    if (i >= maxColumnCharts && c.name !== profile.target) continue;
    const spec = columnChart(c);
    if (spec) columns.set(c.name, { id: `chart-column-${i}`, spec });
  }
  const extra: ReportChart[] = [];
  const target = profile.targetDistribution;
  if (target?.kind === 'numeric' && target.histogram.length)
    extra.push({ id: 'chart-target', spec: histogramChart(target.histogram, 360, 200) });
  if (target?.kind === 'categorical' && target.classes.length)
    extra.push({ id: 'chart-target', spec: classChart(target.classes, target.otherCount) });
  if (profile.correlations.columns.length > 1)
    extra.push({ id: 'chart-correlations', spec: correlationChart(profile.correlations) });
  return { columns, extra };
}

function columnChart(c: ColumnProfile): VegaLiteSpec | undefined {
  if (c.kind === 'numeric') return c.histogram.length ? histogramChart(c.histogram, 300, 140) : undefined;
  return c.top.length ? topValuesChart(c.top, c.otherCount) : undefined;
}

export function histogramChart(bins: HistogramBin[], width: number, height: number): VegaLiteSpec {
  if (bins.length === 1) return constantChart(bins[0]!, height);
  return {
    $schema: schema,
    width,
    height,
    data: { values: bins },
    mark: { type: 'bar', color: accent, binSpacing: 1 },
    encoding: {
      x: { field: 'lower', type: 'quantitative', bin: { binned: true }, title: null, axis: { format: '~s' } },
      x2: { field: 'upper' },
      y: { field: 'count', type: 'quantitative', title: 'rows', axis: { format: '~s' } },
      tooltip: [
        { field: 'lower', type: 'quantitative', title: 'from', format: '.4~g' },
        { field: 'upper', type: 'quantitative', title: 'to', format: '.4~g' },
        { field: 'count', type: 'quantitative', title: 'rows', format: countFormat },
      ],
    },
  };
}

/** A constant column's single zero-width bin, drawn as one bar labelled with the value. */
function constantChart(bin: HistogramBin, height: number): VegaLiteSpec {
  return {
    $schema: schema,
    width: { step: 60 },
    height,
    data: { values: [{ value: String(bin.lower), count: bin.count }] },
    mark: { type: 'bar', color: accent },
    encoding: {
      x: { field: 'value', type: 'nominal', title: 'every value', axis: { labelAngle: 0 } },
      y: { field: 'count', type: 'quantitative', title: 'rows', axis: { format: '~s' } },
      tooltip: [{ field: 'count', type: 'quantitative', title: 'rows', format: countFormat }],
    },
  };
}

/** Horizontal bars, most frequent first, with the remaining values as one grey bar. */
function topValuesChart(top: ValueCount[], otherCount: number): VegaLiteSpec {
  const values = withOther(top, otherCount);
  return {
    $schema: schema,
    width: 300,
    height: { step: 14 },
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'value', type: 'nominal', sort: null, title: null, axis: { labelLimit: 130 } },
      x: { field: 'count', type: 'quantitative', title: 'rows', axis: { format: '~s' } },
      color: colorByOther(),
      tooltip: [
        { field: 'value', type: 'nominal', title: 'value' },
        { field: 'count', type: 'quantitative', title: 'rows', format: countFormat },
      ],
    },
  };
}

/** Vertical bars of the target's classes, labelled with their share of the rows. */
function classChart(classes: ValueCount[], otherCount: number): VegaLiteSpec {
  const values = withOther(classes, otherCount);
  const total = values.reduce((n, v) => n + v.count, 0);
  const rows = values.map((v) => ({ ...v, share: total ? v.count / total : 0 }));
  const encoding = {
    x: { field: 'value', type: 'nominal', sort: null, title: null, axis: { labelAngle: 0, labelLimit: 120 } },
    y: { field: 'count', type: 'quantitative', title: 'rows', axis: { format: '~s' } },
  };
  return {
    $schema: schema,
    width: { step: Math.max(40, Math.min(90, 360 / rows.length)) },
    height: 200,
    data: { values: rows },
    encoding,
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          color: colorByOther(),
          tooltip: [
            { field: 'value', type: 'nominal', title: 'class' },
            { field: 'count', type: 'quantitative', title: 'rows', format: countFormat },
            { field: 'share', type: 'quantitative', title: 'share', format: '.1%' },
          ],
        },
      },
      { mark: { type: 'text', dy: -6, fontSize: 11 }, encoding: { text: { field: 'share', format: '.1%' } } },
    ],
  };
}

/** Most columns whose heatmap cells are labelled with r; a wider heatmap shows r in each cell's tooltip only. */
export const labelledHeatmapColumns = 20;

/**
 * A heatmap of Pearson r on a fixed −1…1 diverging scale, each cell labelled with its value up to
 * {@link labelledHeatmapColumns} columns; wider ones get smaller cells (at least 8 px, so 100 columns fit in 800 px).
 */
function correlationChart(correlations: CorrelationMatrix): VegaLiteSpec {
  const names = correlations.columns;
  const labelled = names.length <= labelledHeatmapColumns;
  const values = names.flatMap((a, i) =>
    names.map((b, j) => {
      const r = correlations.matrix[i]?.[j] ?? null;
      const label = r === null ? 'n/a' : (Math.abs(r) < 0.005 ? 0 : r).toFixed(2);
      return labelled ? { a, b, r, label, strong: r !== null && Math.abs(r) > 0.6 } : { a, b, r, label };
    }),
  );
  const cell = labelled
    ? Math.max(28, Math.min(56, 520 / names.length))
    : Math.max(8, Math.min(28, 800 / names.length));
  const axis = {
    field: '',
    type: 'ordinal',
    sort: names,
    title: null,
    axis: { labelLimit: 120, labelFontSize: Math.min(10, Math.max(6, cell - 1)) },
  };
  return {
    $schema: schema,
    width: { step: cell },
    height: { step: cell },
    data: { values },
    encoding: {
      x: { ...axis, field: 'a', axis: { ...axis.axis, labelAngle: -40 } },
      y: { ...axis, field: 'b' },
    },
    layer: [
      {
        mark: { type: 'rect' },
        encoding: {
          color: {
            field: 'r',
            type: 'quantitative',
            title: 'Pearson r',
            scale: { domain: [-1, 1], scheme: 'redblue' },
          },
          tooltip: [
            { field: 'a', type: 'nominal', title: 'column' },
            { field: 'b', type: 'nominal', title: 'with' },
            { field: 'label', type: 'nominal', title: 'r' },
          ],
        },
      },
      ...(labelled
        ? [
            {
              mark: { type: 'text', fontSize: 10 },
              encoding: {
                text: { field: 'label' },
                color: { condition: { test: 'datum.strong', value: 'white' }, value: 'black' },
              },
            },
          ]
        : []),
    ],
  };
}

function withOther(values: ValueCount[], otherCount: number) {
  const rows = values.map((v) => ({ value: v.value, count: v.count, other: false }));
  return otherCount > 0 ? [...rows, { value: '(other values)', count: otherCount, other: true }] : rows;
}

function colorByOther() {
  return {
    field: 'other',
    type: 'nominal',
    scale: { domain: [false, true], range: [accent, muted] },
    legend: null,
  };
}
