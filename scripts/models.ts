/**
 * `npm run models -- <command> <model> …`: the model controller from a terminal (start it, read its state, send its
 * updates) and the model's retraining Schedule. `npm run models` with no arguments prints the usage. Connects to the
 * Temporal server of the config (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE); `start` reads the registry of its artifact
 * store (MLOPS_ARTIFACT_ROOT) to note a model with no version yet. Warnings (a model server of `start --servers` or
 * `servers` that does not answer ready) go to stderr and do not change the exit code.
 *
 * Exit codes: 0 done; 1 the controller refused or is not running, `start` found it running with another alias or task
 * queue, or the server failed; 2 a bad command line.
 */
import { createArtifactStore } from '../src/artifacts';
import { connectTemporalClient } from '../src/temporal-client';
import { loadConfig } from '../src/config';
import { parseModelsCommand, scriptExitCode, usage } from '../src/controller-client/command-line';
import { runModelsCommand } from '../src/controller-client/run-command';
import { bundledTrainers } from '../src/trainers/trainer-commands';

async function main(argv: string[]): Promise<number> {
  // `help` alone, or --help / -h anywhere (`thresholds churn --help`): the usage, whatever else is on the line.
  if ((argv.length === 1 && argv[0] === 'help') || argv.some((arg) => arg === '--help' || arg === '-h')) {
    console.log(usage);
    return 0;
  }
  const command = parseModelsCommand(argv);
  const config = loadConfig();
  const temporal = await connectTemporalClient(config);
  try {
    const checks = {
      store: createArtifactStore(config),
      warn: (line: string) => console.error(line),
      training: {
        dataRoots: config.sources.dataRoots,
        trainers: [...bundledTrainers, ...Object.keys(config.training.trainers)],
      },
    };
    console.log(await runModelsCommand(temporal.client, command, checks));
    return 0;
  } finally {
    await temporal.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => process.exit(scriptExitCode(err, usage)),
);
