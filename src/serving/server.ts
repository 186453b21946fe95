/** Entry point of the model server: serves MLOPS_SERVE_MODEL's deployment at MLOPS_SERVE_ALIAS from the artifact store. */
import cluster from 'node:cluster';
import { BigQuery } from '@google-cloud/bigquery';
import { loadConfig } from '../config';
import type { Dependencies } from '../dependencies';
import { buildDependencies } from '../dependencies';
import { mlopsError } from '../errors';
import { sweepScratch } from '../scratch';
import { buildServer } from './app';
import type { ServerDeps } from './app';
import { BigQueryPredictionSink } from './bigquery-prediction-sink';
import { runPrimary } from './cluster';
import { ParquetPredictionSink } from './prediction-log';
import type { NamedSink } from './prediction-log';
import { takeNoArguments } from '../entry-arguments';

const serveUsage = `npm run serve (or npm run serve:built): serves the deployment of one model over HTTP.

Settings (environment variables; docs/configuration.md lists every one):
  MLOPS_SERVE_MODEL        the model to serve (required)
  MLOPS_SERVE_ALIAS        the alias whose deployment it follows (default production)
  MLOPS_SERVE_HOST, MLOPS_SERVE_PORT   where it listens (default 127.0.0.1:8080)
  MLOPS_SERVE_WORKERS      processes (default 1)
  MLOPS_SERVE_API_KEYS     keys a request must send as Authorization: Bearer <key> (default none)
Routes, the playground and the prediction log: docs/serving.md.`;

const loopback = new Set(['127.0.0.1', '::1', 'localhost']);

async function main(): Promise<void> {
  takeNoArguments('npm run serve', serveUsage);
  const config = loadConfig();
  const serve = config.serve;
  if (!serve.model)
    throw mlopsError('MLOPS_ERR_CONFIG_INVALID', { problems: 'MLOPS_SERVE_MODEL: required to start the model server' });
  if (serve.workers > 1 && cluster.isPrimary) return runPrimary(serve.workers);
  const deps = buildDependencies(config);
  const { store } = deps;
  // The prediction log's scratch folders of server processes on this host that were killed.
  await sweepScratch(deps.scratchRoot);
  const app = await buildServer({
    store,
    modelName: serve.model,
    alias: serve.alias,
    logger: { level: config.logLevel.toLowerCase() },
    limits: { bodyLimit: serve.bodyLimit, maxInstances: serve.maxInstances },
    requestTimeoutMs: serve.requestTimeoutMs,
    vertex: serve.vertex,
    pollMs: serve.pollMs,
    apiKeys: serve.apiKeys,
    fastLane: serve.fastLane,
    predictionLog: predictionLog(deps),
  });
  if (serve.apiKeys.length === 0 && !loopback.has(serve.host))
    app.log.warn(
      { host: serve.host },
      'listening beyond loopback without API keys; set MLOPS_SERVE_API_KEYS to require them',
    );
  // A clean shutdown drains requests, writes the buffered prediction log and releases the sessions. A cluster worker
  // then leaves the cluster (its IPC channel would keep it alive); the primary passes its signal on as SIGTERM.
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= app.close().then(() => {
      if (cluster.isWorker) cluster.worker!.disconnect();
    });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, close);
  app.serving.log?.startWorker();
  await app.listen({ host: serve.host, port: serve.port });
}

/** The prediction log's sinks: Parquet in the artifact store, plus a BigQuery table when one is configured. */
function predictionLog(deps: Dependencies): ServerDeps['predictionLog'] {
  const options = deps.config.serve.predictionLog;
  if (!options) return undefined;
  // A cluster worker names its parts after itself, so two workers never write one file.
  const writer = cluster.isWorker ? `w${cluster.worker!.id}` : undefined;
  const sinks: NamedSink[] = [{ name: 'parquet', sink: new ParquetPredictionSink(deps.store, writer) }];
  const table = options.bigqueryTable?.split('.');
  if (table) {
    const bigquery = new BigQuery(deps.bigQuerySource);
    sinks.push({ name: 'bigquery', sink: new BigQueryPredictionSink(bigquery, table[0]!, table[1]!) });
  }
  return { ...options, sinks, scratchRoot: deps.scratchRoot };
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
