/**
 * The load generator of the serving benchmark, in its own process: `connections` keep-alive connections each send one
 * request after another for `seconds`, after a warm-up (default 3 s: a server in its multi-core mode needs more than
 * 1 s, its processes each compiling their hot code on half the traffic); prints `{"phase":"measuring"}` when the warm-up
 * ends, then one JSON line {requests, errors, rps, p50Ms, p99Ms, generatorCpu}.
 *
 * It speaks HTTP/1.1 on plain sockets, as wrk does: the request's bytes are made once, and an answer is read only as far
 * as its status line and Content-Length. Node's own HTTP client cost about 20 µs of CPU per request here, a core at
 * 45k requests/s, taken from the server under test on a two-vCPU machine; this costs a fraction of that.
 * Connections are opened one after another, each after the previous one sent its first request, so that a server whose
 * processes race to accept (uvicorn's workers) spreads them as it would under real traffic.
 *
 *   npx tsx bench/serving-load.ts <url> <body.json> <connections> <seconds> [<warm-up seconds, default 3>]
 */
import fs from 'node:fs';
import net from 'node:net';

const [url, bodyFile, connections = '16', seconds = '5', warmup = '3'] = process.argv.slice(2);
const target = new URL(url!);
const body = fs.readFileSync(bodyFile!);
const request = Buffer.concat([
  Buffer.from(
    `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n`,
    'latin1',
  ),
  body,
]);
const headerEnd = Buffer.from('\r\n\r\n');

interface Tally {
  latencies: number[];
  /** Requests answered with a status other than 200, or cut off by the connection closing. */
  errors: number;
  /** Connections opened again after one closed or could not be opened. */
  reconnects: number;
  record: boolean;
  until: number;
}

/**
 * One connection's loop: send, read one whole answer, send again until `tally.until`. Resolves when it stops. A
 * connection that closes is opened again (a request it cut off counts an error); one that could not be opened is
 * tried again after a pause that doubles up to 200 ms, so a server that is down is not flooded with connects.
 */
function connection(tally: Tally, opened: () => void): Promise<void> {
  return new Promise((resolve) => {
    let socket: net.Socket;
    let pending: Buffer | null = null;
    let need = -1; // bytes of the whole answer once its header is read
    let status = 0;
    let sentAt = 0n;
    let inFlight = false;
    let connected = false;
    let pause = 10;
    let first = true;
    // The next connection opens after this one's first request, or once this one stops without sending any.
    const started = () => {
      if (first) opened();
      first = false;
    };
    const stop = () => {
      started();
      resolve();
    };
    const send = () => {
      if (Date.now() >= tally.until) {
        socket.destroy();
        stop();
        return;
      }
      sentAt = process.hrtime.bigint();
      inFlight = true;
      socket.write(request);
      started();
    };
    const answered = () => {
      inFlight = false;
      if (status !== 200) tally.errors++;
      if (tally.record) tally.latencies.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
      send();
    };
    const open = () => {
      pending = null;
      need = -1;
      connected = false;
      socket = net.connect({ host: target.hostname, port: Number(target.port), noDelay: true }, () => {
        connected = true;
        pause = 10;
        send();
      });
      socket.on('data', (chunk: Buffer) => {
        pending = pending ? Buffer.concat([pending, chunk]) : chunk;
        while (pending) {
          if (need < 0) {
            const end = pending.indexOf(headerEnd);
            if (end < 0) return;
            const head = pending.toString('latin1', 0, end);
            const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
            if (!length) throw new Error(`an answer without Content-Length (this generator reads no other): ${head}`);
            status = Number(head.slice(9, 12));
            need = end + 4 + Number(length[1]);
          }
          if (pending.length < need) return;
          pending = pending.length === need ? null : pending.subarray(need);
          need = -1;
          answered();
        }
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (inFlight) tally.errors++;
        inFlight = false;
        if (Date.now() >= tally.until) return stop();
        tally.reconnects++;
        if (connected) return open();
        setTimeout(open, Math.min(pause, Math.max(0, tally.until - Date.now())));
        pause = Math.min(200, pause * 2);
      });
    };
    open();
  });
}

async function run(ms: number, record: boolean): Promise<Tally> {
  const tally: Tally = { latencies: [], errors: 0, reconnects: 0, record, until: Date.now() + ms };
  const loops: Promise<void>[] = [];
  // Each connection opens once the one before it has sent its first request.
  await new Array(Number(connections)).fill(0).reduce<Promise<void>>(
    (previous) =>
      previous.then(
        () =>
          new Promise<void>((opened) => {
            loops.push(connection(tally, opened));
          }),
      ),
    Promise.resolve(),
  );
  await Promise.all(loops);
  return tally;
}

async function main() {
  await run(Number(warmup) * 1000, false);
  // Marks the start of the measured window (the driver reads the server's CPU time here and at the result line).
  console.log(JSON.stringify({ phase: 'measuring' }));
  const cpu = process.cpuUsage();
  const { latencies, errors, reconnects } = await run(Number(seconds) * 1000, true);
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  console.log(
    JSON.stringify({
      requests: latencies.length,
      errors,
      reconnects,
      rps: latencies.length / Number(seconds),
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      // Share of one core the generator itself used: near 1, it (not the server) may be the limit.
      generatorCpu: (used.user + used.system) / 1e6 / Number(seconds),
    }),
  );
}

void main();
