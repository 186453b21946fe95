/** Entry point of the model server: serves MLOPS_SERVE_MODEL's deployment at MLOPS_SERVE_ALIAS from the artifact store. */
import { createArtifactStore } from '../artifacts';
import { loadConfig } from '../config';
import { mlopsError } from '../errors';
import { buildServer } from './app';

const loopback = new Set(['127.0.0.1', '::1', 'localhost']);

async function main(): Promise<void> {
  const config = loadConfig();
  const serve = config.serve;
  if (!serve.model)
    throw mlopsError('MLOPS_ERR_CONFIG_INVALID', { problems: 'MLOPS_SERVE_MODEL: required to start the model server' });
  const app = await buildServer({
    store: createArtifactStore(config),
    modelName: serve.model,
    alias: serve.alias,
    logger: { level: config.logLevel.toLowerCase() },
    limits: { bodyLimit: serve.bodyLimit, maxInstances: serve.maxInstances },
    vertex: serve.vertex,
    pollMs: serve.pollMs,
    apiKeys: serve.apiKeys,
    predictionLog: serve.predictionLog,
  });
  if (serve.apiKeys.length === 0 && !loopback.has(serve.host))
    app.log.warn(
      { host: serve.host },
      'listening beyond loopback without API keys; set MLOPS_SERVE_API_KEYS to require them',
    );
  // A clean shutdown drains requests, writes the buffered prediction log and releases the sessions.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
  await app.listen({ host: serve.host, port: serve.port });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
