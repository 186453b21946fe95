/**
 * modelController: one long-running workflow per model (id `controllerWorkflowId(model)`) that closes the loop.
 *
 *   incident (signal from monitorModel) or `retrain` (update, schedule)
 *     → one retraining child (trainingPipeline, `deploy: false`, id retrain-<model>-<attempt>; incidents meanwhile fold)
 *     → gate (in the child: challenger and champion on the same test rows) → approval (optional, with a timeout)
 *     → canary saga: set canary → durable bake timer → judge on the servers' per-version counters and the
 *       prediction log → promote, or roll back → notify
 *
 * Updates (deploy, promote, rollback, retrain, approve, reject, setThresholds, mute) are validated synchronously and
 * answer with what they did and the state after it. Moves of the deployment run one at a time (`serial`). The
 * workflow continues as new when the server suggests it (or after `continueAsNewAfterEvents`), only when no rollout is
 * under way; a retraining child may be running then: it was started with parent-close policy ABANDON, so it keeps
 * running, and it reports its end by signal to the controller's workflow id, which the next run receives (the child is
 * re-attached by its id, carried in the state).
 */
import { ActivityFailure, ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControllerActivities } from '../activities/controller';
import { judgeCanary } from '../contracts/canary-verdict';
import { namesText, quoteText } from '../contracts/message-text';
import type {
  ControllerAnswer,
  ControllerInput,
  ControllerResult,
  ControllerSpec,
  ControllerState,
  RetrainOutcome,
  SetDeploymentInput,
} from '../contracts/controller';
import {
  canaryThresholdsSchema,
  controllerWorkflowId,
  retrainWorkflowId,
  setServersSchema,
} from '../contracts/controller';
import type { MonitoringIncident } from '../contracts/monitoring';
import type { TrainingPipelineInput } from '../contracts/pipeline';
import { searchAttributes } from '../contracts/search-attributes';
import { parseWorkflowInput } from '../contracts/validate';
import { argumentsProblem, incidentProblem, retrainOutcomeProblem, schemaProblem } from './controller-messages';
import { mlopsError } from '../errors';
import {
  approveUpdate,
  controllerStatusQuery,
  deployUpdate,
  incidentSignal,
  muteUpdate,
  pauseUpdate,
  promoteUpdate,
  rejectUpdate,
  requestRetrainSignal,
  retrainFinishedSignal,
  resumeUpdate,
  retrainUpdate,
  rollbackUpdate,
  setServersUpdate,
  setThresholdsUpdate,
} from './definitions';
import {
  canContinueAsNew,
  controllerInputDocs,
  describeIncident,
  heldBy,
  holdAfter,
  finishRetrain,
  forgetRolledBack,
  incidentEffect,
  incidentElsewhere,
  initialState,
  notify,
  parseControllerInput,
  record,
  rememberRejected,
  rememberRolledBack,
  retrainInput,
  rolloutUnderWay,
} from './controller-state';
import { trainingPipeline } from './training-pipeline';

/**
 * Registry and server calls: seconds each; transient faults (a server restarting, a busy disk) retried. They heartbeat
 * while they run (src/activities/step-heartbeat.ts), so one whose worker died is handed to another worker after the
 * heartbeat timeout, not after the start-to-close timeout's two minutes.
 */
const rollout = proxyActivities<ControllerActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 5 },
});
/** A webhook that is down is retried for about ten minutes; then the message is given up (and recorded). */
const notifications = proxyActivities<Pick<ControllerActivities, 'notify'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 8 },
});

/**
 * Versioned change (`patched`): an incident folded into a retrain or rollout under way sends no webhook message (it is
 * in the state and the history). Before, every incident sent one.
 */
const quietFoldedIncidents = 'quiet-folded-incidents';

/**
 * Versioned change (`patched`): a controller started under another workflow id than `controllerWorkflowId(model)`
 * fails at once. Before, it ran beside the model's controller (Temporal keeps one run per id, not per model), and the
 * two undid each other's deployment moves.
 */
const oneControllerPerModel = 'one-controller-per-model';

/**
 * Versioned change (`patched`): a canary found in the deployment record at the first start (left by a controller
 * stopped while it baked) is judged afresh, or dropped when no server can judge it. Before, it was ignored and kept
 * its share of the traffic until the next deployment move.
 */
const judgeLeftCanary = 'adopt-left-canary';

/**
 * Versioned change (`patched`): a canary's latency ratio above `maxLatencyRatio` rolls back only when its mean is also
 * `minLatencyIncreaseMs` slower. Before, 1.72 ms against 1.06 ms rolled a healthy canary back as a model fault.
 */
const latencyIncreaseFloor = 'latency-increase-floor';

/**
 * Versioned change (`patched`): an incident about another alias, or about a version the alias no longer serves, is
 * recorded and ignored. Before, it started a retrain like any other (a staging monitor retrained production).
 */
const ignoreIncidentsElsewhere = 'ignore-incidents-elsewhere';

/**
 * Versioned change (`patched`): after a retrain the gate rejected, incidents about the same stable version are held
 * for `retrainCooldownSeconds` (recorded; one webhook message). Before, each one retrained again: a drift that persists
 * on data that has not changed made the same rejected model, and three messages, at every monitoring run.
 */
const holdIncidentsAfterRejection = 'hold-incidents-after-rejection';

/**
 * Versioned change (`patched`): a canary's verdict also compares its refusals (4xx) with the stable version's, so a
 * canary that refuses the clients' requests is rolled back. Before, 4xx answers never counted against it.
 */
const compareCanaryRefusals = 'compare-canary-refusals';

/**
 * Versioned change (`patched`): a canary is rolled back when a server did not answer the sample at the end of its bake
 * (it was judged on the rest of the fleet, silently). Before, unreachable servers were left out without a word.
 */
const judgeWholeFleet = 'judge-whole-fleet';

/**
 * Versioned change (`patched`): a rollback by hand leaves stable with no previous version, so a second rollback (a
 * retried command) is refused instead of putting back the version just rolled back. Before, it went back to it.
 */
const oneRollbackBack = 'one-rollback-back';

/**
 * Versioned change (`patched`): a canary rolled back for too little traffic, an unreachable fleet or files that would
 * not load is not remembered as rolled back (the same model retrained may roll out). Before, every rollback was.
 */
const rememberModelFaultsOnly = 'remember-model-faults-only';

/**
 * Versioned change (`patched`): a retrained version that was deployed, or deployed and rolled back, by hand before its
 * rollout started is not rolled out. Before, it got a canary anyway.
 */
const skipDecidedRetrains = 'skip-decided-retrains';

/**
 * Versioned change (`patched`): before a canary starts, the deployment record is read, and a stable version moved
 * outside the controller is adopted. Before, the canary's move put back the stable version the controller remembered.
 */
const followOutsideDeploys = 'follow-outside-deploys';

/**
 * Versioned change (`patched`): a version queued for its rollout is not rolled out when, meanwhile, it became stable
 * or was rolled back by hand, and it is dropped when a person deploys another version by hand. Before, it could not
 * wait long enough for that to matter; a pause makes it wait.
 */
const skipDecidedQueuedRollouts = 'skip-decided-queued-rollouts';

/**
 * Versioned change (`patched`): a retrained version is compared with the stable version too, and one that is the same
 * model is not rolled out. Before, it was compared with the versions turned down only: the same bytes as a version
 * rolled back were refused in that version's name even after a person had deployed that model again.
 */
const sameAsStable = 'same-as-stable';

/**
 * Versioned change (`patched`): a rollback by hand first reads the deployment record and adopts a stable version moved
 * outside the controller, then rolls that one back. Before, it moved from the version the controller remembered to
 * the one before it, leaving the version that served unrecorded and remembering one that did not serve as bad.
 */
const followOutsideDeploysOnRollback = 'follow-outside-deploys-on-rollback';

/**
 * Versioned change (`patched`): a canary whose promotion is refused because it can no longer be loaded (its files went
 * bad during the bake) is rolled back. Before, the refused move failed the step, and the loop judged it again.
 */
const rollBackUnservablePromotion = 'roll-back-unservable-promotion';

/**
 * Versioned change (`patched`): `mute` refuses a feature that neither the stable version nor the canary takes (a typo
 * would otherwise be accepted and mute nothing). Before, any name was muted.
 */
const checkMutedFeature = 'check-muted-feature';

/**
 * Versioned change (`patched`): a version a retrain registered is first compared with the versions rolled back, and
 * the same model (the same ONNX and transform bytes: a retrain on unchanged data) is not rolled out again. Before,
 * every version that passed the gate went to approval or its canary.
 */
const skipRolledBackModels = 'skip-rolled-back-models';
/**
 * Versioned change (`patched`): a version turned down at its approval is remembered like a rolled-back one, so a
 * retrain that makes the same model again is not put to approval again (a rejected model went out on the approval
 * timeout's default an hour later); and after such a retrain, as after one the gate rejected, incidents about the same
 * stable version are held.
 */
const rememberRejections = 'remember-rejections';

/**
 * Versioned change (`patched`): a first run drops the names in its input's `muted` that the deployed version does not
 * take, and records them (a typo muted nothing, silently). Before, they were kept.
 */
const checkMutedAtStart = 'check-muted-at-start';

/**
 * Versioned change (`patched`): a first start reads the alias's deployment history and remembers the versions rolled
 * back for what the model did and where a rollback goes back to, so a controller stopped and started again (to change
 * its options) does not roll out a rolled-back model again. Before, it started with no memory.
 */
const recallDeploymentHistory = 'recall-deployment-history';

/**
 * Versioned change (`patched`): a signal whose payload does not fit (sent by hand without input, an incident without
 * its drift fields) is recorded as `signal-ignored` and dropped. Before, its handler threw and the workflow task failed
 * on every retry, wedging the controller.
 */
const checkSignalPayloads = 'check-signal-payloads';

/**
 * Versioned change (`patched`): a first start also numbers its retraining children on from the highest attempt that
 * left a training run in the store, so a controller started again does not start `retrain-<model>-1` a second time.
 * Before, it numbered them from 1 again.
 */
const recallRetrainAttempts = 'recall-retrain-attempts';

/**
 * Versioned change (`patched`): a first start refuses a server URL with a query string, a fragment or credentials (the
 * controller appends its own paths to each). Before, any http(s) URL was taken.
 */
const checkServerBaseUrls = 'check-server-base-urls';

/**
 * Versioned change (`patched`): the canary of a version a retrain registered in answer to incidents (the data drifted,
 * the accuracy dropped) is not rolled back for predicting differently from the stable version; that is reported. Before,
 * the prediction distance was held against it like any canary's.
 */
const expectedPredictionChange = 'expected-prediction-change';

/** Pause after a failed step before the loop tries again. */
const stepFailurePause = '30 seconds';

export async function modelController(rawInput: ControllerInput): Promise<ControllerResult> {
  const spec = parseControllerInput(rawInput);
  const { workflowId } = workflowInfo();
  const expected = controllerWorkflowId(spec.modelName);
  if (workflowId !== expected && patched(oneControllerPerModel))
    throw mlopsError('MLOPS_ERR_CONTROLLER_WORKFLOW_ID', { model: spec.modelName, expected, workflowId });
  // A first start checks the servers as `setServers` does; a run carried across continue-as-new took them already.
  if (spec.state === undefined && spec.servers.length > 0 && patched(checkServerBaseUrls))
    parseWorkflowInput(setServersSchema, { servers: spec.servers }, 'modelController', controllerInputDocs);
  const ctl = new Controller(spec, initialState(spec));
  ctl.registerHandlers();
  upsertSearchAttributes([{ key: searchAttributes.modelName, value: spec.modelName }]);
  await ctl.start();
  for (;;) {
    await condition(() => ctl.hasWork() || ctl.shouldContinueAsNew());
    if (ctl.hasWork()) await ctl.stepSafely();
    else await ctl.continueAsNew();
  }
}

class Controller {
  readonly #id = workflowInfo().workflowId;
  /** The one deployment move in progress; handlers and the loop wait for it (`serial`). */
  #moving = false;
  /** Set once the first run has read what the alias serves; moves wait for it. */
  #ready = false;
  /** Outcome of a canary forced by an update while it bakes. */
  #forced?: { decision: 'promote' | 'rollback'; reason: string };
  /** Decision of the pending approval. */
  #decision?: { approved: boolean; reason: string };

  constructor(
    private readonly spec: ControllerSpec,
    readonly state: ControllerState,
  ) {}

  registerHandlers(): void {
    const s = this.state;
    setHandler(controllerStatusQuery, () => s);
    setHandler(incidentSignal, (incident) => {
      if (!this.signalIgnored('incident', incidentProblem(incident))) this.onIncident(incident);
    });
    setHandler(requestRetrainSignal, (args) => {
      if (this.signalIgnored('requestRetrain', argumentsProblem(args, {}, { reason: 'text' }))) return;
      const reason = args?.reason || 'scheduled retrain';
      if (s.paused) this.holdWhilePaused('retrain-held', `${reason}: not started`);
      else void this.askRetrain(reason);
    });
    setHandler(retrainFinishedSignal, (outcome) => {
      if (!this.signalIgnored('retrainFinished', retrainOutcomeProblem(outcome))) this.onRetrainFinished(outcome);
    });
    setHandler(retrainUpdate, (args) => this.answer(this.askRetrain(reasonOf(args, 'asked for'))), {
      validator: (args: { reason?: string } | undefined) => {
        this.requireArguments(argumentsProblem(args, {}, { reason: 'text' }));
        this.requireRunning('retrain');
      },
    });
    setHandler(pauseUpdate, (args) => this.pause(reasonOf(args, 'paused by hand')), {
      validator: (args: { reason?: string } | undefined) => {
        this.requireArguments(argumentsProblem(args, {}, { reason: 'text' }));
        this.require(s.paused === undefined, `paused already since ${s.paused?.since} (${s.paused?.reason})`);
      },
    });
    setHandler(resumeUpdate, () => this.resume(), {
      validator: () => this.require(s.paused !== undefined, 'not paused: nothing to resume'),
    });
    setHandler(deployUpdate, ({ version, direct }) => this.deploy(version, direct ?? false), {
      validator: (args: { version: number; direct?: boolean } | undefined) => {
        this.requireArguments(argumentsProblem(args, { version: 'version' }, { direct: 'boolean' }));
        this.validateDeploy(args?.version);
      },
    });
    setHandler(promoteUpdate, () => this.force('promote', 'promoted by hand'), {
      validator: () => this.require(s.canary !== undefined, 'no canary is baking: nothing to promote'),
    });
    // Whether stable has a version to go back to is known only once a version deployed outside the controller is
    // adopted (an activity reads the record): the handler checks it then (validateRollback).
    setHandler(rollbackUpdate, (args) => this.rollback(reasonOf(args, 'rolled back by hand')), {
      validator: (args: { reason?: string } | undefined) =>
        this.requireArguments(argumentsProblem(args, {}, { reason: 'text' })),
    });
    setHandler(
      approveUpdate,
      ({ version, reason }) => this.decide(true, reason ? `v${version} approved: ${reason}` : `v${version} approved`),
      {
        validator: (args: { version: number; reason?: string } | undefined) => {
          this.requireArguments(argumentsProblem(args, { version: 'version' }, { reason: 'text' }));
          this.validateDecision(args?.version);
        },
      },
    );
    setHandler(
      rejectUpdate,
      ({ version, reason }) =>
        this.decide(false, reason || `v${version} rejected`, reason ? `v${version} rejected: ${reason}` : undefined),
      {
        validator: (args: { version: number; reason?: string } | undefined) => {
          this.requireArguments(argumentsProblem(args, { version: 'version' }, { reason: 'text' }));
          this.validateDecision(args?.version);
        },
      },
    );
    setHandler(setThresholdsUpdate, (changes) => this.setThresholds(changes), {
      validator: (changes) => this.requireArguments(schemaProblem(canaryThresholdsSchema.partial().strict(), changes)),
    });
    setHandler(setServersUpdate, ({ servers }) => this.setServers(servers), {
      validator: (args: { servers: string[] } | undefined) => {
        this.requireArguments(schemaProblem(setServersSchema, args));
        this.require(
          s.canary === undefined,
          `canary v${s.canary?.version} is baking, judged on the counters of the servers it started with: set the servers after it is promoted or rolled back`,
        );
      },
    });
    setHandler(muteUpdate, ({ feature, muted }) => this.mute(feature, muted ?? true), {
      validator: (args: { feature: string; muted?: boolean } | undefined) =>
        this.requireArguments(argumentsProblem(args, { feature: 'name' }, { muted: 'boolean' })),
    });
  }

  /** On a first start, learns what the alias serves today (a store that is down is waited for, not fatal). */
  async start(): Promise<void> {
    if (this.state.generation > 0) {
      this.#ready = true;
      return;
    }
    let deployment: Awaited<ReturnType<typeof rollout.readDeployment>>;
    for (;;) {
      try {
        deployment = await rollout.readDeployment({ modelName: this.spec.modelName, alias: this.spec.alias });
        this.state.stable = deployment?.stable;
        this.record('started', deployment ? `following v${deployment.stable}` : 'no version deployed yet');
        break;
      } catch (err) {
        if (isCancellation(err)) throw err;
        this.record('step-failed', `reading the deployment: ${messageOf(err)}`);
        await sleep(stepFailurePause);
      }
    }
    if (deployment && patched(recallDeploymentHistory)) await this.recall();
    if (this.state.muted.length > 0 && this.state.stable !== undefined && patched(checkMutedAtStart)) {
      await this.dropUnknownMuted(this.state.stable).catch((err: unknown) => {
        if (isCancellation(err)) throw err;
        this.record('step-failed', `checking the muted features: ${messageOf(err)}; they are kept as given`);
      });
    }
    if (deployment?.canary && patched(judgeLeftCanary)) await this.adoptLeftCanary(deployment.canary);
    this.showStable();
    this.#ready = true;
  }

  /** Seeds a first start's memory from the deployment history (a history that cannot be read is noted, not fatal). */
  private async recall(): Promise<void> {
    const s = this.state;
    try {
      const memory = await rollout.recallDeployments({ modelName: this.spec.modelName, alias: this.spec.alias });
      for (const r of memory.rolledBack) rememberRolledBack(s, r.version, new Date(r.at), r.reason);
      if (memory.previousStable !== s.stable) s.previousStable = memory.previousStable;
      const parts = [
        ...(s.rolledBack?.length ? [`rolled back ${s.rolledBack.map((r) => `v${r.version}`).join(', ')}`] : []),
        ...(s.previousStable !== undefined ? [`a rollback goes back to v${s.previousStable}`] : []),
      ];
      const recalled = parts.length > 0 ? [`from the deployment history: ${parts.join('; ')}`] : [];
      const lastRetrain = memory.retrainAttempts ?? 0;
      if (lastRetrain > s.attempts && patched(recallRetrainAttempts)) {
        s.attempts = lastRetrain;
        const model = this.spec.modelName;
        recalled.push(
          `from the training runs: retrains go on from ${retrainWorkflowId(model, lastRetrain + 1)} (${retrainWorkflowId(model, lastRetrain)} left a run)`,
        );
      }
      if (recalled.length > 0) this.record('recalled', recalled.join('; '));
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.record('step-failed', `reading the deployment history: ${messageOf(err)}; started without its memory`);
    }
  }

  /**
   * A canary in the deployment record at the first start was left by a controller that was stopped while it baked
   * (terminated to restart it with other options): its servers still send it traffic. It is judged afresh (a new
   * baseline and a whole bake); with no servers to judge it, stable serves alone again.
   */
  private async adoptLeftCanary(left: { version: number; weight: number }): Promise<void> {
    const s = this.state;
    const stable = s.stable!;
    const what = `v${left.version} was a canary of a controller stopped while it baked`;
    try {
      if (this.servers.length === 0) {
        await rollout.setDeployment(this.move(stable, `${what}: no servers to judge it, v${stable} alone`));
        this.record('rolled-back', `${what}; with no servers to judge it, v${stable} serves alone again`, left.version);
        return;
      }
      const baseline = await rollout.sampleServingStats({ modelName: this.spec.modelName, servers: this.servers });
      const startedAt = this.now();
      const bakeUntil = new Date(Date.now() + s.thresholds.bakeSeconds * 1000).toISOString();
      s.canary = { ...left, startedAt, bakeUntil, baseline };
      const share = `${left.weight * 100}% of requests`;
      this.record('canary-started', `${what}: it keeps ${share} and is judged afresh at ${bakeUntil}`, left.version);
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.record('step-failed', `adopting ${what}: ${messageOf(err)}; it keeps its traffic until the next move`);
    }
  }

  hasWork(): boolean {
    const s = this.state;
    return (
      s.outbox.length > 0 ||
      s.canary !== undefined ||
      s.pendingApproval !== undefined ||
      (s.nextRollout !== undefined && !s.paused) ||
      s.retrained !== undefined ||
      (s.requestedRetrain !== undefined && s.retrain === undefined && !s.paused)
    );
  }

  shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    const due = info.continueAsNewSuggested || info.historyLength > this.spec.continueAsNewAfterEvents;
    return due && canContinueAsNew(this.state);
  }

  /**
   * One piece of work, in priority order: messages, the canary, a retrained version's check, approval, the next
   * rollout, a retrain.
   */
  async step(): Promise<void> {
    const s = this.state;
    if (s.outbox.length > 0) return this.sendNotifications();
    if (s.canary) return this.bakeAndJudge();
    if (s.retrained) return this.checkRetrained(s.retrained);
    if (s.pendingApproval) return this.awaitApproval();
    // Paused, nothing starts by itself: a queued rollout or retrain waits for resume.
    if (s.paused) return;
    if (s.nextRollout !== undefined) return this.rollOut(s.nextRollout);
    if (s.requestedRetrain) return this.startRetrain(s.requestedRetrain);
  }

  /**
   * A step whose activity failed for good (retries spent, or a non-retryable refusal such as an unservable version)
   * must not end the controller: it is recorded, and the loop goes on after a pause (a failing store is not hammered).
   */
  async stepSafely(): Promise<void> {
    try {
      await this.step();
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.record('step-failed', messageOf(err));
      await sleep(stepFailurePause);
    }
  }

  async continueAsNew(): Promise<never> {
    await condition(allHandlersFinished);
    this.record('continued-as-new', `generation ${this.state.generation + 1} starts with the whole state`);
    return continueAsNew<typeof modelController>({ ...this.spec, state: this.state });
  }

  // ---- incidents and retraining ----

  private onIncident(incident: Parameters<typeof describeIncident>[0]): void {
    const effect = incidentEffect(this.state, this.spec, incident);
    const text = describeIncident(incident);
    if (effect === 'ignored') return this.record('incident-ignored', `${text} (muted or not a retrain trigger)`);
    const elsewhere = incidentElsewhere(this.state, incident);
    if (elsewhere && patched(ignoreIncidentsElsewhere))
      return this.record('incident-ignored', `${text} (${elsewhere})`);
    if (this.state.paused) return this.holdWhilePaused('incident-held', text);
    const holding = heldBy(this.state, incident, Date.now());
    if (holding && patched(holdIncidentsAfterRejection)) {
      const sameModel = holding.cause === 'same-model';
      if (holding.held++ === 0)
        this.notify(
          'incident-held',
          `Incidents on ${this.spec.modelName} v${holding.version} are held until ${holding.until}: the retrain for ` +
            `them ${sameModel ? `made ${holding.reason}` : `was rejected by the gate (${holding.reason})`}, and the ` +
            `same data would make the same model. Retrain by hand (npm run models -- retrain ${this.spec.modelName}) ` +
            `once the training data has changed.`,
          holding.version,
        );
      const why = sameModel ? 'the last retrain made a model already turned down' : 'the last retrain was rejected';
      return this.record('incident-held', `${text} (held until ${holding.until}: ${why})`);
    }
    this.state.openIncidents.push(incident);
    if (effect === 'folded' && !patched(quietFoldedIncidents))
      this.notify('incident', `Incident on ${this.spec.modelName}: ${text}`, incident.version);
    if (effect === 'folded') {
      const into = this.state.retrain ?? this.state.requestedRetrain;
      if (into) into.folded++;
      return this.record('incident-folded', `${text}; folded into the retrain or rollout under way`);
    }
    // One message per incident that starts something: folded ones are in the state and the history, not the channel.
    this.notify('incident', `Incident on ${this.spec.modelName}: ${text}`, incident.version);
    this.record('incident', text);
    this.askRetrain(`incident: ${text}`);
  }

  // ---- pause ----

  private pause(reason: string): ControllerAnswer {
    const s = this.state;
    s.paused = { since: this.now(), reason, held: 0 };
    this.record('paused', `${reason}: incidents and scheduled retrains are not acted on, nothing rolls out by itself`);
    const baking = s.canary ? `; canary v${s.canary.version} is judged at ${s.canary.bakeUntil} as usual` : '';
    return this.answer(
      `paused: incidents and scheduled retrains are recorded and not acted on, and nothing rolls out by itself until resume${baking}`,
    );
  }

  private resume(): ControllerAnswer {
    const s = this.state;
    const { since, held } = s.paused!;
    s.paused = undefined;
    this.record(
      'resumed',
      `after a pause since ${since}; ${held} incident(s) or scheduled retrain(s) were not acted on`,
    );
    const dropped = held
      ? `${held} incident(s) or scheduled retrain(s) came while paused and were not acted on (npm run models -- retrain ${this.spec.modelName} acts on them now)`
      : 'nothing came while paused';
    return this.answer(`resumed: ${dropped}${this.afterPause()}`);
  }

  /** What the loop takes up again once resumed: the version that waited, or the retrain asked for before. */
  private afterPause(): string {
    const s = this.state;
    if (s.nextRollout !== undefined) {
      const decided = this.decided(s.nextRollout);
      return decided
        ? `; v${s.nextRollout}, which waited, is not rolled out: ${decided}`
        : `; v${s.nextRollout} rolls out now`;
    }
    return s.requestedRetrain && !s.retrain ? '; the retrain asked for before the pause starts now' : '';
  }

  /** Records what a paused controller did not act on. */
  private holdWhilePaused(kind: 'incident-held' | 'retrain-held', text: string): void {
    const paused = this.state.paused!;
    paused.held++;
    this.record(kind, `${text} (paused since ${paused.since}: ${paused.reason})`);
  }

  /** Refuses what a paused controller does not start, naming the way out. */
  private requireRunning(what: string): void {
    const paused = this.state.paused;
    this.require(
      paused === undefined,
      `the controller is paused since ${paused?.since} (${paused?.reason}): resume it before asking for a ${what} (npm run models -- resume ${this.spec.modelName})`,
    );
  }

  /** Asks for a retrain; single flight: one under way absorbs the request. */
  private askRetrain(reason: string): string {
    const s = this.state;
    if (s.retrain) {
      s.retrain.folded++;
      return `retrain ${s.retrain.workflowId} is already running; the request was folded into it`;
    }
    if (s.requestedRetrain) {
      s.requestedRetrain.folded++;
      return 'a retrain is already queued; the request was folded into it';
    }
    s.requestedRetrain = { reason, folded: 0 };
    return rolloutUnderWay(s)
      ? 'retrain queued: it starts when the rollout under way ends'
      : `retrain ${retrainWorkflowId(this.spec.modelName, s.attempts + 1)} starting`;
  }

  private async startRetrain({ reason, folded }: { reason: string; folded: number }): Promise<void> {
    const s = this.state;
    s.attempts++;
    const workflowId = retrainWorkflowId(this.spec.modelName, s.attempts);
    s.requestedRetrain = undefined;
    s.retrain = { workflowId, attempt: s.attempts, reason, startedAt: this.now(), folded };
    this.record('retrain-started', `${workflowId}: ${reason}`);
    this.notify('retrain-started', `Retraining ${this.spec.modelName} (${workflowId}): ${reason}`);
    try {
      const child = await startChild(trainingPipeline, {
        workflowId,
        args: [retrainInput(this.spec, this.#id) as TrainingPipelineInput],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      // In this run the child's result is at hand; after a continue-as-new its signal brings the same outcome.
      child.result().then(
        (result) =>
          this.onRetrainFinished({
            workflowId,
            outcome: result.outcome === 'rejected' ? 'rejected' : 'registered',
            version: result.version,
            reason: result.gate.reason,
          }),
        (err: unknown) => this.onRetrainFinished({ workflowId, outcome: 'failed', reason: messageOf(err) }),
      );
    } catch (err) {
      // The backstop of single flight: a run with this id is already open (started by an earlier run of this
      // controller); it reports to this controller when it ends, so it is attached, not started twice.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      this.record('retrain-started', `${workflowId} was already running: attached to it`);
    }
  }

  private onRetrainFinished(outcome: RetrainOutcome): void {
    const s = this.state;
    const folded = s.retrain?.folded ?? 0;
    const answered = s.openIncidents;
    if (!finishRetrain(s, outcome)) return;
    s.retrainedAfter =
      outcome.outcome === 'registered' && outcome.version !== undefined && answered.length > 0
        ? { version: outcome.version, because: incidentsText(answered, outcome.reason) }
        : undefined;
    const name = this.spec.modelName;
    this.record(
      'retrain-finished',
      `${outcome.workflowId}: ${outcome.outcome}` +
        (folded > 0 ? ` (${folded} more request(s) or incident(s) folded in)` : '') +
        (outcome.outcome === 'failed' ? `: ${outcome.reason}` : ''),
      outcome.version,
    );
    if (outcome.outcome === 'failed')
      return this.notify('retrain-failed', `Retraining ${name} failed: ${outcome.reason}`);
    if (outcome.outcome === 'rejected' || outcome.version === undefined) {
      s.holding = holdAfter(s, this.spec, outcome.reason, Date.now());
      this.record('gate-failed', outcome.reason);
      return this.notify('gate-failed', `The retrained ${name} did not pass the gate: ${outcome.reason}`);
    }
    s.holding = undefined;
    if (patched(skipRolledBackModels)) {
      s.retrained = { version: outcome.version, reason: outcome.reason };
      return;
    }
    this.queueRollout(outcome.version, outcome.reason);
  }

  /**
   * A retrained version that is the same model as one rolled back is not rolled out (nor put to approval): it would
   * be rolled back for the same reasons. Anything else goes on to approval or its canary.
   */
  private async checkRetrained({ version, reason }: { version: number; reason: string }): Promise<void> {
    const s = this.state;
    // Most recent first. Rejections are remembered only by controllers past `rememberRejections`.
    const rolledBack = (s.rolledBack ?? []).map((r) => ({ ...r, how: 'rolled back' })).reverse();
    const rejected = (s.rejected ?? []).map((r) => ({ ...r, how: 'rejected at its approval' })).reverse();
    const turnedDown =
      rejected.length === 0 ? rolledBack : [...rejected, ...rolledBack].sort((a, b) => b.at.localeCompare(a.at));
    if (this.skipDecided(version)) return;
    // The stable version is compared first: a retrain that makes the model already serving has nothing to roll out,
    // whichever versions of the same bytes were turned down before (a person may have deployed that model since).
    const stable = s.stable !== undefined && s.stable !== version && patched(sameAsStable) ? s.stable : undefined;
    const among = [...(stable !== undefined ? [stable] : []), ...turnedDown.map((r) => r.version)];
    const same =
      among.length === 0 ? null : await rollout.findSameModel({ modelName: this.spec.modelName, version, among });
    // Deployed or rolled back by hand while the comparison ran.
    if (this.skipDecided(version)) return;
    s.retrained = undefined;
    if (stable !== undefined && same === stable)
      return this.skipSameModel(
        version,
        `v${version} is the same model as the stable v${stable} (the same ONNX and transform bytes): nothing to roll out; retrain on data that has changed`,
        `v${version}, the same model as the stable v${stable}`,
      );
    const earlier = turnedDown.find((r) => r.version === same);
    if (!earlier) return this.queueRollout(version, reason);
    // Held only by controllers past `rememberRejections` (the stable case above is newer: always).
    this.skipSameModel(
      version,
      `v${version} is the same model as v${earlier.version} (the same ONNX and transform bytes), ${earlier.how} at ` +
        `${earlier.at}: ${earlier.reason.replace(/\.$/, '')}. It is not rolled out; retrain on data that has changed, or deploy it by hand`,
      patched(rememberRejections) ? `v${version}, the same model as v${earlier.version} ${earlier.how}` : undefined,
    );
  }

  /**
   * A retrained version that is the same model as one already decided is not rolled out: recorded, notified, and (with
   * `held`) the incidents held, since they would ask again and the same data make the same model again.
   */
  private skipSameModel(version: number, text: string, held: string | undefined): void {
    this.record('rollout-skipped', text, version);
    this.notify('rollout-skipped', `${this.spec.modelName}: ${text}`, version);
    if (held !== undefined) this.state.holding = holdAfter(this.state, this.spec, held, Date.now(), 'same-model');
  }

  /**
   * A retrained version deployed (or deployed and rolled back) by hand while it waited for its rollout has nothing left
   * to roll out: recorded and dropped. True when it was.
   */
  private skipDecided(version: number): boolean {
    const s = this.state;
    const decided = this.decided(version);
    if (!decided || !patched(skipDecidedRetrains)) return false;
    s.retrained = undefined;
    this.record('rollout-skipped', `${decided}; it is not rolled out`, version);
    return true;
  }

  /** Why a version waiting for its rollout has nothing left to roll out (a person decided it), or undefined. */
  private decided(version: number): string | undefined {
    const s = this.state;
    if (version === s.stable) return `v${version} is stable already (deployed by hand)`;
    if (s.rolledBack?.some((r) => r.version === version))
      return `v${version} was rolled back by hand before its rollout started`;
    return undefined;
  }

  /** A version that passed the gate: to approval when it is required, else to its canary. */
  private queueRollout(version: number, gateReason: string): void {
    const s = this.state;
    const name = this.spec.modelName;
    if (!this.spec.approval.required) {
      s.nextRollout = version;
      return;
    }
    const { timeoutSeconds, onTimeout } = this.spec.approval;
    const deadline = new Date(Date.now() + timeoutSeconds * 1000).toISOString();
    s.pendingApproval = { version, requestedAt: this.now(), deadline, onTimeout };
    this.record(
      'approval-requested',
      `v${version} passed the gate (${gateReason}); waiting for approval until ${deadline}, then ${onTimeout}`,
      version,
    );
    this.notify(
      'approval-needed',
      `v${version} of ${name} passed the gate and waits for approval (until ${deadline}; then ${onTimeout}): npm run models -- approve ${name} ${version}`,
      version,
    );
  }

  // ---- approval ----

  private async awaitApproval(): Promise<void> {
    const pending = this.state.pendingApproval!;
    const left = Math.max(0, Date.parse(pending.deadline) - Date.now());
    const decided = await condition(() => this.#decision !== undefined, left);
    const decision = decided
      ? this.#decision!
      : {
          approved: pending.onTimeout === 'approve',
          reason: `no decision by ${pending.deadline}: ${pending.onTimeout} (the configured default)`,
        };
    this.#decision = undefined;
    this.state.pendingApproval = undefined;
    if (decision.approved) {
      this.record('approved', decision.reason, pending.version);
      this.state.nextRollout = pending.version;
    } else {
      this.record('rejected', decision.reason, pending.version);
      if (patched(rememberRejections)) rememberRejected(this.state, pending.version, new Date(), decision.reason);
    }
  }

  /** Records the decision as `reason`; answers `answer` (the reason by default). */
  private async decide(approved: boolean, reason: string, answer = reason): Promise<ControllerAnswer> {
    this.#decision = { approved, reason };
    await condition(() => this.state.pendingApproval === undefined);
    return this.answer(answer);
  }

  // ---- the canary saga ----

  /** Starts the canary of `version`, or deploys it straight away when no server can judge a canary. */
  private async rollOut(version: number): Promise<void> {
    this.state.nextRollout = undefined;
    // A queued version can wait (a pause): a person may have deployed or rolled it back meanwhile.
    const decided = this.decided(version);
    if (decided && patched(skipDecidedQueuedRollouts))
      return this.record('rollout-skipped', `${decided}; it is not rolled out`, version);
    if (this.servers.length === 0 || this.state.stable === undefined) {
      const why = this.state.stable === undefined ? 'first deployment' : 'no servers configured to judge a canary';
      await this.serial(() =>
        this.heldByPause(version) ? Promise.resolve() : this.moveStable(version, `deployed directly (${why})`),
      );
      return;
    }
    await this.serial(() => this.startCanary(version, true));
  }

  /**
   * A rollout the loop began is held when a pause arrived meanwhile (while it waited for its turn or read the servers):
   * the version waits for resume again. True when it was held.
   */
  private heldByPause(version: number): boolean {
    if (!this.state.paused) return false;
    this.state.nextRollout = version;
    return true;
  }

  /** `automatic`: started by the loop (a queued rollout), so a pause that arrived meanwhile holds it. */
  private async startCanary(version: number, automatic = false): Promise<void> {
    const s = this.state;
    if (automatic && this.heldByPause(version)) return;
    if (patched(followOutsideDeploys)) {
      await this.followOutsideDeploy();
      if (s.stable === version) {
        this.record('rollout-skipped', `v${version} is stable already (deployed outside the controller)`, version);
        return;
      }
    }
    const { weight, bakeSeconds } = s.thresholds;
    const baseline = await rollout.sampleServingStats({ modelName: this.spec.modelName, servers: this.servers });
    if (automatic && this.heldByPause(version)) return;
    await rollout.setDeployment(this.move(s.stable!, `canary v${version} at ${weight}`, { version, weight }));
    const startedAt = this.now();
    const bakeUntil = new Date(Date.now() + bakeSeconds * 1000).toISOString();
    s.canary = { version, weight, startedAt, bakeUntil, baseline };
    this.record('canary-started', `v${version} takes ${weight * 100}% of requests until ${bakeUntil}`, version);
  }

  /**
   * Adopts a stable version moved outside the controller (a pipeline run with `deploy: true`, or a person moving the
   * record): a canary started against the version the controller remembers would move the
   * record back to it, undoing that deployment without a word.
   */
  private async followOutsideDeploy(): Promise<void> {
    const s = this.state;
    const record = await rollout.readDeployment({ modelName: this.spec.modelName, alias: this.spec.alias });
    if (!record || record.stable === s.stable) return;
    // What it replaced, as the alias records it: after two deployments outside, not the version the controller knew.
    const replaced = record.previousStable ?? s.stable;
    this.record(
      'deployed',
      `v${record.stable} was deployed outside the controller (it followed v${replaced ?? 'none'}); canaries now run against it`,
      record.stable,
    );
    if (replaced !== undefined) s.previousStable = replaced;
    s.stable = record.stable;
    forgetRolledBack(s, record.stable);
    this.showStable();
  }

  /** The durable bake timer, then the verdict (or the decision an update forced meanwhile). */
  private async bakeAndJudge(): Promise<void> {
    const canary = this.state.canary!;
    const left = Math.max(0, Date.parse(canary.bakeUntil) - Date.now());
    await condition(() => this.#forced !== undefined, left);
    const forced = this.#forced;
    this.#forced = undefined;
    await this.serial(async () => {
      if (forced) return this.finishCanary(forced.decision, forced.reason);
      const verdict = await this.judge();
      this.state.lastVerdict = verdict;
      this.record('canary-judged', `${verdict.decision}: ${verdict.reasons.join(' ')}`, canary.version);
      return this.finishCanary(verdict.decision, verdict.reasons.join(' '), verdict.modelFault !== false);
    });
  }

  private async judge() {
    const s = this.state;
    const canary = s.canary!;
    const until = this.now();
    const [after, predictions] = await Promise.all([
      rollout.sampleServingStats({ modelName: this.spec.modelName, servers: this.servers }),
      rollout.comparePredictions({
        modelName: this.spec.modelName,
        stable: s.stable!,
        canary: canary.version,
        since: canary.startedAt,
        until,
        minRows: s.thresholds.minRequests,
        maxDistance: s.thresholds.maxPredictionDrift,
      }),
    ]);
    const expected =
      s.retrainedAfter?.version === canary.version && patched(expectedPredictionChange)
        ? s.retrainedAfter.because
        : undefined;
    return judgeCanary(
      canary.baseline,
      after,
      s.stable!,
      canary.version,
      s.thresholds,
      predictions,
      patched(compareCanaryRefusals),
      patched(judgeWholeFleet),
      patched(latencyIncreaseFloor),
      expected,
    );
  }

  /** `modelFault`: a rollback for what the canary did (a verdict's failed check, a person), not for its surroundings. */
  private async finishCanary(decision: 'promote' | 'rollback', reason: string, modelFault = true): Promise<void> {
    const s = this.state;
    const canary = s.canary!;
    const name = this.spec.modelName;
    if (decision === 'promote') {
      try {
        // The verdict's reasons are in the history's canary-judged and promoted lines: the move's line names it only.
        await this.moveStable(
          canary.version,
          `canary v${canary.version} promoted: ${reason}`,
          undefined,
          `canary v${canary.version} promoted`,
        );
        this.record('promoted', reason, canary.version);
        this.notify('promoted', `v${canary.version} of ${name} is the new stable version: ${reason}`, canary.version);
      } catch (err) {
        if (!isUnservable(err) || !patched(rollBackUnservablePromotion)) throw err;
        decision = 'rollback';
        modelFault = false;
        // The error's own fix speaks to whoever moves a deployment; the rollback already answers it.
        reason = `v${canary.version} can no longer be loaded, so it is not promoted: ${messageOf(err).split('\nFix:')[0]}`;
        // The verdict shown is what happened: its counters stand, its decision and reason are the rollback's.
        if (s.lastVerdict) s.lastVerdict = { ...s.lastVerdict, decision, reasons: [reason], modelFault };
      }
    }
    if (decision === 'rollback') {
      const fault = modelFault ? { version: canary.version, reason } : undefined;
      await rollout.setDeployment(
        this.move(s.stable!, `canary v${canary.version} rolled back: ${reason}`, undefined, fault),
      );
      // Too little traffic, a fleet that failed or files that would not load say nothing of the model: a retrain that
      // makes it again may roll out.
      if (modelFault || !patched(rememberModelFaultsOnly)) rememberRolledBack(s, canary.version, new Date(), reason);
      this.record('rolled-back', reason, canary.version);
      this.notify(
        'rolled-back',
        `Canary v${canary.version} of ${name} was rolled back; v${s.stable} keeps serving: ${reason}`,
        canary.version,
      );
    }
    s.canary = undefined;
    // A promote or rollback that arrived while the verdict was being made is answered by this end, not the next canary.
    this.#forced = undefined;
  }

  /** `rolledBack`: the version this move rolls back for what the model did, kept in the deployment history. */
  /** `recorded`: the history's line when it differs from the move's reason (kept whole in the deployment history). */
  private async moveStable(
    version: number,
    reason: string,
    rolledBack?: { version: number; reason: string },
    recorded = reason,
  ): Promise<void> {
    const s = this.state;
    await rollout.setDeployment(this.move(version, reason, undefined, rolledBack));
    if (s.stable !== version) s.previousStable = s.stable;
    s.stable = version;
    forgetRolledBack(s, version);
    this.record('deployed', recorded, version);
    this.showStable();
  }

  // ---- updates ----

  private async deploy(version: number, direct: boolean): Promise<ControllerAnswer> {
    await condition(() => this.#ready);
    if (direct || this.servers.length === 0 || this.state.stable === undefined) {
      await this.serial(() => {
        this.validateDeploy(version);
        this.dropQueuedRollout(version);
        const why = direct
          ? ''
          : this.state.stable === undefined
            ? ' (first deployment)'
            : ' (no servers configured to judge a canary)';
        return this.moveStable(version, `deployed by hand${why}`);
      });
      return this.answer(`v${version} is stable`);
    }
    // Checked again once it is this update's turn: the loop may have started a canary while it waited.
    await this.serial(() => {
      this.validateDeploy(version);
      this.dropQueuedRollout(version);
      return this.startCanary(version);
    });
    const canary = this.state.canary;
    if (canary?.version !== version)
      return this.answer(`v${version} is stable already (deployed outside the controller)`);
    return this.answer(`canary v${version} started; judged at ${canary.bakeUntil}`);
  }

  /**
   * A person deploys `version` by hand: a version queued for its rollout (waiting for a resume) is dropped: it is the
   * one deployed, or it would otherwise roll out over the one the person chose.
   */
  private dropQueuedRollout(version: number): void {
    const queued = this.state.nextRollout;
    if (queued === undefined || !patched(skipDecidedQueuedRollouts)) return;
    this.state.nextRollout = undefined;
    const instead = queued === version ? 'it was deployed by hand' : `v${version} was deployed by hand instead`;
    this.record('rollout-skipped', `v${queued} waited for its rollout; ${instead}`, queued);
  }

  private async force(decision: 'promote' | 'rollback', reason: string): Promise<ControllerAnswer> {
    const version = this.state.canary!.version;
    this.#forced = { decision, reason };
    await condition(() => this.state.canary?.version !== version);
    const promoted = this.state.stable === version;
    return this.answer(`canary v${version} ${promoted ? 'promoted' : 'rolled back'}`);
  }

  private async rollback(reason: string): Promise<ControllerAnswer> {
    if (this.state.canary) return this.force('rollback', reason);
    let back = this.state.previousStable!;
    await this.serial(async () => {
      this.require(this.state.canary === undefined, 'a canary started meanwhile: roll it back instead');
      if (patched(followOutsideDeploysOnRollback)) {
        // What serves is what is rolled back: a version deployed outside the controller is adopted first, so the
        // rollback leaves it (and remembers it as rolled back), back to the version it replaced.
        await this.followOutsideDeploy();
        back = this.state.previousStable!;
        this.validateRollback();
      }
      const left = this.state.stable;
      const why = reason.startsWith('rolled back by hand') ? reason : `rolled back by hand: ${reason}`;
      await this.moveStable(back, why, left !== undefined ? { version: left, reason } : undefined);
      if (left !== undefined) rememberRolledBack(this.state, left, new Date(), reason);
      // The version left is known bad: it is not where a next rollback goes.
      if (patched(oneRollbackBack)) this.state.previousStable = undefined;
      // Named by the version rolled back, as a canary's rollback is; the history's next line is v${back} deployed.
      this.record('rolled-back', `${reason} (v${back} is stable again)`, left);
      this.notify('rolled-back', `${this.spec.modelName} rolled back to v${back}: ${reason}`, left);
    });
    return this.answer(`v${back} is stable again`);
  }

  private setThresholds(changes: Partial<ControllerState['thresholds']>): ControllerAnswer {
    this.state.thresholds = { ...this.state.thresholds, ...changes };
    this.record('thresholds-set', JSON.stringify(changes));
    const canary = this.state.canary;
    // A baking canary keeps the weight and bake end it started with; the judging thresholds apply to it at once.
    const baking =
      canary && (changes.bakeSeconds !== undefined || changes.weight !== undefined)
        ? `; canary v${canary.version} keeps its weight ${canary.weight} and is judged at ${canary.bakeUntil} (weight and bakeSeconds apply from the next canary), by the other thresholds as now set`
        : '';
    return this.answer(`thresholds now ${JSON.stringify(this.state.thresholds)}${baking}`);
  }

  private async setServers(servers: string[]): Promise<ControllerAnswer> {
    const wanted = [...new Set(servers)];
    // A canary may have started while this update waited for its turn; it is judged on the servers it started with.
    const [before, after] = await this.serial(() => {
      this.require(this.state.canary === undefined, 'a canary started meanwhile: set the servers after it ends');
      const was = this.servers;
      // The same servers again (a retried script, another order) change nothing, nor add a line to the history.
      const same = was.length === wanted.length && was.every((url) => wanted.includes(url));
      if (!same) this.state.servers = wanted;
      return Promise.resolve([was, this.servers]);
    });
    const list = (urls: string[]) => (urls.length ? urls.join(', ') : 'none');
    if (before !== after) this.record('servers-set', `servers now ${list(after)} (were ${list(before)})`);
    return this.answer(
      after.length
        ? `canaries are judged on ${after.length} server(s): ${list(after)}`
        : 'no servers: new versions are deployed directly, without a canary',
    );
  }

  /** The model servers whose counters judge a canary. */
  private get servers(): string[] {
    return this.state.servers ?? this.spec.servers;
  }

  private async mute(feature: string, muted: boolean): Promise<ControllerAnswer> {
    if (muted && patched(checkMutedFeature)) await this.requireFeature(feature);
    const rest = this.state.muted.filter((f) => f !== feature);
    this.state.muted = muted ? [...rest, feature] : rest;
    this.record('muted', `${feature} ${muted ? 'muted' : 'unmuted'}`);
    return this.answer(`${feature} ${muted ? 'muted: its drift alone no longer starts a retrain' : 'unmuted'}`);
  }

  /** Drops (and records) the muted names `version` does not take: muting them would mute nothing. */
  private async dropUnknownMuted(version: number): Promise<void> {
    const known = await rollout.readFeatureNames({ modelName: this.spec.modelName, version });
    const unknown = this.state.muted.filter((f) => !known.includes(f));
    if (unknown.length === 0) return;
    this.state.muted = this.state.muted.filter((f) => known.includes(f));
    this.record(
      'muted',
      `not muted: v${version} takes no feature ${namesText(unknown, 20)} (a typo?); the features are ` +
        `${namesText(known, 20)}; mute one with npm run models -- mute ${this.spec.modelName} <feature>`,
      version,
    );
  }

  /** Refuses `feature` unless the stable version or the canary takes it (any name while nothing is deployed). */
  private async requireFeature(feature: string): Promise<void> {
    // A first run learns what is deployed before it knows which features there are.
    await condition(() => this.#ready);
    const versions = [this.state.stable, this.state.canary?.version].filter((v): v is number => v !== undefined);
    const known = new Set<string>();
    for (const version of new Set(versions)) {
      for (const name of await rollout.readFeatureNames({ modelName: this.spec.modelName, version })) known.add(name);
    }
    if (versions.length === 0 || known.has(feature)) return;
    this.require(
      false,
      `${versions.map((v) => `v${v}`).join(' and ')} ${versions.length > 1 ? 'take' : 'takes'} no feature ` +
        `${quoteText(feature)}; the features are ${namesText([...known], 20)}`,
    );
  }

  /** `version` as sent: the Temporal CLI may send no input, or a string. */
  private validateDeploy(version: number | undefined): void {
    this.require(Number.isInteger(version) && version! >= 1, 'version must be a registered version number (1, 2, …)');
    this.require(version !== this.state.stable, `v${version} is stable already: nothing to deploy`);
    this.require(
      this.state.canary === undefined,
      `canary v${this.state.canary?.version} is baking: promote or roll it back first`,
    );
    this.require(
      this.state.pendingApproval === undefined,
      `v${this.state.pendingApproval?.version} waits for approval: approve or reject it first`,
    );
  }

  private validateRollback(): void {
    const s = this.state;
    this.require(
      s.canary !== undefined || s.previousStable !== undefined,
      'no canary is baking and stable has no previous version to go back to (a rollback by hand leaves none: deploy a version by hand with npm run models -- deploy <model> <version> --direct)',
    );
    if (s.canary !== undefined) return;
    const bad = s.rolledBack?.find((r) => r.version === s.previousStable);
    this.require(
      bad === undefined,
      `stable's previous version v${bad?.version} was rolled back at ${bad?.at} (${bad?.reason}): deploy it by hand with --direct if you mean it`,
    );
  }

  private validateDecision(version: number | undefined): void {
    this.require(Number.isInteger(version), 'name the version: {"version": <n>}');
    const pending = this.state.pendingApproval;
    this.require(pending !== undefined, 'no version is waiting for approval');
    this.require(pending!.version === version, `v${pending!.version} waits for approval, not v${version}`);
  }

  /** Rejects an update whose arguments do not fit (argumentsProblem), naming each field. */
  private requireArguments(problem: string | undefined): void {
    this.require(problem === undefined, `${problem}`);
  }

  /**
   * True (after recording why) when a signal's payload does not fit and the signal is dropped. A person sends signals
   * by hand (`temporal workflow signal`): a handler must never throw on one, which would fail every workflow task.
   */
  private signalIgnored(signal: string, problem: string | undefined): boolean {
    if (problem === undefined || !patched(checkSignalPayloads)) return false;
    this.record('signal-ignored', `${signal} signal ignored: ${problem}`);
    return true;
  }

  /** Rejects an update before it is written to the history. */
  private require(ok: boolean, message: string): void {
    if (!ok) throw mlopsError('MLOPS_ERR_CONTROLLER_UPDATE_REJECTED', { reason: message, model: this.spec.modelName });
  }

  // ---- helpers ----

  /** Runs one deployment move at a time, whoever asks (the loop or an update). */
  private async serial<T>(fn: () => Promise<T>): Promise<T> {
    await condition(() => this.#ready && !this.#moving);
    this.#moving = true;
    try {
      return await fn();
    } finally {
      this.#moving = false;
    }
  }

  private move(
    stable: number,
    reason: string,
    canary?: { version: number; weight: number },
    rolledBack?: { version: number; reason: string },
  ): SetDeploymentInput {
    const { modelName, alias } = this.spec;
    return { modelName, alias, stable, canary, reason, actor: this.#id, ...(rolledBack ? { rolledBack } : {}) };
  }

  private async sendNotifications(): Promise<void> {
    const message = this.state.outbox[0]!;
    try {
      await notifications.notify(message);
    } catch (err) {
      this.record('notification-failed', `notification "${message.event}" was given up: ${messageOf(err)}`);
    }
    this.state.outbox.shift();
  }

  private notify(event: Parameters<typeof notify>[2], text: string, version?: number): void {
    notify(this.state, this.#id, event, text, version);
  }

  private record(kind: Parameters<typeof record>[3], message: string, version?: number): void {
    record(this.state, this.spec.historyLimit, new Date(), kind, message, version);
  }

  private answer(message: string): ControllerAnswer {
    return { message, state: this.state };
  }

  private showStable(): void {
    if (this.state.stable !== undefined)
      upsertSearchAttributes([{ key: searchAttributes.modelVersion, value: this.state.stable }]);
  }

  private now(): string {
    return new Date().toISOString();
  }
}

/** The reason an update gave; the Temporal CLI may send the update with no input at all. */
function reasonOf(args: { reason?: string } | undefined, fallback: string): string {
  return args?.reason || fallback;
}

/** An activity refused a version that cannot be loaded (src/rollout/set-deployment.ts). */
function isUnservable(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === 'MLOPS_ERR_ROLLOUT_VERSION_UNSERVABLE'
  );
}

/** The incidents a retrain answered, and its gate's reason, as the end of "retrained because …". */
function incidentsText(incidents: MonitoringIncident[], gate: string | undefined): string {
  const [first] = incidents;
  const more = incidents.length > 1 ? ` (and ${incidents.length - 1} more incident(s))` : '';
  // Signals sent by hand (and some older ones) may lack a field: the text says what there is.
  const found = `monitoring found ${String(first?.reason ?? first?.kind ?? 'a change').replace(/\.$/, '')}${more}`;
  return gate ? `${found}; the gate: ${gate.replace(/\.$/, '')}` : found;
}

function messageOf(err: unknown): string {
  const e = err as { cause?: { message?: string }; message?: string };
  return e.cause?.message ?? e.message ?? String(err);
}
