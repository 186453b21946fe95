/**
 * The closed loop on a running stack, for `npm run demo -- --loop` and its browser test:
 *
 *   model controller started for the served model → newest labelled data (shifted customers) written where the
 *   retraining template reads → live traffic of shifted customers to the model server → the monitoring Schedule
 *   triggered (window: the fresh rows) → drift → the run signals its incident to the controller → one retraining
 *   child → gate → canary (short bake) → promoted → the server answers with the new version
 *
 * Each step is printed as it happens; the controller's own history (its status query) is printed as it grows, and the
 * retraining child's steps beneath it.
 */
import { monitorResultLine } from '../monitoring/result-text';
import fs from 'node:fs';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import type { CanaryThresholds, ControllerEvent, ControllerState } from '../contracts/controller';
import { controllerWorkflowId } from '../contracts/controller';
import type { FittedTransform } from '../contracts/datasets';
import { featureSchema } from '../models/predictor';
import type { FeatureSchema } from '../models/predictor';
import type { MonitorModelInput, MonitorModelResult } from '../contracts/monitoring';
import type { TrainingPipelineInput } from '../contracts/pipeline';
import type { ChurnOptions } from '../data/churn-generator';
import { generateChurnCsv } from '../data/churn-generator';
import { resolveAlias } from '../registry/model-registry';
import { upsertMonitoringSchedule } from '../schedules/monitoring-schedule';
import { controllerStatusQuery } from '../workflows/definitions';
import type { modelController } from '../workflows';
import { newShownSteps, printNewSteps } from './pipeline-progress';
import type { ShownSteps } from './pipeline-progress';

type Drift = NonNullable<ChurnOptions['drift']>;

/**
 * The shift of the live customers in a loop's generation (1 on a fresh state folder): newer, pricier, more
 * month-to-month, and a payment method never seen before. Each later loop on the same state folder moves them further,
 * so the version the previous loop promoted (trained on the previous shift) sees drift again.
 */
export function demoDrift(generation: number): Drift {
  return {
    tenureShift: -10 * generation,
    chargesFactor: 1 + 0.25 * generation,
    monthToMonthShare: Math.min(0.95, 0.55 + 0.25 * generation),
    newPaymentMethodShare: Math.min(0.9, 0.3 * generation),
  };
}

export interface ClosedLoopOptions {
  client: Client;
  store: ArtifactStore;
  /** The pipeline worker's task queue: the controller, its retraining children and the monitoring runs run there. */
  taskQueue: string;
  modelName: string;
  /** The model server's base URL (it follows the model's deployment record). */
  serverUrl: string;
  /** Writes the server's buffered prediction log now: a monitoring window only reads written rows. */
  flushPredictionLog: () => Promise<void>;
  /** The `trainingPipeline` input the served version came from; retrains run it on `liveDataPath`. */
  training: TrainingPipelineInput;
  /** Where the newest labelled data is written (a folder the ingest may read). */
  liveDataPath: string;
  /** The Temporal Web UI, for links. */
  uiUrl?: string;
  /** @default {@link defaultSizes} */
  sizes?: Partial<LoopSizes>;
  /** The controller's canary thresholds. @default {@link defaultCanary} */
  canary?: Partial<CanaryThresholds>;
  say: (line: string) => void;
}

export interface LoopSizes {
  /** Labelled rows of the newest data the retrain trains on. */
  liveRows: number;
  /** Customers per prediction request of the live traffic, and milliseconds between requests. */
  instancesPerRequest: number;
  requestIntervalMs: number;
  /** Rows the monitoring window needs; the check runs once the server has answered twice as many. */
  minRows: number;
  /** Seconds to wait for the controller to finish the rollout before giving up. */
  settleSeconds: number;
}

export const defaultSizes: LoopSizes = {
  liveRows: 20_000,
  instancesPerRequest: 20,
  requestIntervalMs: 100,
  minRows: 500,
  settleSeconds: 900,
};

/** A short bake for a demo: 10 requests a second, half of them to the canary, give about 75 canary requests in 15 s. */
export const defaultCanary: Partial<CanaryThresholds> = {
  weight: 0.5,
  bakeSeconds: 15,
  minRequests: 30,
};

export interface ClosedLoopResult {
  controllerId: string;
  retrainId?: string;
  monitorRunId: string;
  /** Stable version before and after the loop. */
  before: number;
  after: number;
  promoted: boolean;
  /** How the rollout ended, in a line: the last rollout event (promoted, rolled back, gate failed, …). */
  ending: string;
  traffic: TrafficCounts;
}

export interface TrafficCounts {
  requests: number;
  failed: number;
  /** Requests answered per version. */
  byVersion: Record<string, number>;
  /** Version of the last answer. */
  last?: number;
}

export async function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const sizes = { ...defaultSizes, ...options.sizes };
  const { say, modelName } = options;
  say('\nClosing the loop: drifting traffic → scheduled check → controller → retrain → canary → new champion\n');
  const served = await resolveAlias(options.store, modelName, 'production');
  const controller = await startController(options);
  say(`  ✓ controller     ${controller.workflowId} follows v${served.version}`);
  say(`                   Web UI: ${workflowUrl(options.uiUrl, controller.workflowId)}`);
  const drift = writeLiveData(options.liveDataPath, sizes.liveRows);
  say(`  ✓ newest data    ${sizes.liveRows} labelled rows of shifted customers → ${options.liveDataPath}`);
  say(`                   shift ${drift.generation}: ${describeDrift(drift.drift)}`);
  const transform = await readJson<FittedTransform>(options.store, served.transformUri);
  const traffic = startTraffic(options, sizes, transform, drift.drift);
  say(
    `  … live traffic   shifted customers → ${options.serverUrl}  (${sizes.instancesPerRequest} a request, ${Math.round(1000 / sizes.requestIntervalMs)} requests/s)`,
  );
  try {
    await waitFor(() => traffic.counts.requests * sizes.instancesPerRequest >= 2 * sizes.minRows, 120, 'live traffic');
    await options.flushPredictionLog();
    say(`  ✓ traffic        ${traffic.counts.requests * sizes.instancesPerRequest} predictions by v${served.version}`);
    const monitored = await runScheduledCheck(options, sizes);
    reportIncident(controller, monitored.result, say);
    const outcome = await followController(options, controller, sizes, served.version);
    if (outcome.promoted) await waitFor(() => traffic.counts.last === outcome.after, 60, `v${outcome.after} to answer`);
    await traffic.stop();
    const byVersion = Object.entries(traffic.counts.byVersion)
      .map(([v, n]) => `v${v} ${n}`)
      .join(', ');
    say(
      `  ✓ serving        v${traffic.counts.last} answers now (${traffic.counts.requests} requests during the loop: ${byVersion}; ${traffic.counts.failed} failed)`,
    );
    return { controllerId: controller.workflowId, monitorRunId: monitored.runId, traffic: traffic.counts, ...outcome };
  } finally {
    await traffic.stop();
  }
}

function workflowUrl(uiUrl: string | undefined, workflowId: string, runId?: string): string {
  if (!uiUrl) return workflowId;
  return `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}/history` : ''}`;
}

/** A fresh controller for the model (one left by an earlier demo on the same state folder is replaced). */
async function startController(options: ClosedLoopOptions): Promise<WorkflowHandle<typeof modelController>> {
  return options.client.workflow.start<typeof modelController>('modelController', {
    taskQueue: options.taskQueue,
    workflowId: controllerWorkflowId(options.modelName),
    workflowIdConflictPolicy: 'TERMINATE_EXISTING',
    args: [
      {
        modelName: options.modelName,
        training: { ...options.training, dataset: { ...options.training.dataset, uri: options.liveDataPath } },
        servers: [options.serverUrl],
        canary: { ...defaultCanary, ...options.canary },
      },
    ],
  });
}

/**
 * The newest labelled data: the generator's shifted customers, with their outcomes, where the retrain reads; beside
 * it (`.json`) its generation, which the next loop on this state folder moves one further.
 */
function writeLiveData(file: string, rows: number): { generation: number; drift: Drift } {
  const manifest = file.replace(/\.csv$/, '') + '.json';
  const previous = fs.existsSync(manifest)
    ? (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { generation?: number })
    : {};
  const generation = (previous.generation ?? 0) + 1;
  const drift = demoDrift(generation);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lines = [...generateChurnCsv({ rows, seed: 2025 + generation, drift })];
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  fs.writeFileSync(
    manifest,
    `${JSON.stringify({ generation, rows, drift, writtenAt: new Date().toISOString() }, null, 2)}\n`,
  );
  return { generation, drift };
}

function describeDrift(d: Drift): string {
  return `tenure ${d.tenureShift} months, charges ×${d.chargesFactor}, ${Math.round((d.monthToMonthShare ?? 0) * 100)}% month-to-month, ${Math.round((d.newPaymentMethodShare ?? 0) * 100)}% paying by crypto-wallet`;
}

interface Traffic {
  counts: TrafficCounts;
  stop(): Promise<void>;
}

/** A background loop sending shifted customers (without their outcome) to the model server. */
function startTraffic(options: ClosedLoopOptions, sizes: LoopSizes, transform: FittedTransform, drift: Drift): Traffic {
  const counts: TrafficCounts = { requests: 0, failed: 0, byVersion: {} };
  const instances = customerInstances(transform, 5000, drift);
  let stopped = false;
  const url = `${options.serverUrl}/v1/models/${options.modelName}:predict`;
  const send = async (offset: number) => {
    const batch = Array.from(
      { length: sizes.instancesPerRequest },
      (_, i) => instances[(offset + i) % instances.length]!,
    );
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: batch }),
    }).catch(() => undefined);
    const body = (await response?.json().catch(() => undefined)) as { modelVersionId?: string } | undefined;
    counts.requests++;
    if (!response?.ok || !body?.modelVersionId) return void counts.failed++;
    counts.byVersion[body.modelVersionId] = (counts.byVersion[body.modelVersionId] ?? 0) + 1;
    counts.last = Number(body.modelVersionId);
  };
  const running = (async () => {
    for (let offset = 0; !stopped; offset += sizes.instancesPerRequest) {
      await Promise.all([send(offset), delay(sizes.requestIntervalMs)]);
    }
  })();
  return {
    counts,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

/** Shifted customers as a client sends them: numbers for numeric features, text for the others, "" as null. */
function customerInstances(transform: FittedTransform, rows: number, drift: Drift): Record<string, unknown>[] {
  const [header, ...lines] = [...generateChurnCsv({ rows, seed: 7, drift })];
  return csvInstances(header!, lines, featureSchema(transform));
}

/** CSV lines (simple, unquoted) as raw instances: numbers for numeric features, text for the others, "" as null. */
export function csvInstances(
  header: string,
  lines: string[],
  features: readonly Pick<FeatureSchema, 'name' | 'type'>[],
): Record<string, unknown>[] {
  const names = header.split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    const instance: Record<string, unknown> = {};
    for (const feature of features) {
      const cell = cells[names.indexOf(feature.name)] ?? '';
      instance[feature.name] = cell === '' ? null : feature.type === 'number' ? Number(cell) : cell;
    }
    return instance;
  });
}

/** Creates (or updates) the model's monitoring Schedule, triggers it now, and waits for that run's result. */
async function runScheduledCheck(
  options: ClosedLoopOptions,
  sizes: LoopSizes,
): Promise<{ runId: string; result: MonitorModelResult }> {
  // The window ends when the run starts (no lag: the log was just written) and needs `minRows` of the fresh rows.
  const input: MonitorModelInput = { modelName: options.modelName, minRows: sizes.minRows, lagSeconds: 0 };
  const { scheduleId, created } = await upsertMonitoringSchedule(options.client, {
    cron: '0 * * * *',
    input,
    taskQueue: options.taskQueue,
  });
  const schedule = options.client.schedule.getHandle(scheduleId);
  const before = (await schedule.describe()).info.recentActions.length;
  await schedule.trigger();
  options.say(`  ✓ schedule       ${scheduleId} ${created ? 'created' : 'updated'} (hourly check); triggered now`);
  let action: { workflowId: string; firstExecutionRunId: string } | undefined;
  await waitFor(
    async () => {
      const actions = (await schedule.describe()).info.recentActions;
      action = actions.length > before ? actions.at(-1)!.action.workflow : undefined;
      return action !== undefined;
    },
    60,
    'the triggered monitoring run',
  );
  const run = options.client.workflow.getHandle(action!.workflowId, action!.firstExecutionRunId);
  const result = (await run.result()) as MonitorModelResult;
  const found = monitorResultLine(result);
  options.say(`  ✓ monitoring     ${action!.workflowId}: ${found}`);
  options.say(
    `                   Web UI: ${workflowUrl(options.uiUrl, action!.workflowId, action!.firstExecutionRunId)}`,
  );
  if (!result.incident)
    throw new Error(`The monitoring check found no drift to act on (${found}); the loop stops here.`);
  return { runId: action!.workflowId, result };
}

/** The monitoring run signals its incident to the model's controller itself; its result says whether one took it. */
function reportIncident(
  controller: WorkflowHandle<typeof modelController>,
  result: MonitorModelResult,
  say: (line: string) => void,
): void {
  if (!result.controllerSignalled)
    throw new Error(`The monitoring run could not signal ${controller.workflowId}; the loop stops here.`);
  say(`  → incident       signalled to ${controller.workflowId} by the monitoring run (signal "incident")`);
}

/** Prints the controller's history as it grows (and the retraining child's steps) until its rollout ends. */
async function followController(
  options: ClosedLoopOptions,
  controller: WorkflowHandle<typeof modelController>,
  sizes: LoopSizes,
  before: number,
): Promise<{ before: number; after: number; promoted: boolean; ending: string; retrainId?: string }> {
  const printer = new ControllerPrinter(options);
  let state: ControllerState | undefined;
  await waitFor(
    async () => {
      state = await controller.query(controllerStatusQuery);
      await printer.print(state);
      return settled(state);
    },
    sizes.settleSeconds,
    'the controller to finish the rollout',
  );
  const promoted = state!.history.some((e) => e.kind === 'promoted');
  const last = state!.history.filter((e) => rolloutEnds.has(e.kind) || e.kind === 'retrain-finished').at(-1);
  const ending = last ? `${last.kind}: ${last.message}` : 'no rollout';
  return { before, after: state!.stable ?? before, promoted, ending, retrainId: state!.lastRetrain?.workflowId };
}

/** Where a retrain's rollout ends: the new version promoted, rolled back, rejected, stopped by the gate, or not rolled out (the same model as one rolled back). */
const rolloutEnds = new Set(['promoted', 'rolled-back', 'rejected', 'gate-failed', 'rollout-skipped']);

/** The loop has run its course: the retrain ended and its rollout too (or the retrain failed). */
function settled(state: ControllerState): boolean {
  if (!state.lastRetrain || state.retrain || state.requestedRetrain || state.outbox.length > 0) return false;
  if (state.lastRetrain.outcome === 'failed') return true;
  let i = state.history.length - 1;
  while (i >= 0 && state.history[i]!.kind !== 'retrain-finished') i--;
  return state.history.slice(i + 1).some((e) => rolloutEnds.has(e.kind)) && state.canary === undefined;
}

/**
 * Prints the controller's new history entries in order, and beneath a retrain's start the retraining child's steps
 * as they end (all of them before the retrain's end). A verdict's reasons are printed once, one a line.
 */
class ControllerPrinter {
  readonly #printed = new Set<string>();
  #child?: { handle: WorkflowHandle; shown: ShownSteps; done: boolean };
  #verdict?: string;

  constructor(private readonly options: ClosedLoopOptions) {}

  async print(state: ControllerState): Promise<void> {
    for (const event of state.history) {
      const key = `${event.at} ${event.kind} ${event.message}`;
      if (this.#printed.has(key)) continue;
      this.#printed.add(key);
      if (event.kind === 'retrain-finished') await this.followChild(true);
      this.event(event, state);
      const child = state.retrain?.workflowId ?? state.lastRetrain?.workflowId;
      if (event.kind === 'retrain-started' && child) this.startChild(child);
    }
    await this.followChild(false);
  }

  private event(event: ControllerEvent, state: ControllerState): void {
    const say = this.options.say;
    const verdict = state.lastVerdict;
    if (event.kind === 'canary-judged' && verdict) {
      this.#verdict = verdict.reasons.join(' ');
      say(`  ◆ controller     ${event.kind}: ${verdict.decision}`);
      for (const reason of verdict.reasons) say(`                     · ${reason}`);
      return;
    }
    const message = this.#verdict ? event.message.replace(this.#verdict, '(the verdict above)') : event.message;
    say(`  ◆ controller     ${event.kind}: ${message}`);
  }

  private startChild(workflowId: string): void {
    this.#child = { handle: this.options.client.workflow.getHandle(workflowId), shown: newShownSteps(), done: false };
    this.options.say(`                   Web UI: ${workflowUrl(this.options.uiUrl, workflowId)}`);
  }

  private async followChild(last: boolean): Promise<void> {
    const child = this.#child;
    if (!child || child.done) return;
    await printNewSteps(child.handle, child.shown, this.options.say, '        ');
    child.done = last;
  }
}

/** Polls `ready` every half second until it holds, or fails naming what it waited for. */
async function waitFor(ready: () => boolean | Promise<boolean>, seconds: number, what: string): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what} after ${seconds} s.`);
    await delay(500);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
