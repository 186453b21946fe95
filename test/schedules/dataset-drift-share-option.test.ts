/**
 * `npm run monitoring -- schedule … --dataset-drift-share <share>` run as a user runs it (the script in a child
 * process, against the test server): the share travels in the schedule's monitorModel input, and a value outside
 * (0, 1] is refused before anything is made, naming the option.
 */
import assert from 'node:assert/strict';
import { monitoringScheduleId } from '../../src/contracts/monitoring';
import { npmScript } from '../support/models-script';
import { stack, uniqueName } from '../support/stack';

describe('npm run monitoring -- schedule --dataset-drift-share', function () {
  this.timeout(120_000);

  it('puts the share in the scheduled input, and refuses 0, 1.5 and "abc" with exit 2 naming the option', async function () {
    const model = uniqueName('drift-share');
    const schedule = (share: string) =>
      npmScript('monitoring', 'schedule', model, '--cron', '0 * * * *', '--dataset-drift-share', share);
    for (const share of ['0', '1.5', 'abc']) {
      const refused = await schedule(share);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(
        refused.stderr,
        /^MLOPS_ERR_CLI_ARGUMENT_INVALID: Argument --dataset-drift-share of `npm run monitoring -- schedule` is invalid: \n- --dataset-drift-share \(datasetDriftShare\): must be a share of the unmuted features in \(0, 1\], e\.g\. 0\.2 for one feature in five\n/,
        share,
      );
    }
    const handle = stack().client.schedule.getHandle(monitoringScheduleId(model));
    await assert.rejects(handle.describe(), /not found/i, 'a refused share schedules nothing');

    const made = await schedule('0.2');
    assert.equal(made.code, 0, made.stderr);
    try {
      assert.match(made.stdout, /^Created schedule monitor-.*: monitorModel \{.*"datasetDriftShare":0\.2/);
      const [input] = (await handle.describe()).action.args as [Record<string, unknown>];
      assert.deepEqual(input, { modelName: model, datasetDriftShare: 0.2 });
    } finally {
      await handle.delete();
    }
  });

  it('lists the option in its usage', async function () {
    const help = await npmScript('monitoring', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /\[--dataset-drift-share <share>\]/);
  });
});
