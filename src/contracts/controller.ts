import { z } from 'zod';
import type { MonitoringIncident } from './monitoring';
import { quoteText } from './message-text';
import { aliasPattern, modelNamePattern, modelNameRule } from './pipeline';

/**
 * The model controller (src/workflows/model-controller.ts): one long-running workflow per model that owns its
 * rollout. Its input is validated once; its state is plain JSON, returned by the `controllerStatus` query and carried
 * whole across continue-as-new.
 */

/** The controller's workflow id; monitoring runs, schedules, the CLI and the retraining children all reach it by it. */
export function controllerWorkflowId(modelName: string): string {
  return `model-controller-${modelName}`;
}

/** The retraining child's id: one per model and attempt, so a second start of the same attempt is refused. */
export function retrainWorkflowId(modelName: string, attempt: number): string {
  return `retrain-${modelName}-${attempt}`;
}

/** The attempt number of a retraining child's id of this model (`retrain-<model>-<n>`), else undefined. */
export function retrainAttemptOf(workflowId: string, modelName: string): number | undefined {
  const prefix = `retrain-${modelName}-`;
  if (!workflowId.startsWith(prefix)) return undefined;
  const rest = workflowId.slice(prefix.length);
  return /^[1-9]\d{0,8}$/.test(rest) ? Number(rest) : undefined;
}

/** The id of a model's retraining Schedule (cron-scheduled retraining without drift). */
export function retrainScheduleId(modelName: string): string {
  return `retrain-${modelName}`;
}

const fraction = z.number().min(0).max(1);

export const canaryThresholdsSchema = z
  .object({
    /** Share of requests the canary answers while it bakes. */
    weight: z.number().gt(0).lt(1).default(0.1),
    /** How long the canary bakes before it is judged (a durable timer). */
    bakeSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .default(600),
    /** Requests the canary must have answered during the bake to be judged; fewer rolls back (nothing to go on). */
    minRequests: z.number().int().min(1).default(100),
    /**
     * Highest server-error (5xx) rate of the canary, and highest excess of its refusal (4xx) rate over the stable
     * version's; above either the canary rolls back.
     */
    maxErrorRate: fraction.default(0.01),
    /** Highest ratio of the canary's mean latency to the stable version's during the bake. */
    maxLatencyRatio: z.number().min(1).default(1.5),
    /**
     * Milliseconds the canary's mean latency must also exceed the stable version's by for the ratio to count: at
     * sub-millisecond latencies a ratio of 1.6 is jitter (a freshly loaded session, a busy core), not a slower model.
     */
    minLatencyIncreaseMs: z.number().min(0).max(60_000).default(1),
    /** Highest Jensen–Shannon distance between the canary's and the stable version's prediction distributions. */
    maxPredictionDrift: fraction.default(0.2),
  })
  .strict();
export type CanaryThresholds = z.output<typeof canaryThresholdsSchema>;

/**
 * Model servers' URLs as the workflow takes them in its input: any http(s) URL. A run parses its input again on every
 * replay and continue-as-new, so this stays what it always took; a new URL is checked by {@link serverBaseUrlsSchema}.
 */
const serversSchema = z.array(
  z
    .string()
    .url()
    .refine((url) => /^https?:\/\//i.test(url), 'must be an http:// or https:// URL of a model server'),
);

/** Characters of a model server's URL, at most (the usual limit of browsers and proxies). */
export const maxServerUrlLength = 2048;

/**
 * Model servers' base URLs as a new list is checked (the `setServers` validator, `npm run models -- start` and
 * `servers`): the controller appends its own paths to each (`/v1/models/<model>/stats`, `/readyz`), so a query
 * string or a fragment would swallow them, and fetch refuses a URL with credentials. A path is kept: a server behind
 * a proxy may answer under one.
 */
export const serverBaseUrlsSchema = z.array(
  serversSchema.element.superRefine((url, ctx) => {
    const problem = serverUrlProblem(url);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  }),
);

/** Why `text` is no model server's base URL, or undefined when it is one (or is no http(s) URL, refused before). */
export function serverUrlProblem(text: string): string | undefined {
  if (text.length > maxServerUrlLength)
    return `${quoteText(text, 100)} is no model server's base URL: it has over ${maxServerUrlLength} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const hashAt = text.indexOf('#');
  const beforeHash = hashAt === -1 ? text : text.slice(0, hashAt);
  const queryAt = beforeHash.indexOf('?');
  const credentials = url.username !== '' || url.password !== '';
  const extras = [
    ...(credentials ? ['credentials'] : []),
    ...(queryAt === -1 ? [] : [`a query string (${quoteText(beforeHash.slice(queryAt), 40)})`]),
    ...(hashAt === -1 ? [] : [`a fragment (${quoteText(text.slice(hashAt), 40)})`]),
  ];
  if (extras.length === 0) return undefined;
  // The user name and password are not repeated: messages end up in terminals and logs.
  const shown = text.replace(/^([a-z][a-z\d+.-]*:[/\\]*)[^/\\?#]*@/i, '$1***@');
  const base = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  const keys = credentials
    ? '; a server that requires an API key gets the first of MLOPS_SERVE_API_KEYS where the pipeline worker runs'
    : '';
  return `${quoteText(shown, 200)} has ${extras.join(' and ')}: give the server's base URL, ${quoteText(base, 200)}, to which the controller appends its own paths (/v1/models/<model>/stats, /readyz)${keys}`;
}

/** The `setServers` update's argument: the whole new list (empty: no canary can be judged; versions deploy directly). */
export const setServersSchema = z.object({ servers: serverBaseUrlsSchema }).strict();

export const approvalSchema = z
  .object({
    /** When true, a version that passed the gate waits for `approve` or `reject` before its canary starts. */
    required: z.boolean().default(false),
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .default(24 * 3600),
    /** What happens when nobody decides in time. */
    onTimeout: z.enum(['approve', 'reject']).default('reject'),
  })
  .strict();

export type ApprovalSettings = z.infer<typeof approvalSchema>;

export const controllerInputSchema = z
  .object({
    modelName: z.string().regex(modelNamePattern, modelNameRule),
    /** The alias the servers follow (its deployment record holds stable and canary). */
    alias: z.string().regex(aliasPattern).default('production'),
    /**
     * The `trainingPipeline` input a retrain runs with (its dataset is the newest data: the configured source is read
     * again). The controller sets `modelName`, turns deploying off (it owns the rollout) and keeps the rest.
     */
    training: z.record(z.unknown()),
    /** Model servers' base URLs, whose per-version counters judge a canary (changed later with `setServers`). */
    servers: serversSchema.default([]),
    canary: canaryThresholdsSchema.default({}),
    approval: approvalSchema.default({}),
    /** Incidents of these kinds start a retrain; others are recorded only. */
    retrainOn: z.array(z.enum(['drift', 'accuracy'])).default(['drift', 'accuracy']),
    /** Features whose drift alone never starts a retrain. */
    muted: z.array(z.string().min(1)).default([]),
    /**
     * After a retrain the gate rejected, incidents about the same stable version are held (recorded, not retrained
     * for) this long: retrained on data that has not changed, the model would be rejected again at every monitoring
     * run. A retrain asked by hand or by the retrain schedule is not held. 0 turns holding off. @default 1 day
     */
    retrainCooldownSeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3600)
      .default(24 * 3600),
    /** Entries of recent history kept in the state (older ones stay in the workflow histories). */
    historyLimit: z.number().int().min(1).max(1000).default(100),
    /** Continue as new after this many history events even if the server has not suggested it (tests force it low). */
    continueAsNewAfterEvents: z.number().int().min(50).max(50_000).default(10_000),
    /** The state a previous run carried across continue-as-new; absent on a first start. */
    state: z.unknown().optional(),
  })
  .strict();
/**
 * The controller input as a new controller is started with it (`npm run models -- start`): its servers are base
 * URLs. The workflow itself parses {@link controllerInputSchema}, which takes what it always took (`serversSchema`).
 */
export const controllerStartInputSchema = controllerInputSchema.extend({ servers: serverBaseUrlsSchema.default([]) });
export type ControllerInput = z.input<typeof controllerInputSchema>;
export type ControllerSpec = z.output<typeof controllerInputSchema>;

export type ControllerEventKind =
  | 'started'
  | 'recalled'
  | 'incident'
  | 'incident-folded'
  | 'incident-ignored'
  | 'incident-held'
  | 'retrain-started'
  | 'retrain-finished'
  | 'gate-failed'
  | 'approval-requested'
  | 'approved'
  | 'rejected'
  | 'canary-started'
  | 'canary-judged'
  | 'promoted'
  | 'rolled-back'
  | 'rollout-skipped'
  | 'deployed'
  | 'thresholds-set'
  | 'servers-set'
  | 'muted'
  | 'paused'
  | 'resumed'
  | 'retrain-held'
  | 'notification-failed'
  | 'signal-ignored'
  | 'step-failed'
  | 'continued-as-new';

export interface ControllerEvent {
  at: string;
  kind: ControllerEventKind;
  /** One line a person reads. */
  message: string;
  version?: number;
}

export interface RetrainInFlight {
  workflowId: string;
  attempt: number;
  reason: string;
  startedAt: string;
  /** Incidents that arrived while it ran and were folded into it. */
  folded: number;
}

export interface RetrainOutcome {
  workflowId: string;
  outcome: 'registered' | 'rejected' | 'failed';
  version?: number;
  reason: string;
}

export interface ControllerState {
  modelName: string;
  alias: string;
  /** The version the alias serves; undefined before the first deployment. */
  stable?: number;
  /** The version stable replaced, where a rollback without a canary goes back to. */
  previousStable?: number;
  /** A canary baking: its counters' baseline is sampled when it starts, so only the bake's traffic judges it. */
  canary?: { version: number; weight: number; startedAt: string; bakeUntil: string; baseline: ServingStatsSample };
  /** A version waiting for its canary to start (after the gate, and approval where required). */
  nextRollout?: number;
  /**
   * A version a retrain registered after passing the gate, not yet compared with the versions rolled back (then it
   * waits for approval or rolls out; or, the same model as one rolled back, it is not rolled out).
   */
  retrained?: { version: number; reason: string };
  /**
   * Versions rolled back for what the model did (a canary's verdict on its errors, refusals, latency or predictions,
   * or a person's rollback), most recent last, the last 20: a retrain that makes the same model again is not rolled
   * out again. A rollback for too little traffic, an unreachable fleet or files that would not load is not kept. A
   * version deployed by hand later leaves the list. Absent in states of controllers started before it existed.
   */
  rolledBack?: RolledBackVersion[];
  /**
   * Versions turned down at their approval (by a person, or by an `onTimeout: 'reject'` default), most recent last,
   * the last 20: like a rolled-back one, a retrain that makes the same model again is not put to approval again.
   * Absent in states of controllers started before it existed.
   */
  rejected?: RolledBackVersion[];
  /**
   * The version the last retrain registered when it answered incidents (data drift, an accuracy drop), and why: a
   * model retrained because the world changed is expected to predict differently from the stable version, so its
   * canary's prediction distance is reported, not held against it (docs/rollout.md). Absent otherwise.
   */
  retrainedAfter?: { version: number; because: string };
  /** A retrain asked for and not started yet (started as soon as no rollout is under way). */
  requestedRetrain?: { reason: string; folded: number };
  lastVerdict?: CanaryVerdict;
  thresholds: CanaryThresholds;
  /** The model servers judging a canary: the input's, until `setServers`. Absent in states of older controllers. */
  servers?: string[];
  muted: string[];
  /** Incidents received and not yet answered by a finished retrain. */
  openIncidents: MonitoringIncident[];
  retrain?: RetrainInFlight;
  /** Retrain attempts started so far; the next one is attempts + 1. */
  attempts: number;
  lastRetrain?: RetrainOutcome;
  /**
   * Incidents about `version` are held until `until` (`retrainCooldownSeconds`) because the retrain for its incidents
   * was rejected by the gate (`reason`), or (`cause: 'same-model'`) made a model already rolled back or rejected
   * (`reason` says which); `held` counts them. Cleared by a retrain that registers a version.
   */
  holding?: { version: number; until: string; reason: string; held: number; cause?: 'same-model' };
  pendingApproval?: { version: number; requestedAt: string; deadline: string; onTimeout: 'approve' | 'reject' };
  /** The input's approval settings (for status). Absent in states of controllers started before it existed. */
  approval?: ApprovalSettings;
  /**
   * Set by `pause`, cleared by `resume`: the controller starts nothing by itself (incidents and scheduled retrains
   * are recorded and held, a queued rollout or retrain waits); a person's commands still work. `held` counts what was.
   */
  paused?: { since: string; reason: string; held: number };
  /** Notifications not sent yet. */
  outbox: NotifyInput[];
  /** Most recent last. */
  history: ControllerEvent[];
  /** Runs of this controller before the current one (continue-as-new count). */
  generation: number;
}

export interface RolledBackVersion {
  version: number;
  at: string;
  reason: string;
}

/** Per-version counters of the model servers (sum over `servers`), as `/v1/models/{model}/stats` reports them. */
export interface VersionCounters {
  requests: number;
  /** Server faults (5xx). */
  errors: number;
  /** Client errors (4xx), not held against a version. */
  rejected: number;
  latencyMsSum: number;
}

export interface ServingStatsSample {
  takenAt: string;
  versions: Record<string, VersionCounters>;
  /** Servers that did not answer (their counters are missing from the sum). */
  unreachable: string[];
  /** What each answering server routes to (absent in samples taken before it was recorded). */
  routing?: Record<string, ServerRouting>;
}

/** The versions a model server answers with when sampled. */
export interface ServerRouting {
  stable: number;
  canary?: { version: number; weight: number };
}

export interface PredictionComparison {
  stableRows: number;
  canaryRows: number;
  /** Jensen–Shannon distance (base 2) of the two versions' prediction distributions; absent when skipped. */
  distance?: number;
  skipped?: string;
  /** Labels (or bins) holding rows on either side. */
  buckets?: number;
  /** Chi-square test of homogeneity of the two sides' counts: its p-value. */
  pValue?: number;
  /**
   * The chance that the distance reaches the verdict's limit with no change at all, at these row counts and buckets
   * (a χ² estimate, src/drift/presets.ts `distanceNoise`); when above 1 % the verdict judges by `pValue` instead (a
   * 20-class model's canary of 100 rows sits near 0.2 by noise alone). Absent in comparisons from before it.
   */
  distanceNoise?: number;
  /**
   * The distance the canary's own evaluation measured between its predictions and the stable version's, when the
   * stable version was the champion it was gated against (both answered the same test rows, binned the same way;
   * `predictionChange` in its evaluation.json): how differently it is expected to answer. Absent otherwise, and in
   * comparisons from before it.
   */
  expected?: { distance: number; rows: number };
}

export interface CanaryVerdict {
  decision: 'promote' | 'rollback';
  /** Every reason; for a promotion, the checks that passed. */
  reasons: string[];
  /**
   * A rollback's: whether a check of the canary's own behaviour failed (server errors, refusals, latency, prediction
   * drift). False when only the traffic was too little or the fleet failed: that says nothing of the model, so the
   * version is not remembered as rolled back. Absent in promotions and in verdicts from before the field.
   */
  modelFault?: boolean;
  canary: VersionCounters;
  stable: VersionCounters;
  predictionDrift?: PredictionComparison;
}

export type NotificationEvent =
  | 'incident'
  | 'incident-held'
  | 'retrain-started'
  | 'gate-failed'
  | 'retrain-failed'
  | 'approval-needed'
  | 'promoted'
  | 'rolled-back'
  | 'rollout-skipped';

export interface NotifyInput {
  event: NotificationEvent;
  modelName: string;
  /** The message a person reads (Slack's `text`). */
  text: string;
  version?: number;
  /** Workflow that sent it, so the message can link to it. */
  workflowId: string;
}

export interface NotifyResult {
  sent: boolean;
  /** Why not, when not sent (no webhook configured). */
  reason?: string;
}

export interface SetDeploymentInput {
  modelName: string;
  alias: string;
  stable: number;
  canary?: { version: number; weight: number };
  /** Recorded in the registry's deployment history. */
  reason: string;
  /** Who moved it: the controller's workflow id. */
  actor: string;
  /**
   * The version this move rolls back for what the model did (a verdict's failed check, a person's rollback), kept in
   * the history so a controller started again remembers it (not for too little traffic or an unreachable fleet).
   */
  rolledBack?: { version: number; reason: string };
}

/** A result of the controller's updates: what changed, in a sentence, and the state after it. */
export interface ControllerAnswer {
  message: string;
  state: ControllerState;
}

/** Result of a controller run that stops (it only stops when cancelled or terminated; continue-as-new is not a stop). */
export type ControllerResult = ControllerState;
