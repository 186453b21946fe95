import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PipelineStatus } from '../contracts/pipeline';
import type { CanaryThresholds, ControllerAnswer, ControllerState, RetrainOutcome } from '../contracts/controller';
import type { MonitoringIncident } from '../contracts/monitoring';

/**
 * Current stage, step history and ids of a running or finished `trainingPipeline`. Named for the pipeline, so that
 * other workflows' status queries (the model controller's) can sit beside it in clients and the CLI.
 */
export const pipelineStatusQuery = defineQuery<PipelineStatus>('pipelineStatus');

/*
 * The model controller's messages. Every update takes one JSON object (or nothing), so the Temporal CLI can send it:
 *   temporal workflow update execute --workflow-id model-controller-<model> --name deploy --input '{"version":3}'
 */

/** The controller's whole state. */
export const controllerStatusQuery = defineQuery<ControllerState>('controllerStatus');

/** Roll a registered version out: by canary (default), or straight to stable with `direct: true`. */
export const deployUpdate = defineUpdate<ControllerAnswer, [{ version: number; direct?: boolean }]>('deploy');
/** Promote the canary now, without waiting for the end of its bake. */
export const promoteUpdate = defineUpdate<ControllerAnswer, []>('promote');
/** Roll the canary back now; with no canary, move stable back to the version it replaced. */
export const rollbackUpdate = defineUpdate<ControllerAnswer, [{ reason?: string }]>('rollback');
/** Start a retrain (or fold into the one running). */
export const retrainUpdate = defineUpdate<ControllerAnswer, [{ reason?: string }]>('retrain');
/** Decide a version waiting for approval. */
export const approveUpdate = defineUpdate<ControllerAnswer, [{ version: number; reason?: string }]>('approve');
export const rejectUpdate = defineUpdate<ControllerAnswer, [{ version: number; reason?: string }]>('reject');
/** Change the canary thresholds (any subset). */
export const setThresholdsUpdate = defineUpdate<ControllerAnswer, [Partial<CanaryThresholds>]>('setThresholds');
/** Replace the model servers whose counters judge a canary (refused while one bakes). */
export const setServersUpdate = defineUpdate<ControllerAnswer, [{ servers: string[] }]>('setServers');
/** Mute (or, with `muted: false`, unmute) a feature: its drift alone no longer starts a retrain. */
export const muteUpdate = defineUpdate<ControllerAnswer, [{ feature: string; muted?: boolean }]>('mute');

/** Stop starting anything by itself (retrains for incidents or the schedule, queued rollouts) until `resume`. */
export const pauseUpdate = defineUpdate<ControllerAnswer, [{ reason?: string }]>('pause');
export const resumeUpdate = defineUpdate<ControllerAnswer, []>('resume');

/** An incident found by `monitorModel` (drift or a drop in live accuracy). */
export const incidentSignal = defineSignal<[MonitoringIncident]>('incident');
/** A retrain asked for without an answer (the retraining Schedule's runs send it). */
export const requestRetrainSignal = defineSignal<[{ reason: string }]>('requestRetrain');
/** Sent by a retraining child to its controller when it ends, whichever run of the controller is current. */
export const retrainFinishedSignal = defineSignal<[RetrainOutcome]>('retrainFinished');
