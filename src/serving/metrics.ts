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

export class ServingMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'mlops_serve_requests_total',
    help: 'Prediction requests answered, by model, version, route and HTTP status',
    labelNames: ['model', 'version', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'mlops_serve_request_seconds',
    help: 'Prediction request latency in seconds (server side, from the request to the reply), by model, version and status',
    labelNames: ['model', 'version', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'mlops_serve_batch_instances',
    help: 'Instances per prediction request',
    labelNames: ['model'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
    registers: [this.registry],
  });
  readonly swaps = new Counter({
    name: 'mlops_serve_swaps_total',
    help: 'Routing changes of the deployment record followed, by outcome (ok, failed)',
    labelNames: ['model', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly logQueueDepth = new Gauge({
    name: 'mlops_serve_prediction_log_queue_rows',
    help: 'Prediction log rows buffered and not yet written',
    registers: [this.registry],
  });
  readonly logDropped = new Counter({
    name: 'mlops_serve_prediction_log_dropped_rows_total',
    help: 'Prediction log rows dropped, by reason (overflow: the buffer was full; sink: the write failed) and sink',
    labelNames: ['reason', 'sink'] as const,
    registers: [this.registry],
  });
  readonly logWritten = new Counter({
    name: 'mlops_serve_prediction_log_written_rows_total',
    help: 'Prediction log rows written, by sink',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly #versions = new Map<number, VersionStats>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'mlops_serve_' });
  }

  observe(model: string, version: number | undefined, route: string, status: number, seconds: number): void {
    const v = version === undefined ? 'none' : String(version);
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

  /** Counters per version since the server started. */
  versionStats(): Record<string, VersionStats> {
    return Object.fromEntries([...this.#versions].map(([v, s]) => [String(v), { ...s }]));
  }
}
