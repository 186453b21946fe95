/**
 * The model server's Prometheus metrics (prom-client, one registry per server so tests and several servers in one
 * process do not mix), plus per-version counters the deploy step reads to promote or roll back a canary.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
  swaps_total: 'Routing changes of the deployment record followed, by outcome (ok, failed)',
  prediction_log_queue_rows: 'Prediction log rows buffered and not yet written',
  prediction_log_dropped_rows_total:
    'Prediction log rows dropped, by reason (overflow: the buffer was full; sink: the write failed) and sink',
  prediction_log_written_rows_total: 'Prediction log rows written, by sink',
} as const;

/** A metric's options; every metric of a server registers in the server's own registry. */
function spec<L extends string>(registry: Registry, name: keyof typeof descriptions, labelNames: readonly L[]) {
  return { name: `mlops_serve_${name}`, help: descriptions[name], labelNames, registers: [registry] };
}

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const batchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];

export class ServingMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter(spec(this.registry, 'requests_total', ['model', 'version', 'route', 'status']));
  readonly latency = new Histogram({
    ...spec(this.registry, 'request_seconds', ['model', 'version', 'status']),
    buckets: latencyBuckets,
  });
  readonly batchSize = new Histogram({ ...spec(this.registry, 'batch_instances', ['model']), buckets: batchBuckets });
  readonly swaps = new Counter(spec(this.registry, 'swaps_total', ['model', 'outcome']));
  /** The log's buffered rows, read from the log when metrics are collected (see `watchLogDepth`). */
  #logDepth = () => 0;
  readonly logQueueDepth: Gauge = new Gauge({
    ...spec(this.registry, 'prediction_log_queue_rows', []),
    collect: () => this.logQueueDepth.set(this.#logDepth()),
  });
  readonly logDropped = new Counter(spec(this.registry, 'prediction_log_dropped_rows_total', ['reason', 'sink']));
  readonly logWritten = new Counter(spec(this.registry, 'prediction_log_written_rows_total', ['sink']));
  readonly #versions = new Map<number, VersionStats>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'mlops_serve_' });
  }

  observe(model: string, version: number | undefined, route: string, status: number, seconds: number): void {
    const v = version === undefined ? 'none' : String(version);
    // prom-client hashes the labels on every call, bound child or not (15.x), so none are kept here.
    this.requests.inc({ model, version: v, route, status: String(status) });
    this.latency.observe({ model, version: v, status: String(status) }, seconds);
    if (version === undefined) return;
    const stats = this.#versions.get(version) ?? {
      requests: 0,
      errors: 0,
      rejected: 0,
      latencyMsSum: 0,
      latencyMsMax: 0,
    };
    stats.requests++;
    if (status >= 500) stats.errors++;
    else if (status >= 400) stats.rejected++;
    stats.latencyMsSum += seconds * 1000;
    stats.latencyMsMax = Math.max(stats.latencyMsMax, seconds * 1000);
    this.#versions.set(version, stats);
  }

  /** Makes `prediction_log_queue_rows` report `depth()` whenever metrics are collected. */
  watchLogDepth(depth: () => number): void {
    this.#logDepth = depth;
  }

  /** Counts a request's instances. */
  observeBatch(model: string, instances: number): void {
    this.batchSize.observe({ model }, instances);
  }

  /** Counters per version since the server started. */
  versionStats(): Record<string, VersionStats> {
    return Object.fromEntries([...this.#versions].map(([v, s]) => [String(v), { ...s }]));
  }
}
