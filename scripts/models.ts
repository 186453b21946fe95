/**
 * `npm run models -- <command> <model> …`: the model controller from a terminal (start it, read its state, send its
 * updates) and the model's retraining Schedule. `npm run models` with no arguments prints the usage. Connects to the
 * Temporal server of the config (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE).
 *
 * Exit codes: 0 done; 1 the controller refused or is not running, or the server failed; 2 a bad command line.
 */
import { connectTemporalClient } from '../src/temporal-client';
import { loadConfig } from '../src/config';
import { parseModelsCommand, scriptExitCode, usage } from '../src/controller-client/command-line';
import { runModelsCommand } from '../src/controller-client/run-command';

async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && ['help', '--help', '-h'].includes(argv[0]!)) {
    console.log(usage);
    return 0;
  }
  const command = parseModelsCommand(argv);
  const temporal = await connectTemporalClient(loadConfig());
  try {
    console.log(await runModelsCommand(temporal.client, command));
    return 0;
  } finally {
    await temporal.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => process.exit(scriptExitCode(err, usage)),
);
