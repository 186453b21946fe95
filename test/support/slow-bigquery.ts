import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Holds the requests that reach it until opened; `reached` resolves when the first one arrives. */
export interface Gate {
  reached: Promise<void>;
  open: () => void;
  wait: () => Promise<void>;
}

export function gate(): Gate {
  let arrived!: () => void;
  let opened!: () => void;
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  const open = new Promise<void>((resolve) => (opened = resolve));
  return {
    reached,
    open: opened,
    wait: () => {
      arrived();
      return open;
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
  close: () => Promise<void>;
}

/**
 * BigQuery's timing in front of goccy/bigquery-emulator, at the protocol level. The emulator runs each query to its end
 * before it answers `jobs.query`; BigQuery answers a query that outlasts the request's `timeoutMs` with the job's
 * reference and `jobComplete: false`, and the client then waits with `jobs.getQueryResults`. This proxy forwards every
 * request unchanged and records it; `jobs.query` answers come back as BigQuery's for such a long query (the emulator's
 * job reference, the rows left to `jobs.getQueryResults`, which it forwards). `query` holds the `jobs.query` requests
 * and `poll` the `jobs.getQueryResults` ones until the test opens them.
 */
export async function startSlowBigQuery(
  target: string,
  gates: { query?: Gate; poll?: Gate } = {},
): Promise<SlowBigQuery> {
  const calls: ProxiedCall[] = [];
  const queryJobs: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url!, 'http://proxy').pathname;
      const isQuery = req.method === 'POST' && /\/projects\/[^/]+\/queries$/.test(path);
      const isPoll = req.method === 'GET' && /\/projects\/[^/]+\/queries\/[^/]+$/.test(path);
      const held = (isQuery && gates.query?.wait()) || (isPoll && gates.poll?.wait()) || Promise.resolve();
      void held
        .then(() => forward(target, req, Buffer.concat(chunks)))
        .then(({ status, headers, body }) => {
          if (isQuery && status === 200) {
            const answer = JSON.parse(body.toString('utf8')) as { kind?: string; jobReference: { jobId: string } };
            queryJobs.push(answer.jobReference.jobId);
            const running = { kind: answer.kind, jobReference: answer.jobReference, jobComplete: false };
            body = Buffer.from(JSON.stringify(running));
            headers['content-length'] = String(body.length);
          }
          calls.push({ method: req.method!, path, status });
          res.writeHead(status, headers).end(body);
        })
        .catch((err: Error) => res.writeHead(502).end(err.message));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    queryJobs,
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
