// Runs a server for an owner process and stops it when the owner goes, however it goes (src/dev/child-process.ts).
// Plain Node, so it starts in milliseconds without a TypeScript loader.
//
//   node server-guard.cjs <grace ms> <lock file or ""> <command> [args...]
//
// stdin is the lifeline, a pipe from the owner: the kernel closes it when the owner dies, even by SIGKILL, which no
// handler of the owner's survives. End of stdin, SIGTERM, SIGINT or SIGHUP stop the server: SIGTERM (so the Temporal
// dev server flushes its SQLite state), SIGKILL after the grace period. stdout reports to the owner, one JSON object a
// line: {"pid":N} once the server runs, {"exit":{"code":C,"signal":S}} when it has ended. The server writes to the
// guard's stderr (the owner points it at the server's log). Once the server has exited, the lock file (if given) is
// removed when it still names the server, and the guard exits with the server's status (128 + signal number for a
// signal, as a shell reports it).
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');

const [graceMs, lockFile, command, ...args] = process.argv.slice(2);
const report = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
// The owner may be gone: a report nobody reads must not kill the guard before its server.
process.stdout.on('error', () => undefined);

const server = spawn(command, args, { stdio: ['ignore', 2, 2] });
let stopping = false;

function stop() {
  if (stopping || server.exitCode !== null || server.signalCode !== null) return;
  stopping = true;
  server.kill('SIGTERM');
  setTimeout(() => server.kill('SIGKILL'), Number(graceMs)).unref();
}

function releaseLock() {
  if (!lockFile) return;
  try {
    if (JSON.parse(fs.readFileSync(lockFile, 'utf8')).pid === server.pid) fs.rmSync(lockFile, { force: true });
  } catch {
    // none, or another server's: not ours to remove
  }
}

server.once('spawn', () => report({ pid: server.pid }));
server.once('error', (err) => {
  process.stderr.write(`server guard: cannot run ${command}: ${err.message}\n`);
  report({ exit: { code: null, signal: null, error: err.message } });
  process.exit(1);
});
server.once('exit', (code, signal) => {
  releaseLock();
  // Exit once the report is written (or failed to be: the owner may be gone).
  const status = code ?? 128 + (os.constants.signals[signal] ?? 0);
  process.stdout.write(`${JSON.stringify({ exit: { code, signal } })}\n`, () => process.exit(status));
});
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, stop);
process.stdin.on('error', stop);
process.stdin.on('close', stop);
process.stdin.resume();
