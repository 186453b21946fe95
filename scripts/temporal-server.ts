/**
 * `npm run temporal:server`: the project's Temporal dev server in the foreground (SQLite state in .mlops/temporal,
 * Web UI, search attributes registered), for running workers and the CLI by hand. Ctrl-C stops it; if the server
 * exits on its own (killed, crashed), this says so and exits with status 1.
 */
import path from 'node:path';
import { loadConfig } from '../src/config';
import { watchStopSignals } from '../src/dev/stop-signals';
import { resolveTemporalCli, startDevServer } from '../src/dev/temporal-server';
import { takeNoArguments } from '../src/entry-arguments';

async function main(): Promise<void> {
  takeNoArguments(
    'npm run temporal:server',
    `npm run temporal:server: the project's Temporal dev server in the foreground (SQLite state in
MLOPS_STATE_DIR/temporal, default .mlops/temporal; the Web UI; the project's search attributes registered), built
from Go modules on first use. Ctrl-C stops it.

Settings (environment variables; docs/configuration.md lists every one):
  MLOPS_DEV_SERVER_PORT     its gRPC port (default 7233)
  MLOPS_DEV_UI_PORT         its Web UI port (default 8233)
  MLOPS_DEV_HTTP_PORT, MLOPS_DEV_METRICS_PORT   its HTTP API and metrics ports (default: free ones)
  TEMPORAL_CLI_PATH         a temporal binary (v1.5.1) to use instead of building one`,
  );
  const config = loadConfig();
  // Installed first: a Ctrl-C while the server starts stops it once it is up; one during the stop does not cut it short.
  const signals = watchStopSignals(console.log);
  const server = await startDevServer({
    cliPath: resolveTemporalCli(config, console.log),
    stateDir: path.join(config.stateDir, 'temporal'),
    port: config.devServer.port,
    uiPort: config.devServer.uiPort,
    httpPort: config.devServer.httpPort,
    metricsPort: config.devServer.metricsPort,
    log: console.log,
  });
  console.log('Press Ctrl-C to stop.');
  // A server that dies under us (killed, crashed) is a failure: a supervisor restarts it, a person sees why.
  const ended = await Promise.race([signals.requested, server.unexpectedExit]);
  await server.stop();
  signals.dispose();
  if (typeof ended !== 'string') throw ended;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
