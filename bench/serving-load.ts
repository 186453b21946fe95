/**
 * The load generator of the serving benchmark, in its own process: `connections` keep-alive connections each send one
 * request after another for `seconds`, after a warm-up of one second; prints `{"phase":"measuring"}` when the warm-up
 * ends, then one JSON line {requests, errors, rps, p50Ms, p99Ms, generatorCpu}.
 *
 *   npx tsx bench/serving-load.ts <url> <body.json> <connections> <seconds>
 */
import fs from 'node:fs';
import http from 'node:http';

const [url, bodyFile, connections = '16', seconds = '5'] = process.argv.slice(2);
const body = fs.readFileSync(bodyFile!);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connections) });
const target = new URL(url!);

function once(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function run(ms: number, record: boolean) {
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: Number(connections) }, async () => {
      while (Date.now() < end) {
        const t = process.hrtime.bigint();
        const status = await once().catch(() => 0);
        if (status !== 200) errors++;
        if (record) latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  return { latencies, errors };
}

async function main() {
  await run(1000, false);
  // Marks the start of the measured window (the driver reads the server's CPU time here and at the result line).
  console.log(JSON.stringify({ phase: 'measuring' }));
  const cpu = process.cpuUsage();
  const { latencies, errors } = await run(Number(seconds) * 1000, true);
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  console.log(
    JSON.stringify({
      requests: latencies.length,
      errors,
      rps: latencies.length / Number(seconds),
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      // Share of one core the generator itself used: near 1, it (not the server) may be the limit.
      generatorCpu: (used.user + used.system) / 1e6 / Number(seconds),
    }),
  );
  agent.destroy();
}

void main();
