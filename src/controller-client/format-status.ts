/** The controller's state and history as a person reads them in a terminal (`npm run models -- status|history`). */
import type { ControllerEvent, ControllerState } from '../contracts/controller';

export function formatStatus(state: ControllerState, workflowId: string): string {
  const lines = [
    `Model ${state.modelName} (alias ${state.alias}), controller ${workflowId}, run ${state.generation + 1}`,
    ...(state.paused
      ? [
          row(
            'paused',
            `since ${state.paused.since} (${state.paused.reason}); ${state.paused.held} incident(s) or scheduled retrain(s) not acted on; npm run models -- resume ${state.modelName}`,
          ),
        ]
      : []),
    row('stable', stableLine(state)),
    row('canary', canaryLine(state)),
    row('last verdict', verdictLine(state)),
    row('retrain', retrainLine(state)),
    row('last retrain', lastRetrainLine(state)),
    row('approval', approvalLine(state)),
    ...(state.nextRollout !== undefined
      ? [
          row(
            'next rollout',
            `v${state.nextRollout}${state.paused ? ' (waits for resume)' : ' (starts when the loop takes it)'}`,
          ),
        ]
      : []),
    row('rolled back', rolledBackLine(state)),
    ...(state.rejected?.length ? [row('rejected', rejectedLine(state))] : []),
    row('incidents', `${state.openIncidents.length} open${incidentFeatures(state)}${heldText(state)}`),
    row('thresholds', thresholdsLine(state)),
    row('servers', serversLine(state)),
    row('muted', state.muted.length ? state.muted.join(', ') : 'none'),
    `Recent history (${Math.min(state.history.length, 10)} of ${state.history.length}; npm run models -- history ${state.modelName}):`,
    ...state.history.slice(-10).map(formatEvent),
  ];
  return lines.join('\n');
}

export function formatHistory(state: ControllerState): string {
  if (!state.history.length) return `No events recorded for ${state.modelName} yet.`;
  return state.history.map(formatEvent).join('\n');
}

export function formatEvent(event: ControllerEvent): string {
  const version = event.version === undefined ? '' : `v${event.version}`;
  return `  ${event.at}  ${event.kind.padEnd(17)} ${version.padEnd(4)} ${event.message}`;
}

function row(label: string, value: string): string {
  return `  ${`${label}:`.padEnd(14)}${value}`;
}

function stableLine({ stable, previousStable }: ControllerState): string {
  if (stable === undefined) return 'none yet';
  return previousStable === undefined
    ? `version ${stable}`
    : `version ${stable} (before it: version ${previousStable})`;
}

/**
 * The last canary verdict, with the version it judged and when (from its `canary-judged` event): after a deployment by
 * hand it is an older version's, and must not read as the stable version's.
 */
function verdictLine({ lastVerdict, history }: ControllerState): string {
  if (!lastVerdict) return 'none';
  const judged = history.filter((e) => e.kind === 'canary-judged').pop();
  const which = judged?.version === undefined ? '' : `v${judged.version}, ${judged.at}: `;
  return `${which}${lastVerdict.decision}: ${lastVerdict.reasons.join(' ')}`;
}

function canaryLine({ canary }: ControllerState): string {
  if (!canary) return 'none';
  return `version ${canary.version} at ${Math.round(canary.weight * 1000) / 10} % of requests, baking until ${canary.bakeUntil}`;
}

function retrainLine({ retrain, requestedRetrain }: ControllerState): string {
  if (!retrain) return requestedRetrain ? `queued (${requestedRetrain.reason})` : 'none running';
  const folded = retrain.folded ? `, ${retrain.folded} more request(s) folded into it` : '';
  return `${retrain.workflowId} since ${retrain.startedAt} (${retrain.reason}${folded})`;
}

/** The hold on incidents after a rejected retrain, while it lasts (a person reading the status may retrain by hand). */
function heldText({ holding, stable }: ControllerState): string {
  // A hold about a version the alias no longer serves holds nothing: incidents about that version are ignored.
  if (!holding || Date.parse(holding.until) <= Date.now() || holding.version !== stable) return '';
  const why =
    holding.cause === 'same-model' ? `the last retrain made ${holding.reason}` : 'the last retrain was rejected';
  return `; those about v${holding.version} held until ${holding.until} (${holding.held} so far): ${why}`;
}

function lastRetrainLine({ lastRetrain, history }: ControllerState): string {
  if (!lastRetrain) return 'none';
  const version = lastRetrain.version === undefined ? '' : ` version ${lastRetrain.version}`;
  // A registered version that was then not rolled out (the same model as one rolled back or serving) says so.
  const skipped =
    lastRetrain.version === undefined
      ? undefined
      : [...history].reverse().find((e) => e.kind === 'rollout-skipped' && e.version === lastRetrain.version);
  const notRolledOut = skipped ? ` (not rolled out: ${skipped.message})` : '';
  return `${lastRetrain.outcome}${version} by ${lastRetrain.workflowId}: ${lastRetrain.reason}${notRolledOut}`;
}

function approvalLine({ pendingApproval, approval }: ControllerState): string {
  if (pendingApproval) {
    const { version, deadline, onTimeout } = pendingApproval;
    return `version ${version} waits for approve or reject until ${deadline} (then: ${onTimeout})`;
  }
  // A controller started before the settings were kept in its state.
  if (!approval) return 'nothing waiting';
  if (!approval.required) return 'not required (a version that passes the gate goes to its canary)';
  return `required: nothing waiting (a version that passes the gate waits ${approval.timeoutSeconds} s for approve or reject, then: ${approval.onTimeout})`;
}

function rolledBackLine({ rolledBack, canary }: ControllerState): string {
  if (!rolledBack?.length) return 'none';
  // A person deployed one of them by hand: it bakes as the canary, and leaves the list once it is promoted.
  const shown = (version: number) =>
    canary?.version === version
      ? `version ${version} (the canary now: off this list once promoted)`
      : `version ${version}`;
  return `${rolledBack.map((r) => shown(r.version)).join(', ')} (a retrain that makes one of these models again is not rolled out)`;
}

function rejectedLine({ rejected }: ControllerState): string {
  const versions = (rejected ?? []).map((r) => `version ${r.version} (${r.reason})`).join(', ');
  return `${versions} at their approval (a retrain that makes one of these models again is not put to approval)`;
}

function incidentFeatures({ openIncidents }: ControllerState): string {
  const features = [...new Set(openIncidents.flatMap((incident) => incident.driftedFeatures ?? []))];
  return features.length ? ` (drifted: ${features.join(', ')})` : '';
}

function serversLine({ servers }: ControllerState): string {
  if (servers === undefined) return 'as in the input (npm run models -- status --json shows the input)';
  return servers.length ? servers.join(', ') : 'none (new versions are deployed directly, without a canary)';
}

function thresholdsLine({ thresholds: t }: ControllerState): string {
  return [
    `weight ${t.weight}`,
    `bake ${t.bakeSeconds} s`,
    `min requests ${t.minRequests}`,
    `max error rate ${t.maxErrorRate}`,
    `max latency ratio ${t.maxLatencyRatio}`,
    ...(t.minLatencyIncreaseMs === undefined ? [] : [`min latency increase ${t.minLatencyIncreaseMs} ms`]),
    `max prediction drift ${t.maxPredictionDrift}`,
  ].join(', ');
}
