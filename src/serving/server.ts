/** Entry point of the model server: serves MLOPS_SERVE_MODEL at alias MLOPS_SERVE_ALIAS from the artifact store. */
import { createArtifactStore } from '../artifacts';
import { loadConfig } from '../config';
import { mlopsError } from '../errors';
import { buildServer } from './app';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.serve.model)
    throw mlopsError('MLOPS_ERR_CONFIG_INVALID', { problems: 'MLOPS_SERVE_MODEL: required to start the model server' });
  const app = await buildServer({
    store: createArtifactStore(config),
    modelName: config.serve.model,
    alias: config.serve.alias,
    logger: { level: config.logLevel.toLowerCase() },
    limits: { bodyLimit: config.serve.bodyLimit, maxInstances: config.serve.maxInstances },
    vertex: config.serve.vertex,
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
  await app.listen({ host: config.serve.host, port: config.serve.port });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
