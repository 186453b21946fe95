/**
 * The model controller's state and the pure changes made to it: what an incident does, what a finished retrain
 * does, what is recorded in its history. No Temporal calls here, so each rule reads on its own; the workflow
 * (model-controller.ts) decides when they run.
 */
import type {
  ControllerEvent,
  ControllerEventKind,
  ControllerSpec,
  ControllerState,
  NotificationEvent,
  RetrainOutcome,
} from '../contracts/controller';
import { controllerInputSchema } from '../contracts/controller';
import type { MonitoringIncident } from '../contracts/monitoring';
import { trainingPipelineInputSchema } from '../contracts/pipeline';
import { parseWorkflowInput } from '../contracts/validate';

/**
 * The controller's input, checked whole: its own fields, and the training input each retrain will start with (so a
 * mistyped hyperparameter fails now, not at the first retrain). The workflow and `npm run models -- start` both call it.
 */
/** Where the controller's input is described, for the fix of a refused one. */
export const controllerInputDocs = 'docs/controller.md ("Input")';

export function parseControllerInput(raw: unknown): ControllerSpec {
  const spec = parseWorkflowInput(controllerInputSchema, raw, 'modelController', controllerInputDocs);
  parseWorkflowInput(
    trainingPipelineInputSchema,
    retrainInput(spec, 'check'),
    'modelController (training)',
    'docs/controller.md ("Input") and docs/pipeline-input.md (its training field)',
  );
  return spec;
}

/** The state a first run starts from, or the one a previous run carried across continue-as-new. */
export function initialState(spec: ControllerSpec): ControllerState {
  const carried = spec.state as ControllerState | undefined;
  // The approval settings are the input's (no update changes them): shown by status, taken from every run's input.
  const approval = { ...spec.approval };
  if (carried) return { ...carried, approval, generation: carried.generation + 1 };
  return {
    modelName: spec.modelName,
    alias: spec.alias,
    approval,
    thresholds: spec.canary,
    servers: [...spec.servers],
    muted: [...spec.muted],
    openIncidents: [],
    attempts: 0,
    outbox: [],
    history: [],
    generation: 0,
  };
}

/** Appends to the recent history, keeping the last `limit` entries. */
export function record(
  state: ControllerState,
  limit: number,
  now: Date,
  kind: ControllerEventKind,
  message: string,
  version?: number,
): void {
  const event: ControllerEvent = {
    at: now.toISOString(),
    kind,
    message,
    ...(version === undefined ? {} : { version }),
  };
  state.history.push(event);
  if (state.history.length > limit) state.history.splice(0, state.history.length - limit);
}

/** Queues a webhook message; the workflow's loop sends it. */
export function notify(
  state: ControllerState,
  workflowId: string,
  event: NotificationEvent,
  text: string,
  version?: number,
): void {
  state.outbox.push({
    event,
    modelName: state.modelName,
    text,
    workflowId,
    ...(version === undefined ? {} : { version }),
  });
}

/** A rollout is under way: a canary bakes, a version waits for approval or for its canary to start. */
export function rolloutUnderWay(state: ControllerState): boolean {
  return (
    state.canary !== undefined ||
    state.pendingApproval !== undefined ||
    state.nextRollout !== undefined ||
    state.retrained !== undefined
  );
}

/** How many rolled-back versions the state remembers. */
const rolledBackLimit = 20;

/** Remembers a version that was rolled back, so the same model is not rolled out again by itself. */
export function rememberRolledBack(state: ControllerState, version: number, at: Date, reason: string): void {
  const list = (state.rolledBack ?? []).filter((r) => r.version !== version);
  list.push({ version, at: at.toISOString(), reason });
  state.rolledBack = list.slice(-rolledBackLimit);
}

/** Remembers a version turned down at its approval (the same bound as rolled-back versions). */
export function rememberRejected(state: ControllerState, version: number, at: Date, reason: string): void {
  const list = (state.rejected ?? []).filter((r) => r.version !== version);
  list.push({ version, at: at.toISOString(), reason });
  state.rejected = list.slice(-rolledBackLimit);
}

/** Forgets a rolled-back version that became stable again (deployed or promoted by hand). */
export function forgetRolledBack(state: ControllerState, version: number): void {
  if (state.rolledBack?.some((r) => r.version === version))
    state.rolledBack = state.rolledBack.filter((r) => r.version !== version);
}

export type IncidentEffect = 'ignored' | 'folded' | 'retrain';

/**
 * What an incident does. Single flight: while a retrain runs or its version rolls out, every incident folds into it;
 * otherwise it asks for one retrain (more incidents before it starts fold into that request).
 */
export function incidentEffect(
  state: ControllerState,
  spec: ControllerSpec,
  incident: MonitoringIncident,
): IncidentEffect {
  if (!spec.retrainOn.includes(incident.kind)) return 'ignored';
  if (incident.kind === 'drift' && incident.driftedFeatures.every((f) => state.muted.includes(f))) return 'ignored';
  if (state.retrain || state.requestedRetrain || rolloutUnderWay(state)) return 'folded';
  return 'retrain';
}

/**
 * Why an incident is not about what this controller serves, or undefined when it is: one about another alias, or about
 * a version the alias served before (older than stable, or rolled back; a window judged before a rollout) says nothing
 * of the model it serves now. A newer version than the controller knows is taken as served (a pipeline may deploy past
 * the controller). Incidents of monitoring runs older than the alias field carry none: the controller's alias.
 */
export function incidentElsewhere(state: ControllerState, incident: MonitoringIncident): string | undefined {
  if (incident.alias !== undefined && incident.alias !== state.alias)
    return `it is about alias "${incident.alias}"; this controller rolls out "${state.alias}"`;
  const { stable, canary } = state;
  if (stable === undefined || incident.version === stable || incident.version === canary?.version) return undefined;
  const replaced = incident.version < stable || (state.rolledBack ?? []).some((r) => r.version === incident.version);
  if (!replaced) return undefined;
  const serving = canary ? `v${stable} and canary v${canary.version} serve it` : `v${stable} serves it`;
  return `v${incident.version} no longer serves "${state.alias}"; ${serving}`;
}

/**
 * What holds incidents about the stable version after the gate rejected the retrain that answered them: until
 * `retrainCooldownSeconds` after `now`; undefined with the cool-down off or no version served.
 */
export function holdAfter(
  state: ControllerState,
  spec: ControllerSpec,
  reason: string,
  now: number,
  cause?: 'same-model',
): ControllerState['holding'] {
  if (spec.retrainCooldownSeconds === 0 || state.stable === undefined) return undefined;
  const until = new Date(now + spec.retrainCooldownSeconds * 1000).toISOString();
  return { version: state.stable, until, reason, held: 0, ...(cause ? { cause } : {}) };
}

/** The hold an incident falls under: about the held version, before the hold ends, and no retrain already under way. */
export function heldBy(
  state: ControllerState,
  incident: MonitoringIncident,
  now: number,
): NonNullable<ControllerState['holding']> | undefined {
  const holding = state.holding;
  if (!holding || incident.version !== holding.version || now >= Date.parse(holding.until)) return undefined;
  return state.retrain || state.requestedRetrain ? undefined : holding;
}

export function describeIncident(incident: MonitoringIncident): string {
  const where = incident.alias === undefined || incident.alias === 'production' ? '' : ` (alias ${incident.alias})`;
  return `${incident.kind} on v${incident.version}${where}: ${incident.reason}`;
}

/** The training input of a retrain: the configured one, registering without deploying, reporting back. */
export function retrainInput(spec: ControllerSpec, controllerId: string): Record<string, unknown> {
  return { ...spec.training, modelName: spec.modelName, deploy: false, reportTo: controllerId };
}

/** Applies a finished retrain; false when it is not the retrain in flight (a duplicate report). */
export function finishRetrain(state: ControllerState, outcome: RetrainOutcome): boolean {
  if (state.retrain?.workflowId !== outcome.workflowId) return false;
  state.retrain = undefined;
  state.lastRetrain = outcome;
  state.openIncidents = [];
  return true;
}

/** Whether the controller may continue as new now: nothing in flight that lives only in this run's memory. */
export function canContinueAsNew(state: ControllerState): boolean {
  return (
    state.canary === undefined &&
    state.nextRollout === undefined &&
    state.retrained === undefined &&
    state.pendingApproval === undefined &&
    state.requestedRetrain === undefined &&
    state.outbox.length === 0
  );
}
