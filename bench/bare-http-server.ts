/**
 * The ceiling reference of the serving benchmark: `node:http` that reads each request body, parses it as JSON and
 * answers a fixed body (the model server's answer to the benchmark's payload, given as a file): the work every HTTP
 * JSON server does, with no validation, model or log. With a second argument N > 1 it runs N such processes on the
 * port (Node `cluster`), as the model server's multi-core mode does.
 *
 *   npx tsx bench/bare-http-server.ts <port> <answer.json> [processes]
 */
import cluster from 'node:cluster';
import fs from 'node:fs';
import http from 'node:http';

const [port, answerFile, processes = '1'] = process.argv.slice(2);

if (Number(processes) > 1 && cluster.isPrimary) {
  for (let i = 0; i < Number(processes); i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const answer = fs.readFileSync(answerFile!);
  const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': answer.length };
  http
    .createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.url === '/readyz') {
          res.end('{"ready":true}');
          return;
        }
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, headers);
        res.end(answer);
      });
    })
    .listen(Number(port), '127.0.0.1');
}
