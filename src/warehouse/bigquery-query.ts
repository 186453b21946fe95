/**
 * A BigQuery query that a cancelled step cancels. The query runs through `jobs.query`, asked to answer within
 * {@link firstAnswerMs}: with the rows when the query is done by then, otherwise with the reference of the job that
 * goes on running, which is then awaited with `jobs.getQueryResults`. The reference is what `jobs.cancel` needs, so a
 * step cancelled while its query runs cancels that job (BigQuery stops it and stops billing), then ends.
 */
import { randomUUID } from 'node:crypto';
import type { Job, TableRow, TableSchema } from '@google-cloud/bigquery';
import { BigQuery } from '@google-cloud/bigquery';
import { abortable, stepSignal } from '../step-context';
import type { Row } from './duckdb';

/**
 * How long `jobs.query` waits for the query before answering with the job's reference only. A cancel that comes
 * before this first answer waits for it: short, so the job's id is soon known; a longer query costs one poll more.
 */
const firstAnswerMs = 2_000;
/** How long one `jobs.getQueryResults` call waits server-side for a running query before answering "not yet". */
const pollWaitMs = 10_000;
/** A cancelled step waits this long at most for its jobs' cancel requests, then ends anyway. */
const cancelWaitMs = 15_000;

interface QueryAnswer {
  jobReference?: { projectId?: string; jobId?: string; location?: string };
  jobComplete?: boolean;
  schema?: TableSchema;
  rows?: TableRow[];
  pageToken?: string;
}

/** Runs `query` and returns its rows, parsed as the client's `query()` parses them. */
export async function runQuery(client: BigQuery, query: string, location: string | undefined): Promise<Row[]> {
  const signal = stepSignal();
  signal?.throwIfAborted();
  const first = call(client, {
    method: 'POST',
    uri: '/queries',
    json: {
      query,
      useLegacySql: false,
      location,
      timeoutMs: firstAnswerMs,
      formatOptions: { useInt64Timestamp: true },
      // BigQuery's idempotency key for the request, as the client's own query() sends it.
      requestId: randomUUID(),
    },
  });
  try {
    return await abortable(results(client, first));
  } catch (err) {
    if (signal?.aborted) await within(cancelWaitMs, cancelUnfinished(client, first));
    throw err;
  }
}

async function results(client: BigQuery, first: Promise<QueryAnswer>): Promise<Row[]> {
  let answer = await first;
  const ref = answer.jobReference;
  const jobId = () => {
    if (!ref?.jobId) throw new Error('BigQuery answered a query without its job reference');
    return ref.jobId;
  };
  while (!answer.jobComplete) {
    stepSignal()?.throwIfAborted();
    answer = await call(client, {
      uri: `/queries/${encodeURIComponent(jobId())}`,
      qs: { location: ref?.location, timeoutMs: pollWaitMs, 'formatOptions.useInt64Timestamp': true },
    });
  }
  const rows = parseRows(answer);
  if (!answer.pageToken) return rows;
  // A result larger than one page (about 10 MB): the client pages through the rest.
  const [rest] = await client.job(jobId(), { location: ref?.location }).getQueryResults({
    pageToken: answer.pageToken,
  });
  return [...rows, ...(rest as Row[])];
}

function parseRows(answer: QueryAnswer): Row[] {
  if (!answer.schema || !answer.rows) return [];
  return BigQuery.mergeSchemaWithRows_(answer.schema, answer.rows, {
    wrapIntegers: false,
    listParams: { 'formatOptions.useInt64Timestamp': true },
  }) as Row[];
}

/**
 * Cancels the query's job unless its first answer said it was done: once the first answer is in, since the job's id
 * comes with it. Best effort: a job that cannot be cancelled (the API unreachable) runs to its end on its own.
 */
async function cancelUnfinished(client: BigQuery, first: Promise<QueryAnswer>): Promise<void> {
  const answer = await first.catch(() => undefined);
  const ref = answer?.jobReference;
  if (!ref?.jobId || answer?.jobComplete) return;
  await client
    .job(ref.jobId, { location: ref.location })
    .cancel()
    .catch(() => undefined);
}

/**
 * Cancels a query job whose id is known (a BigQuery export's), best effort, and resolves once BigQuery has answered the
 * cancel request or after {@link cancelWaitMs}.
 */
export function cancelJob(job: Job): Promise<void> {
  return within(
    cancelWaitMs,
    job.cancel().then(
      () => undefined,
      () => undefined,
    ),
  );
}

function call(client: BigQuery, request: Parameters<BigQuery['request']>[0]): Promise<QueryAnswer> {
  return new Promise((resolve, reject) =>
    client.request(request, (err, body) => (err ? reject(err) : resolve(body as QueryAnswer))),
  );
}

async function within(ms: number, work: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([work, late]).finally(() => clearTimeout(timer));
}
