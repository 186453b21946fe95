import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { monitoringScheduleId } from '../../src/contracts/monitoring';
import { readmeBlock, runReadmeLine, scheduleEssentials as essentials } from '../support/readme';
import { registryWith } from '../support/listed-registry';
import { npmScript, npmScriptWith } from '../support/models-script';
import {
  churnInstances,
  monitoredChurn,
  predictionRows,
  writeLogRows,
  writePredictionLog,
} from '../support/monitored-model';
import { moveAlias } from '../../src/registry/model-registry';
import { repoRoot, stack, tempDir, testConfig, uniqueName } from '../support/stack';
import { withWorkers } from '../support/workers';
import { withFakeActivities } from '../support/fake-activities';
import { cancelled } from '@temporalio/activity';

/** The `Fix:` lines of a refusal: one, naming the monitoring docs, whatever check refused it. */
function fixLines(stderr: string): string[] {
  return stderr.match(/^Fix: .*$/gm) ?? [];
}

describe('the monitoring schedule commands in the README', function () {
  this.timeout(120_000);

  it('the temporal schedule create line and npm run monitoring -- schedule make the same schedule, and the npm command updates it in place', async function () {
    const [cliLine] = readmeBlock('schedule-example');
    assert.match(cliLine!, /^temporal schedule create /);
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const npmLine = /^npm run monitoring -- schedule .*$/m.exec(readme)?.[0];
    assert.ok(npmLine, 'README.md shows the npm run monitoring command');
    const handle = stack().client.schedule.getHandle(monitoringScheduleId('churn'));

    await runReadmeLine(cliLine!);
    const fromCli = essentials(await handle.describe());
    await handle.delete();

    assert.match(await runReadmeLine(npmLine), /Created schedule monitor-churn/);
    const fromNpm = essentials(await handle.describe());
    assert.deepEqual(fromNpm, fromCli);
    assert.equal(fromNpm.workflowType, 'monitorModel');
    assert.equal(fromNpm.catchupWindow, 3_600_000);

    assert.match(await runReadmeLine(npmLine), /Updated schedule monitor-churn/);
    // Updated, not replaced: the schedule keeps its history (the update is recorded in its info).
    const after = await handle.describe();
    assert.deepEqual(essentials(after), fromCli);
    assert.ok(after.info.lastUpdatedAt, 'the second command updated the existing schedule');
    await handle.delete();
  });

  it('npm run monitoring takes muted features and thresholds, refuses a bad line or cron with exit 2, and unschedules', async function () {
    const model = uniqueName('unmonitored');
    const handle = stack().client.schedule.getHandle(monitoringScheduleId(model));
    const made = await npmScript(
      'monitoring',
      'schedule',
      model,
      '--cron',
      '*/5 * * * *',
      '--muted',
      'region,senior',
      '--threshold',
      'tenure_months=0.2',
      '--threshold',
      'prediction=0.3',
    );
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, new RegExp(`^Created schedule monitor-${model}: monitorModel `));
    // A model with nothing registered yet: the schedule is made, and the runs' fate is said.
    assert.match(
      made.stdout,
      new RegExp(
        `\\nNote: no version of model "${model}" is registered in .*its runs fail until a version is deployed`,
      ),
    );
    const [args] = (await handle.describe()).action.args as [Record<string, unknown>];
    assert.deepEqual(
      { muted: args.muted, thresholds: args.thresholds },
      { muted: ['region', 'senior'], thresholds: { tenure_months: 0.2, prediction: 0.3 } },
    );
    // Scheduling again replaces the whole input: the settings not given again are named, not dropped silently.
    const again = await npmScript('monitoring', 'schedule', model, '--cron', '*/5 * * * *', '--muted', 'region');
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      /\nNote: the schedule's input is replaced whole; these settings of the previous one were not given again and are gone: thresholds \{"tenure_months":0\.2,"prediction":0\.3\}\. Give them again to keep them\./,
    );
    assert.doesNotMatch(again.stdout, /gone: .*muted/);
    const everyFive = ['schedule', model, '--cron', '*/5 * * * *'];
    const uncompacted = await npmScript('monitoring', ...everyFive, '--muted', 'region', '--no-compact-log');
    assert.equal(uncompacted.code, 0, uncompacted.stderr);
    assert.doesNotMatch(uncompacted.stdout, /gone:/);
    const [off] = (await handle.describe()).action.args as [Record<string, unknown>];
    assert.equal(off.compactLog, false);
    // Every setting of the labels has its option: several instances per request are labelled by position.
    const labelled = await npmScript(
      'monitoring',
      ...everyFive,
      ...['--labels', 'examples/labels.csv', '--id-column', 'rid', '--label-column', 'y'],
      ...['--instance-column', 'instance', '--lookback-hours', '24', '--min-labelled', '50'],
    );
    assert.equal(labelled.code, 0, labelled.stderr);
    const [withLabels] = (await handle.describe()).action.args as [Record<string, unknown>];
    assert.deepEqual(withLabels.labels, {
      uri: 'examples/labels.csv',
      idColumn: 'rid',
      labelColumn: 'y',
      instanceColumn: 'instance',
      lookbackHours: 24,
      minLabelled: 50,
    });
    const orphan = await npmScript('monitoring', ...everyFive, '--instance-column', 'instance', '--min-labelled', '5');
    assert.equal(orphan.code, 2);
    assert.match(orphan.stderr, /--instance-column, --min-labelled need --labels\./);
    const word = await npmScript('monitoring', ...everyFive, '--threshold', 'region=abc');
    assert.equal(word.code, 2);
    assert.match(word.stderr, /Argument --threshold .* is invalid: region: "abc" is not a number in decimal digits/);

    const unknown = await npmScript('monitoring', 'schedule', model, '--cron', '0 * * * *', '--mute', 'region');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown option '--mute'[\s\S]*Usage:\n {2}npm run monitoring -- schedule <model>/);
    const cron = await npmScript('monitoring', 'schedule', model, '--cron', '99 * * * *');
    assert.equal(cron.code, 2);
    assert.match(
      cron.stderr,
      /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --cron of `npm run monitoring -- schedule` is invalid: the server refused "99 \* \* \* \*"/,
    );
    // An input the workflow would refuse: its fix points at the monitoring docs, not the training pipeline's.
    const minRows = await npmScript('monitoring', 'schedule', model, '--cron', '0 * * * *', '--min-rows', '0');
    assert.equal(minRows.code, 2);
    assert.match(minRows.stderr, /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --min-rows /);
    const [fix, ...more] = fixLines(minRows.stderr);
    assert.deepEqual(more, []);
    assert.match(fix!, /docs\/monitoring\.md \("The monitoring run"\) describes the options of `npm run monitoring`/);
    assert.doesNotMatch(minRows.stderr, /pipeline-input\.md/);

    assert.deepEqual(await npmScript('monitoring', 'unschedule', model), {
      code: 0,
      stdout: `Deleted the monitoring schedule of ${model}.\n`,
      stderr: '',
    });
    assert.equal((await npmScript('monitoring', 'unschedule', model)).stdout, `${model} had no monitoring schedule.\n`);
  });

  it('refuses muted features and thresholds the deployed version does not take, scheduling nothing, and prints its usage on --help', async function () {
    this.timeout(300_000);
    const churn = await monitoredChurn();
    const model = 'churn-schedule-names';
    await churn.deployAs(model);
    const env = { MLOPS_ARTIFACT_ROOT: churn.store.root };
    const schedule = (...flags: string[]) =>
      npmScriptWith(env, 'monitoring', 'schedule', model, '--cron', '0 * * * *', ...flags);
    const typo = await schedule('--threshold', 'tenure=0.2');
    assert.equal(typo.code, 2, typo.stderr);
    assert.match(
      typo.stderr,
      /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --threshold of `npm run monitoring -- schedule` is invalid: The drift check of model "churn-schedule-names" names "tenure" in thresholds, which version \d+ does not take; its features are "tenure_months", /,
    );
    const muted = await schedule('--muted', 'regoin');
    assert.equal(muted.code, 2);
    assert.match(muted.stderr, /Argument --muted .* names "regoin" in muted/);
    const both = await schedule('--muted', 'regoin', '--threshold', 'tenure=0.2');
    assert.equal(both.code, 2);
    assert.match(
      both.stderr,
      /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --muted and --threshold .* in muted and thresholds/,
    );
    // One fix, the command line's: the drift check's own fix speaks of the schedule's input, not of its options.
    for (const refused of [typo, muted, both]) {
      const [fix, ...more] = fixLines(refused.stderr);
      assert.deepEqual(more, [], refused.stderr);
      assert.match(fix!, /^Fix: Correct the argument as the message says/);
    }
    const negative = await schedule('--threshold', 'region=-1');
    assert.equal(negative.code, 2);
    assert.match(
      negative.stderr,
      /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --threshold of `npm run monitoring -- schedule` is invalid: \n- --threshold \(thresholds\.region\): Number must be greater than or equal to 0/,
    );
    await assert.rejects(stack().client.schedule.getHandle(monitoringScheduleId(model)).describe(), /not found/i);
    const good = await schedule('--muted', 'region', '--threshold', 'prediction=0.3');
    assert.equal(good.code, 0, good.stderr);
    assert.doesNotMatch(good.stdout, /Note:/);
    await stack().client.schedule.getHandle(monitoringScheduleId(model)).delete();

    const help = await npmScript('monitoring', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage:\n {2}npm run monitoring -- schedule <model>/);
    assert.match(help.stdout, /\n<alias>: a registry alias \(lower-case letters, digits and "-"; default production\)/);
    assert.match(
      help.stdout,
      /both commands\nrefuse any other\. docs\/monitoring\.md \("The monitoring run"\) describes each option/,
    );
  });

  it('schedules a model with no version registered, naming the models that are (or that none is), like npm run models -- start', async function () {
    const registered = uniqueName('registered');
    const typo = uniqueName('chrun');
    const listed = await registryWith([registered, `${registered}-b`]);
    const empty = await registryWith([]);
    const schedule = (root: string, model: string) =>
      npmScriptWith({ MLOPS_ARTIFACT_ROOT: root }, 'monitoring', 'schedule', model, '--cron', '0 * * * *');
    try {
      const made = await schedule(listed.root, typo);
      assert.equal(made.code, 0, made.stderr);
      assert.equal(
        made.stdout.split('\n')[1],
        `Note: no version of model "${typo}" is registered in ${listed.root} yet (a typo in the model name?); the models registered there are "${registered}", "${registered}-b". The schedule was made anyway: its runs fail until a version is deployed with alias production.`,
      );
      const none = await schedule(empty.root, typo);
      assert.equal(none.code, 0, none.stderr);
      assert.match(
        none.stdout,
        new RegExp(
          `\\nNote: no version of model "${typo}" is registered in .* yet \\(a typo in the model name\\?\\); no model is registered there yet\\. The schedule was made anyway`,
        ),
      );
      // A registered model without the alias is no typo: only the alias is missing.
      const staging = await schedule(listed.root, registered);
      assert.equal(staging.code, 0, staging.stderr);
      assert.match(
        staging.stdout,
        new RegExp(`\\nNote: model ${registered} has no version with alias production in the registry`),
      );
      assert.doesNotMatch(staging.stdout, /a typo/);
    } finally {
      for (const model of [typo, registered])
        await stack()
          .client.schedule.getHandle(monitoringScheduleId(model))
          .delete()
          .catch(() => undefined);
    }
  });

  it('npm run monitoring -- check runs one check now and prints what it found; a model without a version is refused', async function () {
    this.timeout(300_000);
    const churn = await monitoredChurn();
    const model = 'churn-check-now';
    const version = await churn.deployAs(model);
    const tenMinutesAgo = new Date(Date.now() - 600_000).toISOString();
    const drift = { tenureShift: 12, monthToMonthShare: 0.9, chargesFactor: 1.3, newPaymentMethodShare: 0.3 };
    await writePredictionLog(
      churn.store,
      model,
      version,
      tenMinutesAgo,
      churnInstances({ rows: 2000, seed: 23, drift }),
    );
    // Two parts of a retired version in an hour that closed well before the check: the run merges them.
    const closedHour = Math.floor((Date.now() - 2 * 3_600_000) / 3_600_000) * 3_600_000;
    for (const minute of [0, 1])
      await writeLogRows(
        churn.store,
        model,
        predictionRows(
          model,
          version + 1,
          new Date(closedHour + minute * 60_000).toISOString(),
          churnInstances({ rows: 5, seed: minute }),
        ),
      );
    await withWorkers({ config: testConfig(), title: this.test!.title, store: churn.store }, async (queues) => {
      const env = { MLOPS_ARTIFACT_ROOT: churn.store.root };
      const checked = await npmScriptWith(env, 'monitoring', 'check', model, '--task-queue', queues.pipeline);
      assert.equal(checked.code, 0, checked.stderr);
      const [first, ...rest] = checked.stdout.trim().split('\n');
      assert.match(
        first!,
        /^monitor-churn-check-now-check-\S+Z-[0-9a-f]{6}: 2000 rows, 5 drifted feature\(s\) \(.*tenure_months.*\), share 0\.\d+ \(dataset drift at 0\.5\): DRIFT$/,
      );
      assert.ok(
        rest.some((line) => /^ {2}report: file:\/\/.*\.html$/.test(line)),
        checked.stdout,
      );
      assert.ok(
        rest.includes(`  incident (drift): no controller runs for ${model}; it is in the run's result only`),
        checked.stdout,
      );
      assert.ok(rest.includes('  log: merged 2 part(s) of 1 closed hour(s)'), checked.stdout);
      // The check moved the window's start, as a scheduled run does: a second check finds no new rows.
      // With labels, the live metric always has its line: here no label has arrived (a header only), so it is
      // skipped, with the counts.
      const labels = path.join(tempDir('check-labels'), 'labels.csv');
      fs.writeFileSync(labels, 'request_id,label\n');
      const again = await npmScriptWith(
        env,
        'monitoring',
        'check',
        model,
        '--task-queue',
        queues.pipeline,
        '--labels',
        labels,
      );
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /: skipped: /);
      assert.match(
        again.stdout,
        /\n {2}live metric skipped: .+; labelled 0, waiting for labels \d+, unknownIds 0, duplicateIds 0\n/,
      );

      const none = await npmScriptWith(env, 'monitoring', 'check', 'chrun', '--task-queue', queues.pipeline);
      assert.equal(none.code, 2);
      assert.match(
        none.stderr,
        /Argument <model> of `npm run monitoring -- check` is invalid: no version of model "chrun"/,
      );
      const upper = await npmScriptWith(env, 'monitoring', 'check', 'Churn', '--task-queue', queues.pipeline);
      assert.equal(upper.code, 2);
      assert.match(upper.stderr, /must be a registry model name \(lower-case letters, digits and "-", starting with a/);
      const cron = await npmScriptWith(env, 'monitoring', 'check', model, '--cron', '0 * * * *');
      assert.equal(cron.code, 2);
      assert.match(cron.stderr, /check runs once now: it takes no --cron/);
    });
  });

  it("keeps one monitoring schedule per alias: scheduling staging leaves production's alone", async function () {
    const model = uniqueName('two-aliases');
    const production = await npmScript('monitoring', 'schedule', model, '--cron', '0 * * * *');
    assert.equal(production.code, 0, production.stderr);
    const staging = await npmScript('monitoring', 'schedule', model, '--alias', 'staging', '--cron', '30 * * * *');
    assert.equal(staging.code, 0, staging.stderr);
    assert.match(staging.stdout, new RegExp(`^Created schedule monitor-${model}\\.staging: monitorModel `));
    const inputOf = async (alias?: string) =>
      (
        (await stack().client.schedule.getHandle(monitoringScheduleId(model, alias)).describe()).action.args as [
          Record<string, unknown>,
        ]
      )[0];
    assert.equal((await inputOf()).alias, undefined, 'production keeps its own schedule and input');
    assert.equal((await inputOf('staging')).alias, 'staging');
    // A bad alias is refused as schedule refuses it (exit 2, naming --alias), and deletes nothing.
    for (const alias of ['Bad Alias', '']) {
      const badAlias = await npmScript('monitoring', 'unschedule', model, '--alias', alias);
      assert.equal(badAlias.code, 2, badAlias.stdout);
      assert.match(
        badAlias.stderr,
        /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --alias of `npm run monitoring -- unschedule` is invalid: \n- --alias \(alias\): must be a registry alias \(lower-case letters, digits and "-"\)\nFix: Correct the argument/,
      );
    }
    const badModel = await npmScript('monitoring', 'unschedule', 'Two-Aliases', '--alias', 'staging');
    assert.equal(badModel.code, 2);
    assert.match(badModel.stderr, /Argument <model> of `npm run monitoring -- unschedule` is invalid/);
    assert.equal((await inputOf('staging')).alias, 'staging', 'the refused commands deleted nothing');
    assert.equal(
      (await npmScript('monitoring', 'unschedule', model, '--alias', 'staging')).stdout,
      `Deleted the monitoring schedule of ${model} (alias staging).\n`,
    );
    assert.equal(
      (await npmScript('monitoring', 'unschedule', model)).stdout,
      `Deleted the monitoring schedule of ${model}.\n`,
    );
  });

  it('gives up waiting for a check after --timeout seconds, saying the run goes on and where to see how it ends (exit 1)', async function () {
    const model = uniqueName('check-unanswered');
    const store = await registryWith([model]);
    await moveAlias(store, model, 'production', 1);
    // A worker that takes the run but never finishes its drift check: as one killed a moment ago, still listed.
    await withFakeActivities(this.test!.title, { checkModelDrift: () => cancelled() }, async (taskQueue) => {
      const env = { MLOPS_ARTIFACT_ROOT: store.root };
      const run = await npmScriptWith(env, 'monitoring', 'check', model, '--task-queue', taskQueue, '--timeout', '2');
      assert.equal(run.code, 1, run.stdout);
      const workflowId = /Monitoring check (\S+) did not end within 2 s \(--timeout\); it goes on/.exec(
        run.stderr,
      )?.[1];
      assert.ok(workflowId, run.stderr);
      assert.match(run.stderr, new RegExp(`temporal workflow result --workflow-id ${workflowId}`));
      const described = await stack().client.workflow.getHandle(workflowId).describe();
      assert.equal(described.status.name, 'RUNNING', 'the run was left to go on');
      await stack().client.workflow.getHandle(workflowId).terminate('test over');
    });
    const bad = await npmScriptWith(
      { MLOPS_ARTIFACT_ROOT: store.root },
      'monitoring',
      'check',
      model,
      '--timeout',
      '0',
    );
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /Argument --timeout of `npm run monitoring -- check` is invalid: must be at least 1 second/,
    );
  });

  it('refuses empty values, numbers not in plain decimal or above their bound (exit 2), and a check on a task queue no worker polls (exit 1)', async function () {
    const model = uniqueName('check-refusals');
    const store = await registryWith([model]);
    await moveAlias(store, model, 'production', 1);
    const env = { MLOPS_ARTIFACT_ROOT: store.root };
    const refused = async (args: string[], message: RegExp) => {
      const run = await npmScriptWith(env, 'monitoring', ...args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}`);
      assert.match(run.stderr, message);
    };
    const schedule = ['schedule', model, '--cron', '0 * * * *'];
    await refused(
      [...schedule, '--labels', ''],
      /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --labels of `npm run monitoring -- schedule` is invalid: "" is empty: give a value, or leave --labels out/,
    );
    await refused(
      ['check', model, '--labels', ' '],
      /Argument --labels of `npm run monitoring -- check` is invalid: " " is empty/,
    );
    await refused(
      [...schedule, '--muted', ','],
      /Argument --muted of `npm run monitoring -- schedule` is invalid: "," is empty/,
    );
    await refused(
      ['check', model, '--task-queue', ''],
      /Argument --task-queue of `npm run monitoring -- check` is invalid: "" is empty/,
    );
    await refused(
      [...schedule, '--min-rows', '1e300'],
      /Argument --min-rows of `npm run monitoring -- schedule` is invalid: "1e300" is not a whole number in decimal digits/,
    );
    await refused(
      [...schedule, '--min-rows', '100000001'],
      /--min-rows .*: 100000001 is above the largest accepted, 100000000/,
    );
    await refused(
      ['check', model, '--lag-seconds', '0x10'],
      /Argument --lag-seconds of `npm run monitoring -- check` is invalid: "0x10" is not a whole number/,
    );
    await refused(
      [...schedule, '--threshold', 'tenure=1e3'],
      /Argument --threshold .* is invalid: tenure: "1e3" is not a number in decimal digits/,
    );
    await assert.rejects(stack().client.schedule.getHandle(monitoringScheduleId(model)).describe(), /not found/i);

    const queue = `nobody-polls-${model}`;
    const unpolled = await npmScriptWith(
      env,
      'monitoring',
      'check',
      model,
      '--lag-seconds',
      '0',
      '--task-queue',
      queue,
    );
    assert.equal(unpolled.code, 1, unpolled.stdout);
    assert.equal(unpolled.stdout, '');
    assert.equal(
      unpolled.stderr.split('\nFix: ')[0],
      `MLOPS_ERR_MONITOR_NO_WORKER: No worker polls task queue "${queue}": \`npm run monitoring -- check\` would wait for its monitorModel run for ever, so none was started`,
    );
  });
});
