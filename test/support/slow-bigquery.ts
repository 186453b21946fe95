import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Holds the requests it matches (by the SQL of their query) until they are let through; `reached` resolves once
 * `count` of them are held at the same time.
 */
export interface Gate {
  reached: Promise<void>;
  /** Lets every held and every later request through. */
  open: () => void;
  /** Lets the earliest held request through. */
  openOne: () => void;
  /** The proxy's side: resolves when the request may go on (at once for a request the gate does not match). */
  pass: (sql: string) => Promise<void>;
}

export function gate(count = 1, matches: (sql: string) => boolean = () => true): Gate {
  let arrived!: () => void;
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  const held: (() => void)[] = [];
  let opened = false;
  return {
    reached,
    open: () => {
      opened = true;
      held.splice(0).forEach((release) => release());
    },
    openOne: () => held.shift()?.(),
    pass: (sql) => {
      if (opened || !matches(sql)) return Promise.resolve();
      return new Promise<void>((resolve) => {
        held.push(resolve);
        if (held.length >= count) arrived();
      });
    },
  };
}

export interface ProxiedCall {
  method: string;
  /** The request path without its query string, e.g. `/bigquery/v2/projects/test/jobs/abc/cancel`. */
  path: string;
  status: number;
}

export interface SlowBigQuery {
  url: string;
  /** Every answered request, in the order the answers were given. */
  calls: ProxiedCall[];
  /** The ids of the jobs that `jobs.query` answers named, in order. */
  queryJobs: string[];
  /** Resolves with the first answered call that `matches`, recorded already or to come. */
  answered: (matches: (call: ProxiedCall) => boolean) => Promise<ProxiedCall>;
  close: () => Promise<void>;
}

/**
 * BigQuery's timing in front of goccy/bigquery-emulator, at the protocol level. The emulator runs each query to its end
 * before it answers `jobs.query`; BigQuery answers a query that outlasts the request's `timeoutMs` with the job's
 * reference and `jobComplete: false`, and the client then waits with `jobs.getQueryResults`. This proxy forwards every
 * request unchanged and records it; `jobs.query` answers come back as BigQuery's for such a long query (the emulator's
 * job reference, the rows left to `jobs.getQueryResults`, which it forwards). `query` holds the `jobs.query` requests
 * and `poll` the `jobs.getQueryResults` ones (and `insert` the streaming inserts) until the test opens them; `refuse` answers the requests it matches with
 * a 400, as BigQuery refuses a request it cannot take, without forwarding them.
 */
export async function startSlowBigQuery(
  target: string,
  gates: {
    query?: Gate;
    poll?: Gate;
    /** Holds the `insertAll` (streaming insert) requests; the gate sees each request's body. */
    insert?: Gate;
    refuse?: (call: { method: string; path: string; body: string }) => boolean;
  } = {},
): Promise<SlowBigQuery> {
  const calls: ProxiedCall[] = [];
  const queryJobs: string[] = [];
  /** The SQL of each job `jobs.query` named, so the gates can match its polls. */
  const sqlOf = new Map<string, string>();
  const waiting: { matches: (call: ProxiedCall) => boolean; resolve: (call: ProxiedCall) => void }[] = [];
  const record = (call: ProxiedCall) => {
    calls.push(call);
    for (const w of waiting.filter((x) => x.matches(call))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(call);
    }
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url!, 'http://proxy').pathname;
      const body = Buffer.concat(chunks);
      if (gates.refuse?.({ method: req.method!, path, body: body.toString('utf8') })) {
        // Refused as BigQuery refuses a request it cannot take, without reaching the emulator.
        record({ method: req.method!, path, status: 400 });
        const error = { error: { code: 400, message: 'refused by the test proxy', errors: [{ reason: 'invalid' }] } };
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify(error));
        return;
      }
      const isQuery = req.method === 'POST' && /\/projects\/[^/]+\/queries$/.test(path);
      const polled = req.method === 'GET' ? /\/projects\/[^/]+\/queries\/([^/]+)$/.exec(path)?.[1] : undefined;
      const sql = isQuery ? (JSON.parse(body.toString('utf8')) as { query: string }).query : sqlOf.get(polled ?? '');
      const isInsert = req.method === 'POST' && path.endsWith('/insertAll');
      const held =
        (isQuery && gates.query?.pass(sql!)) ||
        (polled && gates.poll?.pass(sql ?? '')) ||
        (isInsert && gates.insert?.pass(body.toString('utf8'))) ||
        Promise.resolve();
      void held
        .then(() => forward(target, req, body))
        .then(({ status, headers, body: answerBody }) => {
          if (isQuery && status === 200) {
            const answer = JSON.parse(answerBody.toString('utf8')) as {
              kind?: string;
              jobReference: { jobId: string };
            };
            queryJobs.push(answer.jobReference.jobId);
            sqlOf.set(answer.jobReference.jobId, sql!);
            const running = { kind: answer.kind, jobReference: answer.jobReference, jobComplete: false };
            answerBody = Buffer.from(JSON.stringify(running));
            headers['content-length'] = String(answerBody.length);
          }
          record({ method: req.method!, path, status });
          res.writeHead(status, headers).end(answerBody);
        })
        .catch((err: Error) => res.writeHead(502).end(err.message));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    queryJobs,
    answered: (matches) => {
      const done = calls.find(matches);
      if (done) return Promise.resolve(done);
      return new Promise((resolve) => waiting.push({ matches, resolve }));
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function forward(
  target: string,
  req: http.IncomingMessage,
  body: Buffer,
): Promise<{ status: number; headers: http.OutgoingHttpHeaders; body: Buffer }> {
  const url = new URL(req.url!, target);
  // Plain answers, so a jobs.query answer can be read; the proxy sets the length of what it sends itself.
  const headers = { ...req.headers, host: url.host, 'accept-encoding': 'identity' };
  return new Promise((resolve, reject) => {
    const out = http.request(url, { method: req.method, headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const data = Buffer.concat(chunks);
        const headers: http.OutgoingHttpHeaders = { ...answer.headers, 'content-length': String(data.length) };
        delete headers['transfer-encoding'];
        resolve({ status: answer.statusCode!, headers, body: data });
      });
      answer.on('error', reject);
    });
    out.on('error', reject);
    out.end(body);
  });
}
