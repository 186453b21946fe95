import assert from 'node:assert/strict';
import { formatStatus } from '../../src/controller-client/format-status';
import { initialState, parseControllerInput, rememberRolledBack } from '../../src/workflows/controller-state';
import { fakeControllerInput } from '../support/controller-fakes';

describe("npm run models -- status: the controller's state in lines", function () {
  it('marks a rolled-back version that bakes as the canary again (a person deployed it by hand)', function () {
    const state = initialState(parseControllerInput(fakeControllerInput('churn', 'q')));
    state.stable = 1;
    rememberRolledBack(state, 2, new Date('2026-12-04T09:00:00Z'), 'error rate 0.2');
    rememberRolledBack(state, 3, new Date('2026-12-04T09:30:00Z'), 'latency');
    const rolledBack = () =>
      formatStatus(state, 'model-controller-churn')
        .split('\n')
        .find((line) => line.includes('rolled back:'));
    assert.match(rolledBack()!, /rolled back: +version 2, version 3 \(a retrain that makes one of these models again/);
    state.canary = {
      version: 2,
      weight: 0.1,
      startedAt: '2026-12-04T10:00:00Z',
      bakeUntil: '2026-12-04T10:30:00Z',
      baseline: { at: '2026-12-04T10:00:00Z', servers: [] },
    } as unknown as NonNullable<typeof state.canary>;
    assert.match(
      rolledBack()!,
      /rolled back: +version 2 \(the canary now: off this list once promoted\), version 3 \(a retrain that makes/,
    );
  });

  it('names held incidents only about the version serving, and a last retrain that was not rolled out', function () {
    const state = initialState(parseControllerInput(fakeControllerInput('churn', 'q')));
    state.stable = 2;
    const until = new Date(Date.now() + 3_600_000).toISOString();
    state.holding = { version: 2, until, reason: 'gate failed', held: 3 };
    const line = (name: string) =>
      formatStatus(state, 'model-controller-churn')
        .split('\n')
        .find((l) => l.trimStart().startsWith(`${name}:`))!;
    assert.match(line('incidents'), /; those about v2 held until \S+ \(3 so far\): the last retrain was rejected$/);
    // Rolled back to v1 by hand: incidents about v2 are ignored anyway; the hold says nothing useful.
    state.stable = 1;
    assert.match(line('incidents'), /^ *incidents: +0 open$/);

    state.lastRetrain = { workflowId: 'retrain-churn-7', outcome: 'registered', version: 4, reason: 'auc 0.9 beats …' };
    state.history.push({
      at: '2026-12-04T10:00:00.000Z',
      kind: 'rollout-skipped',
      message: 'v4 is the same model as v3, rolled back for its error rate',
      version: 4,
    });
    assert.match(
      line('last retrain'),
      /registered version 4 by retrain-churn-7: auc 0\.9 beats … \(not rolled out: v4 is the same model as v3, rolled back for its error rate\)$/,
    );
  });

  it("shows the input's approval settings, and a version waiting for its approval", function () {
    const line = (state: ReturnType<typeof initialState>) =>
      formatStatus(state, 'model-controller-churn')
        .split('\n')
        .find((l) => l.trimStart().startsWith('approval:'))!;
    const off = initialState(parseControllerInput(fakeControllerInput('churn', 'q')));
    assert.match(line(off), /approval: +not required \(a version that passes the gate goes to its canary\)$/);
    const input = { ...fakeControllerInput('churn', 'q'), approval: { required: true, timeoutSeconds: 7200 } };
    const on = initialState(parseControllerInput(input));
    assert.match(
      line(on),
      /approval: +required: nothing waiting \(.* waits 7200 s for approve or reject, then: reject\)$/,
    );
    on.pendingApproval = { version: 3, requestedAt: 'x', deadline: '2026-12-04T12:00:00Z', onTimeout: 'reject' };
    assert.match(
      line(on),
      /approval: +version 3 waits for approve or reject until 2026-12-04T12:00:00Z \(then: reject\)$/,
    );
    // A state carried across continue-as-new takes the settings of the run's input.
    const carried = initialState({ ...parseControllerInput(input), state: { ...off, approval: undefined } });
    assert.match(line(carried), /approval: +required: nothing waiting/);
  });
});
