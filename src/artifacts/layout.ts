/**
 * Where every artifact family lives in the store. The folders one step writes are the folders another step, the
 * catalogue and the registry read, so their names are a contract: they are spelled here and nowhere else.
 *
 *   datasets/<snapshotId>/{data.parquet, manifest.json}
 *   profiles/<snapshotId>/{profile.json, report.html}
 *   preprocessed/<snapshotId>/<specHash>/{train,validation,test}.parquet, transform.json, result.json
 *   runs/<model>/<runKey>/training/{model.onnx, metrics.json, checkpoints/epoch-NNNN.ckpt, evaluation.json}
 *   runs/<model>/<runKey>/inputs/{train,validation,transform}.<ext>   (staged for remote trainers)
 *   registry/<model>/registrations/<key hash>/{model.onnx, transform.json, evaluation.json}
 *   registry/<model>/versions/<000001>/version.json                  (created create-only: one number, one writer)
 *   registry/<model>/aliases/<alias>.json
 *   registry/<model>/deployments/<alias>.json                         (stable + canary: what model servers serve)
 *   registry/<model>/history/<000001>.json                           (deployment history, created create-only)
 *   predictions/<model>/date=<YYYY-MM-DD>/part-<time>-<id>.parquet    (the model server's prediction log)
 *   monitoring/<model>/<runId>/{drift.json, report.html, live-metric.json}  (runId: <workflow id>/<run id> of monitorModel)
 *   monitoring/<model>/watermark.json                                 (end of the last judged window)
 *
 * In every multi-file folder the record named last above (manifest, result) is written last: a folder without it is
 * unfinished and ignored. A model version is one record pointing at its registration's files.
 */
import { createHash } from 'node:crypto';
import type { ArtifactStore } from './artifact-store';

/** Anything that joins key segments into URIs (an `ArtifactStore`). */
export type UriJoiner = Pick<ArtifactStore, 'uri'>;

/** File names inside a trainer's output folder (docs/trainer-contract.md); trainers write them, the worker reads them. */
export const trainerOutput = {
  model: 'model.onnx',
  metrics: 'metrics.json',
  checkpoints: 'checkpoints',
  evaluation: 'evaluation.json',
} as const;

const checkpointPattern = /(?:^|\/)epoch-(\d+)\.ckpt$/;

/** `epoch-0007.ckpt`: zero-padded, so names sort in epoch order. */
export function checkpointName(epoch: number): string {
  return `epoch-${String(epoch).padStart(4, '0')}.ckpt`;
}

/** The epoch of a checkpoint file name or URI, or undefined when it is not one. */
export function checkpointEpoch(nameOrUri: string): number | undefined {
  const match = checkpointPattern.exec(nameOrUri);
  return match ? Number(match[1]) : undefined;
}

export function snapshotsFolder(store: UriJoiner): string {
  return store.uri('datasets');
}

export function snapshotFiles(store: UriJoiner, snapshotId: string): { data: string; manifest: string } {
  return { data: store.uri('datasets', snapshotId, 'data.parquet'), manifest: manifestOf(store, snapshotId) };
}

function manifestOf(store: UriJoiner, snapshotId: string): string {
  return store.uri('datasets', snapshotId, 'manifest.json');
}

export function isSnapshotManifest(uri: string): boolean {
  return /\/datasets\/[^/]+\/manifest\.json$/.test(uri);
}

export function profileFolder(store: UriJoiner, snapshotId: string): string {
  return store.uri('profiles', snapshotId);
}

export function profileFiles(store: UriJoiner, snapshotId: string): { profile: string; report: string } {
  return {
    profile: store.uri('profiles', snapshotId, 'profile.json'),
    report: store.uri('profiles', snapshotId, 'report.html'),
  };
}

/**
 * The profile of a snapshot for another target than its first profile's (`profiles/<id>/profile.json`, which holds
 * the drift references every model of the snapshot reads): `profiles/<id>/targets/<sha256 of the target, 16 hex>/`.
 * The target's distribution, its flags and the columns chosen for correlations depend on the target.
 */
export function targetProfileFiles(
  store: UriJoiner,
  snapshotId: string,
  targetHash: string,
): { profile: string; report: string } {
  return {
    profile: store.uri('profiles', snapshotId, 'targets', targetHash, 'profile.json'),
    report: store.uri('profiles', snapshotId, 'targets', targetHash, 'report.html'),
  };
}

export function preprocessedFolder(store: UriJoiner, snapshotId: string): string {
  return store.uri('preprocessed', snapshotId);
}

export type SplitName = 'train' | 'validation' | 'test';

export interface PreprocessedFiles {
  result: string;
  transform: string;
  splits: Record<SplitName, string>;
}

export function preprocessedFiles(store: UriJoiner, snapshotId: string, specHash: string): PreprocessedFiles {
  const file = (name: string) => store.uri('preprocessed', snapshotId, specHash, name);
  return {
    result: file('result.json'),
    transform: file('transform.json'),
    splits: { train: file('train.parquet'), validation: file('validation.parquet'), test: file('test.parquet') },
  };
}

export function isPreprocessedResult(uri: string): boolean {
  return uri.endsWith('/result.json');
}

/**
 * A training run's folders: the trainer's output and the inputs staged for a remote trainer. `base` is a URI inside
 * the store to put them under (a Vertex AI staging folder); by default the store root.
 */
export function trainingRun(
  store: UriJoiner,
  modelName: string,
  runKey: string,
  base = '',
): { output: string; inputs: string } {
  const run = store.uri(trainingRunsFolder(store, modelName, base), runKey);
  return { output: store.uri(run, 'training'), inputs: store.uri(run, 'inputs') };
}

/** The folder of a model's training runs, one folder per workflow id (then run id) under it. */
export function trainingRunsFolder(store: UriJoiner, modelName: string, base = ''): string {
  return store.uri(base, 'runs', modelName);
}

/** The workflow id of a training run's folder from a URI under `trainingRunsFolder`, else undefined. */
export function workflowIdOfRun(store: UriJoiner, modelName: string, uri: string): string | undefined {
  const folder = `${trainingRunsFolder(store, modelName)}/`;
  return uri.startsWith(folder) ? uri.slice(folder.length).split('/')[0] : undefined;
}

/** The files of a trainer's output folder, as URIs. */
export function trainingOutputFiles(
  store: UriJoiner,
  outputUri: string,
): { model: string; metrics: string; checkpoints: string; evaluation: string } {
  return {
    model: store.uri(outputUri, trainerOutput.model),
    metrics: store.uri(outputUri, trainerOutput.metrics),
    checkpoints: store.uri(outputUri, trainerOutput.checkpoints),
    evaluation: store.uri(outputUri, trainerOutput.evaluation),
  };
}

export function registryFolder(store: UriJoiner): string {
  return store.uri('registry');
}

export function modelVersionsFolder(store: UriJoiner, modelName: string): string {
  return store.uri('registry', modelName, 'versions');
}

export interface ModelVersionFiles {
  folder: string;
  /** Created create-only once the registration's files are complete: its presence publishes the version. */
  record: string;
}

export function modelVersionFiles(store: UriJoiner, modelName: string, version: number): ModelVersionFiles {
  const folder = store.uri('registry', modelName, 'versions', String(version).padStart(6, '0'));
  return { folder, record: store.uri(folder, 'version.json') };
}

/** Where one registration copies its files before it claims a version number (named by its key, one per run). */
export function registrationFiles(
  store: UriJoiner,
  modelName: string,
  registrationKey: string,
): { folder: string; model: string; transform: string; evaluation: string } {
  const id = createHash('sha256').update(registrationKey).digest('hex').slice(0, 24);
  const folder = store.uri('registry', modelName, 'registrations', id);
  return {
    folder,
    model: store.uri(folder, 'model.onnx'),
    transform: store.uri(folder, 'transform.json'),
    evaluation: store.uri(folder, 'evaluation.json'),
  };
}

export function isModelVersionRecord(uri: string): boolean {
  return /\/versions\/[^/]+\/version\.json$/.test(uri);
}

/** The model a version record belongs to (`registry/<model>/versions/<v>/version.json`). */
export function modelOfVersionRecord(uri: string): string | undefined {
  return /\/([^/]+)\/versions\/[^/]+\/version\.json$/.exec(uri)?.[1];
}

export function aliasRecord(store: UriJoiner, modelName: string, alias: string): string {
  return store.uri('registry', modelName, 'aliases', `${alias}.json`);
}

/** The deployment record model servers follow for an alias (stable version and canary). */
export function deploymentRecord(store: UriJoiner, modelName: string, alias: string): string {
  return store.uri('registry', modelName, 'deployments', `${alias}.json`);
}

/** The deployment history of a model: one create-only entry per change of a deployment record. */
export function deploymentHistoryFolder(store: UriJoiner, modelName: string): string {
  return store.uri('registry', modelName, 'history');
}

/** One entry of the deployment history; zero-padded, so names sort in order. */
export function deploymentHistoryEntry(store: UriJoiner, modelName: string, seq: number): string {
  return store.uri(deploymentHistoryFolder(store, modelName), `${String(seq).padStart(6, '0')}.json`);
}

/** The sequence number of a deployment history entry's URI, or undefined when it is not one. */
export function deploymentHistorySeq(uri: string): number | undefined {
  const match = /\/history\/(\d{6,})\.json$/.exec(uri);
  return match ? Number(match[1]) : undefined;
}

/** The prediction log of a model, or one day's partition of it (`date` as YYYY-MM-DD, UTC). */
export function predictionLogFolder(store: UriJoiner, modelName: string, date?: string): string {
  return date ? store.uri('predictions', modelName, `date=${date}`) : store.uri('predictions', modelName);
}

/** One Parquet part of a day's partition of the prediction log. */
export function predictionLogPart(store: UriJoiner, modelName: string, date: string, part: string): string {
  return store.uri(predictionLogFolder(store, modelName, date), `part-${part}.parquet`);
}

/** A log time as part names write it: UTC to the millisecond, `20261203T123744814Z`. */
const logStamp = (t: number) => new Date(t).toISOString().replace(/[-:.]/g, '');

/** The epoch milliseconds of a {@link logStamp}, NaN when it is not a time. */
const logStampTime = (s: string) =>
  Date.parse(
    `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`,
  );

/**
 * A prediction-log part's key (`part-<key>.parquet`): the times of its earliest and latest rows, UTC to the
 * millisecond (`20261203T123744814Z`), then `tail` (the writer's name and a random suffix). Parts written before the
 * latest time was kept carry the first time only.
 */
export function predictionLogPartKey(firstTime: number, lastTime: number | undefined, tail: string): string {
  return [logStamp(firstTime), ...(lastTime === undefined ? [] : [logStamp(lastTime)]), tail].join('-');
}

/**
 * The span of rows a part's name gives (epoch milliseconds): `last` only for parts that carry it; undefined for a name
 * without a readable first time (a file put there by hand), whose rows a reader then cannot rule out.
 */
export function predictionLogPartSpan(uri: string): { first: number; last?: number } | undefined {
  const match = /\/part-(\d{8}T\d{9}Z)(?:-(\d{8}T\d{9}Z))?-[^/]*\.parquet$/.exec(uri);
  if (!match) return undefined;
  const first = logStampTime(match[1]!);
  const last = match[2] ? logStampTime(match[2]) : NaN;
  if (Number.isNaN(first)) return undefined;
  return Number.isNaN(last) ? { first } : { first, last };
}

/**
 * A compacted file of the prediction log: the rows of one UTC hour's parts (the parts whose earliest row lies in that
 * hour) merged into one Parquet file, `compacted-<first>-<last>-g<generation>.parquet` beside them in the day's
 * partition. `first`/`last` span its rows like a part's name; `generation` is when the compaction listed its inputs (a
 * later one also merges parts that arrived after). Its inputs are listed in `<name>.sources.json`.
 */
export function predictionLogCompacted(
  store: UriJoiner,
  modelName: string,
  span: { first: number; last: number },
  generation: number,
): { parquet: string; sources: string } {
  const date = new Date(span.first).toISOString().slice(0, 10);
  const name = `compacted-${logStamp(span.first)}-${logStamp(span.last)}-g${logStamp(generation)}.parquet`;
  const parquet = store.uri(predictionLogFolder(store, modelName, date), name);
  return { parquet, sources: predictionLogCompactedSources(parquet) };
}

/** The sidecar of a compacted file, listing the parts it holds. */
export function predictionLogCompactedSources(parquet: string): string {
  return `${parquet}${compactedSourcesSuffix}`;
}

/** The compacted file a sidecar belongs to, or undefined when the URI is no sidecar. */
export function predictionLogCompactedOfSources(uri: string): string | undefined {
  return uri.endsWith(compactedSourcesSuffix) ? uri.slice(0, -compactedSourcesSuffix.length) : undefined;
}

const compactedSourcesSuffix = '.sources.json';

/** What a compacted file's name gives (epoch milliseconds), or undefined when the URI names no compacted file. */
export function predictionLogCompactedSpan(
  uri: string,
): { first: number; last: number; generation: number } | undefined {
  const match = /\/compacted-(\d{8}T\d{9}Z)-(\d{8}T\d{9}Z)-g(\d{8}T\d{9}Z)\.parquet$/.exec(uri);
  if (!match) return undefined;
  const [first, last, generation] = [match[1]!, match[2]!, match[3]!].map(logStampTime) as [number, number, number];
  return [first, last, generation].some(Number.isNaN) ? undefined : { first, last, generation };
}

/** One monitoring run's outputs. */
export function monitoringFiles(
  store: UriJoiner,
  modelName: string,
  runId: string,
): { folder: string; drift: string; report: string; liveMetric: string } {
  const folder = store.uri('monitoring', modelName, runId);
  return {
    folder,
    drift: store.uri(folder, 'drift.json'),
    report: store.uri(folder, 'report.html'),
    liveMetric: store.uri(folder, 'live-metric.json'),
  };
}

/**
 * The end of the last judged monitoring window of a model's alias, where its next scheduled window starts (each
 * alias's traffic is judged on its own).
 */
export function monitoringWatermark(store: UriJoiner, modelName: string, alias: string): string {
  return store.uri('monitoring', modelName, 'watermarks', `${alias}.json`);
}

/**
 * The claim on one window of an alias's monitoring, named by where the window starts (`start`: the start of the log):
 * the run that holds it judges the window; another run started beside it skips it. A claim left by a run that died
 * is taken over by creating the next generation (`<start>~1.json`, `~2`, …): the newest generation holds the window.
 */
export function monitoringWindowClaim(
  store: UriJoiner,
  modelName: string,
  alias: string,
  since: string | undefined,
  generation = 0,
): string {
  const name = `${since ?? 'start'}${generation > 0 ? `~${generation}` : ''}.json`;
  return store.uri('monitoring', modelName, 'claims', alias, name);
}

/** The watermark of a model before watermarks were kept per alias; read (for production only) when no new one exists. */
export function legacyMonitoringWatermark(store: UriJoiner, modelName: string): string {
  return store.uri('monitoring', modelName, 'watermark.json');
}
