/**
 * Comparing a canary's predictions with the stable version's over the same window (since, until] of the prediction
 * log, in DuckDB: the Jensen–Shannon distance (base 2, 0 … 1) between the two distributions. Classification compares
 * the shares of predicted labels; regression compares counts in the stable side's deciles (edges computed in SQL,
 * repeated edges merged), so both sides share the bins. Fewer than `minRows` rows on either side skips the comparison.
 */
import type { ArtifactStore } from '../artifacts';
import { readJson } from '../artifacts';
import { modelVersionFiles, predictionLogFolder } from '../artifacts/layout';
import type { PredictionComparison } from '../contracts/controller';
import type { ComparePredictionsInput } from '../contracts/rollout';
import { distanceNoise } from '../drift/presets';
import { chiSquareHomogeneity, jensenShannon } from '../drift/statistics';
import { mlopsError } from '../errors';
import type { PredictionChange } from '../evaluation/prediction-change';
import { logLayout, predictedLabel, predictedValue } from '../monitoring/log-columns';
import type { LogLayout } from '../monitoring/log-columns';
import type { LogWindow } from '../monitoring/prediction-window';
import { logPartsOf, windowRows, withLocalParts } from '../monitoring/prediction-window';
import type { ModelVersionRecord } from '../registry/model-registry';
import type { DuckDb } from '../warehouse/duckdb';
import { withDuckDb } from '../warehouse/duckdb';

/** The logged output's label (classification) and value (regression). */
const outputs = (layout: LogLayout, rows: string) =>
  `(SELECT ${predictedLabel(layout, 'r')} AS label, ${predictedValue(layout, 'r')} AS value FROM ${rows} AS r)`;

const deciles = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

export async function comparePredictions(
  store: ArtifactStore,
  input: ComparePredictionsInput,
  threads = 1,
): Promise<PredictionComparison> {
  const window = checkWindow(input);
  const parts = await logPartsOf(store, { ...window, version: input.stable });
  if (!parts?.length)
    return { stableRows: 0, canaryRows: 0, skipped: `model "${input.modelName}" has no prediction log in the window` };
  const comparison = await withLocalParts(store, parts, (files) =>
    withDuckDb(
      async (db) => {
        const layout = await logLayout(db, files, predictionLogFolder(store, input.modelName));
        const stable = outputs(layout, windowRows(files, { ...window, version: input.stable }));
        const canary = outputs(layout, windowRows(files, { ...window, version: input.canary }));
        return compare(db, stable, canary, input);
      },
      { threads },
    ),
  );
  const expected = comparison.distance === undefined ? undefined : await expectedChange(store, input);
  return expected ? { ...comparison, expected } : comparison;
}

/**
 * What the canary's evaluation measured against the stable version (`predictionChange`), when that version was the
 * champion it was gated against; undefined for a version registered without an evaluation, gated against another
 * champion or none, or evaluated before the change was kept.
 */
async function expectedChange(
  store: ArtifactStore,
  input: ComparePredictionsInput,
): Promise<PredictionComparison['expected']> {
  // A version missing from the registry has no evaluation to go by (the comparison itself still stands).
  const recordUri = modelVersionFiles(store, input.modelName, input.canary).record;
  if (!(await store.exists(recordUri))) return undefined;
  const record = await readJson<ModelVersionRecord>(store, recordUri);
  if (!record.evaluationUri || !(await store.exists(record.evaluationUri))) return undefined;
  const { predictionChange: change } = await readJson<{ predictionChange?: PredictionChange }>(
    store,
    record.evaluationUri,
  );
  // Written by the evaluation; a hand-edited file with a distance or row count that is not one is not gone by.
  if (change?.against !== input.stable || !Number.isFinite(change.distance) || !Number.isSafeInteger(change.rows))
    return undefined;
  return { distance: change.distance, rows: change.rows };
}

interface SideCounts {
  rows: number;
  labelled: number;
  valued: number;
}

async function compare(
  db: DuckDb,
  stable: string,
  canary: string,
  input: ComparePredictionsInput,
): Promise<PredictionComparison> {
  const [s, c] = await Promise.all([sideCounts(db, stable), sideCounts(db, canary)]);
  const base = { stableRows: s.rows, canaryRows: c.rows };
  const few = [
    s.rows < input.minRows ? `the stable version ${input.stable} has ${s.rows}` : '',
    c.rows < input.minRows ? `the canary ${input.canary} has ${c.rows}` : '',
  ].filter(Boolean);
  if (few.length)
    return { ...base, skipped: `${few.join(' and ')} logged predictions in the window, fewer than ${input.minRows}` };
  if (s.labelled === s.rows && c.labelled === c.rows)
    return { ...base, ...measured(await labelCounts(db, stable, canary), input.maxDistance) };
  if (s.valued === s.rows && c.valued === c.rows)
    return { ...base, ...measured(await binCounts(db, stable, canary), input.maxDistance) };
  return { ...base, skipped: 'the two versions do not log the same kind of prediction (labels or values)' };
}

/**
 * The distance, and with a limit the chance that noise alone reaches it (the base-2 limit d is a natural-log distance
 * of d·√ln 2) and the chi-square test of homogeneity that judges when that chance is too high.
 */
function measured([stable, canary]: [number[], number[]], maxDistance?: number) {
  const result = { distance: jensenShannon(stable, canary, 2).distance };
  if (maxDistance === undefined) return result;
  const buckets = stable.filter((n, i) => n + (canary[i] ?? 0) > 0).length;
  const rows = (side: number[]) => side.reduce((a, b) => a + b, 0);
  const noise = distanceNoise(
    { referenceRows: rows(stable), currentRows: rows(canary), buckets },
    maxDistance * Math.sqrt(Math.LN2),
  );
  return {
    ...result,
    buckets,
    pValue: chiSquareHomogeneity(stable, canary).pValue,
    distanceNoise: noise.falseAlarm,
  };
}

async function sideCounts(db: DuckDb, side: string): Promise<SideCounts> {
  const [row] = await db.query<{ rows: number; labelled: number; valued: number }>(
    `SELECT count(*) AS rows, count(label) AS labelled, count(value) AS valued FROM ${side}`,
  );
  return { rows: Number(row?.rows ?? 0), labelled: Number(row?.labelled ?? 0), valued: Number(row?.valued ?? 0) };
}

/** Counts per predicted label on each side, over the union of labels. */
async function labelCounts(db: DuckDb, stable: string, canary: string): Promise<[number[], number[]]> {
  const rows = await db.query<{ label: string; s: number; c: number }>(
    `SELECT label, sum(side = 's')::BIGINT AS s, sum(side = 'c')::BIGINT AS c FROM (SELECT label, 's' AS side FROM ${stable} UNION ALL SELECT label, 'c' AS side FROM ${canary}) GROUP BY label ORDER BY label`,
  );
  return [rows.map((r) => Number(r.s)), rows.map((r) => Number(r.c))];
}

/** Counts per decile bin of the stable side's values; bin k holds values above k of the (distinct) edges. */
async function binCounts(db: DuckDb, stable: string, canary: string): Promise<[number[], number[]]> {
  const [row] = await db.query<{ edges: number[] }>(
    `SELECT list_distinct(quantile_cont(value, [${deciles.join(', ')}])) AS edges FROM ${stable}`,
  );
  const edges = [...(row?.edges ?? [])].map(Number).sort((a, b) => a - b);
  const bin = edges.length ? edges.map((e) => `(value > ${e.toPrecision(17)})::INT`).join(' + ') : '0';
  const rows = await db.query<{ bin: number; s: number; c: number }>(
    `SELECT ${bin} AS bin, sum(side = 's')::BIGINT AS s, sum(side = 'c')::BIGINT AS c FROM (SELECT value, 's' AS side FROM ${stable} UNION ALL SELECT value, 'c' AS side FROM ${canary}) GROUP BY bin ORDER BY bin`,
  );
  return [rows.map((r) => Number(r.s)), rows.map((r) => Number(r.c))];
}

function checkWindow(input: ComparePredictionsInput): Omit<LogWindow, 'version'> {
  const since = Date.parse(input.since);
  const until = Date.parse(input.until);
  const problems = [
    Number.isNaN(since) ? `since "${input.since}" is not an ISO time` : '',
    Number.isNaN(until) ? `until "${input.until}" is not an ISO time` : '',
    since >= until ? `since ${input.since} is not before until ${input.until}` : '',
    Number.isSafeInteger(input.stable) && Number.isSafeInteger(input.canary)
      ? ''
      : 'stable and canary must be versions',
    input.stable === input.canary ? `stable and canary are the same version ${input.stable}` : '',
    Number.isSafeInteger(input.minRows) && input.minRows >= 1 ? '' : `minRows must be 1 or more, got ${input.minRows}`,
  ].filter(Boolean);
  if (problems.length)
    throw mlopsError('MLOPS_ERR_ROLLOUT_INPUT_INVALID', { model: input.modelName, problems: problems.join('; ') });
  return {
    modelName: input.modelName,
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
  };
}
