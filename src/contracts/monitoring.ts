import { z } from 'zod';

/** Rows a window needs before drift is judged; a smaller window is a reported skip, never a "no drift". */
export const defaultMinRows = 500;

/**
 * Seconds the window's end stays behind the run's start, so rows still buffered in a model server's prediction log
 * (flushed every few seconds, then written) are not missed for good: the next window starts at this one's end.
 */
export const defaultLagSeconds = 120;

const isoTime = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z');

/** Input of the `monitorModel` workflow (one run per schedule tick). */
export const monitorModelInputSchema = z
  .object({
    modelName: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be a registry model name'),
    /** The alias whose version's traffic and training reference are compared. @default 'production' */
    alias: z.string().min(1).default('production'),
    /** @default {@link defaultMinRows} */
    minRows: z.number().int().min(1).default(defaultMinRows),
    preset: z.enum(['evidently', 'vertex']).default('evidently'),
    thresholds: z.record(z.number().finite()).optional(),
    muted: z.array(z.string()).optional(),
    /** End of the window; default: the run's start minus `lagSeconds`. */
    until: isoTime.optional(),
    /** @default {@link defaultLagSeconds} */
    lagSeconds: z.number().int().min(0).default(defaultLagSeconds),
  })
  .strict();

export type MonitorModelInput = z.input<typeof monitorModelInputSchema>;
export type MonitorModelSpec = z.output<typeof monitorModelInputSchema>;

export interface CheckModelDriftInput {
  modelName: string;
  alias: string;
  /** Names the run's output folder and marks the stored watermark, so a retried check covers the same window. */
  runId: string;
  /** Start of the window (exclusive); default: the watermark stored by the last successful check. */
  since?: string;
  /** End of the window (inclusive), ISO time. */
  until: string;
  minRows: number;
  preset?: 'evidently' | 'vertex';
  thresholds?: Record<string, number>;
  muted?: string[];
}

export interface CheckModelDriftResult {
  /** Why the window was not judged (no log yet, too few rows); absent when it was. */
  skipped?: string;
  version: number;
  /** The window: (since, until]; since absent = from the start of the log. */
  since?: string;
  until: string;
  rows: number;
  minRows: number;
  /** Share of unmuted features that drifted (0 when skipped). */
  driftShare: number;
  driftedFeatures: string[];
  datasetDrift: boolean;
  reportUris?: { drift: string; report: string };
  /** Where the next window starts: `until` after a judged window, the unchanged start after a skip. */
  watermark?: string;
}

/** What a run found that the model's controller acts on: signalled to it, and returned. */
export interface MonitoringIncident {
  kind: 'drift';
  modelName: string;
  version: number;
  driftedFeatures: string[];
  driftShare: number;
  reportUri: string;
}

export interface MonitorModelResult extends CheckModelDriftResult {
  incident?: MonitoringIncident;
  /** Whether the incident was signalled to a running controller of the model (false: none runs). */
  controllerSignalled?: boolean;
}

/** The id of a model's monitoring Schedule, and of the workflow runs it starts (Temporal appends each run's time). */
export function monitoringScheduleId(modelName: string): string {
  return `monitor-${modelName}`;
}

/** How late a missed tick (server down) may still run: one hourly window's worth. */
export const monitoringCatchupWindow = '1 hour';
