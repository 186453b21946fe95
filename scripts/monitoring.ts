/**
 * `npm run monitoring -- schedule <model> --cron "<expr>" [--alias production] [--min-rows 500] [--preset evidently]
 * [--labels <uri> [--id-column request_id] [--label-column label] [--accuracy-drop 0.05]] [--log parquet|bigquery]`: creates the model's monitoring Schedule (a `monitorModel` run per cron tick), or updates it when it exists. Connects
 * to the Temporal server of the config (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE).
 */
import { parseArgs } from 'node:util';
import { connectTemporalClient } from '../src/temporal-client';
import { loadConfig } from '../src/config';
import type { MonitorModelInput } from '../src/contracts/monitoring';
import { monitorModelInputSchema } from '../src/contracts/monitoring';
import { parseWorkflowInput } from '../src/contracts/validate';
import { upsertMonitoringSchedule } from '../src/schedules/monitoring-schedule';

const usage = `Usage:
  npm run monitoring -- schedule <model> --cron "<cron>" [--alias <alias>] [--min-rows <n>] [--preset evidently|vertex]
      [--labels <uri> [--id-column <name>] [--label-column <name>] [--accuracy-drop <x>]] [--log parquet|bigquery]`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      cron: { type: 'string' },
      alias: { type: 'string' },
      'min-rows': { type: 'string' },
      preset: { type: 'string' },
      labels: { type: 'string' },
      'id-column': { type: 'string' },
      'label-column': { type: 'string' },
      'accuracy-drop': { type: 'string' },
      log: { type: 'string' },
    },
  });
  const [command, modelName, ...extra] = positionals;
  const labelFlags = values['id-column'] ?? values['label-column'] ?? values['accuracy-drop'];
  if (command !== 'schedule' || !modelName || extra.length || !values.cron || (labelFlags && !values.labels)) {
    console.error(usage);
    return 2;
  }
  const input: MonitorModelInput = { modelName };
  if (values.alias) input.alias = values.alias;
  if (values['min-rows']) input.minRows = Number(values['min-rows']);
  if (values.preset) input.preset = values.preset as MonitorModelInput['preset'];
  if (values.labels)
    input.labels = {
      uri: values.labels,
      ...(values['id-column'] && { idColumn: values['id-column'] }),
      ...(values['label-column'] && { labelColumn: values['label-column'] }),
    };
  if (values['accuracy-drop']) input.accuracyDrop = Number(values['accuracy-drop']);
  if (values.log) input.log = values.log as MonitorModelInput['log'];
  // Refused here, with every bad flag listed, rather than by each scheduled run.
  parseWorkflowInput(monitorModelInputSchema, input, 'monitorModel');
  const config = loadConfig();
  const temporal = await connectTemporalClient(config);
  try {
    const { scheduleId, created } = await upsertMonitoringSchedule(temporal.client, { cron: values.cron, input });
    console.log(
      `${created ? 'Created' : 'Updated'} schedule ${scheduleId}: monitorModel ${JSON.stringify(input)} on "${values.cron}"`,
    );
    return 0;
  } finally {
    await temporal.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
