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
});
