/**
 * The model server's Prometheus metrics (prom-client, one registry per server so tests and several servers in one
 * process do not mix), plus per-version counters the deploy step reads to promote or roll back a canary.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metric } from 'prom-client';

export interface VersionStats {
  requests: number;
  /** Answers with a 5xx status: the server's own failures. */
  errors: number;
  /** Answers with a 4xx status: requests the clients got wrong. */
  rejected: number;
  latencyMsSum: number;
  latencyMsMax: number;
}

/** What each metric (name after the `mlops_serve_` prefix) counts, as `/metrics` describes it. */
const descriptions = {
  requests_total: 'Prediction requests answered, by model, version, route and HTTP status',
  request_seconds:
    'Prediction request latency in seconds (server side, from the request to the reply), by model, version and status',
  batch_instances: 'Instances per prediction request',
  swaps_total:
    'Routing changes of the deployment record followed, by outcome (ok, failed; a retried load counts again)',
  deployment_failing:
    'Whether the deployment record is not wholly applied: 1 while a version it names fails to load and is retried',
  prediction_log_queue_rows: 'Prediction log rows buffered and not yet written',
  prediction_log_dropped_rows_total:
    'Prediction log rows dropped, by reason (overflow: the buffer was full; sink: the write failed) and sink',
  prediction_log_written_rows_total: 'Prediction log rows written, by sink',
  fast_lane_requests_total:
    'Prediction requests answered by the fast lane (the rest went through the full HTTP server)',
  fast_lane_handovers_total:
    'Connections the fast lane handed to the full HTTP server, at a request it does not answer itself',
} as const;

/** A metric's options; every metric of a server registers in the server's own registry. */
function spec<L extends string>(registry: Registry, name: keyof typeof descriptions, labelNames: readonly L[]) {
  return { name: `mlops_serve_${name}`, help: descriptions[name], labelNames, registers: [registry] };
}

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const batchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];

/** One label set's observations: their count, sum, and count per bucket (not cumulative; the last is +Inf). */
interface Cell {
  labels: Record<string, string>;
  count: number;
  sum: number;
  buckets: Float64Array;
}

const newCell = (labels: Record<string, string>, bounds: readonly number[]): Cell => ({
  labels,
  count: 0,
  sum: 0,
  buckets: new Float64Array(bounds.length + 1),
});

function add(cell: Cell, bounds: readonly number[], value: number): void {
  let b = 0;
  while (b < bounds.length && value > bounds[b]!) b++;
  cell.count++;
  cell.sum += value;
  cell.buckets[b]!++;
}

interface Exported {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** Prometheus's histogram series of one cell: cumulative buckets, then sum and count. */
function histogramSeries(name: string, cell: Cell, bounds: readonly number[]): Exported[] {
  let cumulative = 0;
  const series: Exported[] = [...bounds, '+Inf'].map((le, b) => {
    cumulative += cell.buckets[b]!;
    return { labels: { le, ...cell.labels }, value: cumulative, metricName: `${name}_bucket` };
  });
  series.push({ labels: cell.labels, value: cell.sum, metricName: `${name}_sum` });
  series.push({ labels: cell.labels, value: cell.count, metricName: `${name}_count` });
  return series;
}

/**
 * Adds a metric whose series are computed when the registry is read. The registry takes any metric object with a name,
 * a type and `get()` (what prom-client's own classes give it); its types name only those classes.
 */
function exportMetric(
  registry: Registry,
  name: keyof typeof descriptions,
  type: 'counter' | 'histogram',
  series: (name: string) => Exported[],
  reset: () => void,
): void {
  const metric = { name: `mlops_serve_${name}`, help: descriptions[name], type };
  registry.registerMetric({
    ...metric,
    get: () => Promise.resolve({ ...metric, values: series(metric.name) }),
    reset,
  } as unknown as Metric);
}

/** A request cell: its labels, and the route it counts. */
type RequestCell = Cell & { route: string };

/**
 * Metrics of one server, which serves one model. The per-request series (requests, latency, batch sizes) are kept as
 * plain numbers per label set and handed to prom-client's registry when `/metrics` is read: prom-client hashes the
 * label values on every call (15.x), about a tenth of the server's CPU at 1 row per request.
 */
export class ServingMetrics {
  readonly registry = new Registry();
  /** Request cells by route, then by version and status (`versionStatusKey`). */
  readonly #requests = new Map<string, Map<number, RequestCell>>();
  readonly #batches: Cell;
  readonly swaps = new Counter(spec(this.registry, 'swaps_total', ['model', 'outcome']));
  readonly deploymentFailing = new Gauge(spec(this.registry, 'deployment_failing', ['model']));
  /** The log's buffered rows, read from the log when metrics are collected (see `watchLogDepth`). */
  #logDepth = () => 0;
  readonly logQueueDepth: Gauge = new Gauge({
    ...spec(this.registry, 'prediction_log_queue_rows', []),
    collect: () => this.logQueueDepth.set(this.#logDepth()),
  });
  readonly logDropped = new Counter(spec(this.registry, 'prediction_log_dropped_rows_total', ['reason', 'sink']));
  readonly logWritten = new Counter(spec(this.registry, 'prediction_log_written_rows_total', ['sink']));
  readonly #versions = new Map<number, VersionStats>();

  readonly #model: string;

  constructor(model: string) {
    this.#model = model;
    collectDefaultMetrics({ register: this.registry, prefix: 'mlops_serve_' });
    this.#batches = newCell({ model }, batchBuckets);
    const cells = () => [...this.#requests.values()].flatMap((byKey) => [...byKey.values()]);
    const clear = () => this.#requests.clear();
    exportMetric(
      this.registry,
      'requests_total',
      'counter',
      () =>
        cells().map(({ labels: l, route, count }) => ({
          labels: { model: l.model!, version: l.version!, route, status: l.status! },
          value: count,
        })),
      clear,
    );
    exportMetric(this.registry, 'request_seconds', 'histogram', (name) => latencySeries(name, cells()), clear);
    exportMetric(
      this.registry,
      'batch_instances',
      'histogram',
      (name) => (this.#batches.count > 0 ? histogramSeries(name, this.#batches, batchBuckets) : []),
      () => {
        this.#batches.count = this.#batches.sum = 0;
        this.#batches.buckets.fill(0);
      },
    );
  }

  /** Counts one answered prediction request: its version (none when refused before routing), route and status. */
  observe(version: number | undefined, route: string, status: number, seconds: number): void {
    let byKey = this.#requests.get(route);
    if (!byKey) this.#requests.set(route, (byKey = new Map<number, RequestCell>()));
    const key = versionStatusKey(version, status);
    let cell = byKey.get(key);
    if (!cell) {
      const labels = { model: this.#model, version: version === undefined ? 'none' : String(version) };
      cell = { ...newCell({ ...labels, status: String(status) }, latencyBuckets), route };
      byKey.set(key, cell);
    }
    add(cell, latencyBuckets, seconds);
    if (version !== undefined) this.#countVersion(version, status, seconds * 1000);
  }

  #countVersion(version: number, status: number, ms: number): void {
    let stats = this.#versions.get(version);
    if (!stats) {
      stats = { requests: 0, errors: 0, rejected: 0, latencyMsSum: 0, latencyMsMax: 0 };
      this.#versions.set(version, stats);
    }
    stats.requests++;
    if (status >= 500) stats.errors++;
    else if (status >= 400) stats.rejected++;
    stats.latencyMsSum += ms;
    if (ms > stats.latencyMsMax) stats.latencyMsMax = ms;
  }

  /** Makes the fast lane's counters report the lane's own counts whenever metrics are collected. */
  watchFastLane(lane: { readonly answered: number; readonly handedOver: number }): void {
    const model = this.#model;
    const counter = (name: 'fast_lane_requests_total' | 'fast_lane_handovers_total', key: 'answered' | 'handedOver') =>
      exportMetric(
        this.registry,
        name,
        'counter',
        () => [{ labels: { model }, value: lane[key] }],
        () => undefined,
      );
    counter('fast_lane_requests_total', 'answered');
    counter('fast_lane_handovers_total', 'handedOver');
  }

  /** Makes `prediction_log_queue_rows` report `depth()` whenever metrics are collected. */
  watchLogDepth(depth: () => number): void {
    this.#logDepth = depth;
  }

  /** Counts a request's instances. */
  observeBatch(instances: number): void {
    add(this.#batches, batchBuckets, instances);
  }

  /** Counters per version since the server started. */
  versionStats(): Record<string, VersionStats> {
    return Object.fromEntries([...this.#versions].map(([v, s]) => [String(v), { ...s }]));
  }
}

/** One number for a version (or none) and a status: a request cell's key within its route. */
const versionStatusKey = (version: number | undefined, status: number): number => (version ?? -1) * 1000 + status;

/** The latency histogram by model, version and status: the request cells of every route, summed. */
function latencySeries(name: string, cells: RequestCell[]): Exported[] {
  const merged = new Map<string, Cell>();
  for (const cell of cells) {
    const key = `${cell.labels.version} ${cell.labels.status}`;
    let into = merged.get(key);
    if (!into) merged.set(key, (into = newCell(cell.labels, latencyBuckets)));
    into.count += cell.count;
    into.sum += cell.sum;
    cell.buckets.forEach((n, b) => (into.buckets[b]! += n));
  }
  return [...merged.values()].flatMap((cell) => histogramSeries(name, cell, latencyBuckets));
}
