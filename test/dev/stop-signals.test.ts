import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { forcedStopExitCode } from '../../src/dev/stop-signals';
import { freePort } from '../../src/dev/temporal-server';
import { repoRoot, stack, tempDir } from '../support/stack';

/** A TypeScript program of this repository as a process of its own, with its output read line by line. */
function run(file: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(repoRoot, file)], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: { pattern: RegExp; resolve: (match: RegExpMatchArray) => void }[] = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      const match = output.match(waiter.pattern);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout.on('data', (chunk: Buffer) => ((output += chunk.toString('utf8')), check()));
  child.stderr.on('data', (chunk: Buffer) => ((output += chunk.toString('utf8')), check()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  /** Resolves when the output so far matches; fails if the program exits first. */
  const seen = (pattern: RegExp) =>
    Promise.race([
      new Promise<RegExpMatchArray>((resolve) => (waiters.push({ pattern, resolve }), check())),
      exited.then((end) => assert.fail(`exited (${JSON.stringify(end)}) before printing ${pattern}:\n${output}`)),
    ]);
  return { child, seen, exited, output: () => output };
}

/** Whether the process runs (a zombie whose parent has not reaped it yet does not). */
function alive(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

describe('stopping the local stack on Ctrl-C', function () {
  it('goes on with a clean stop when a second signal comes during it, and says so', async function () {
    const program = run('test/support/stop-signals-child.ts');
    const server = Number((await program.seen(/server (\d+)/))[1]);
    program.child.kill('SIGINT');
    await program.seen(/Stopping \(SIGINT\)/);
    // pkill -f reaches a script run by tsx twice, and people press Ctrl-C again.
    program.child.kill('SIGINT');
    await program.seen(/Still stopping \(SIGINT\); send it once more to stop at once/);
    program.child.stdin.end('finish\n');
    assert.deepEqual(await program.exited, { code: 0, signal: null }, program.output());
    assert.match(program.output(), /stopped cleanly/);
    assert.equal(alive(server), false, 'the supervised server is stopped');
  });

  it('stops at once on a third signal, taking its servers down with it', async function () {
    const program = run('test/support/stop-signals-child.ts');
    const server = Number((await program.seen(/server (\d+)/))[1]);
    program.child.kill('SIGTERM');
    await program.seen(/Stopping \(SIGTERM\)/);
    program.child.kill('SIGINT');
    await program.seen(/Still stopping/);
    program.child.kill('SIGINT');
    assert.deepEqual(await program.exited, { code: forcedStopExitCode, signal: null }, program.output());
    assert.doesNotMatch(program.output(), /stopped cleanly/);
    assert.match(program.output(), /Stopping at once \(SIGINT\)/);
    assert.equal(alive(server), false, 'no server is left running');
  });

  it('npm run temporal:server: Ctrl-C stops the dev server and frees its port and its state folder', async function () {
    const stateDir = tempDir('temporal-server-script');
    const port = await freePort();
    const program = run('scripts/temporal-server.ts', {
      MLOPS_STATE_DIR: stateDir,
      MLOPS_DEV_SERVER_PORT: String(port),
      MLOPS_DEV_UI_PORT: String(await freePort()),
      TEMPORAL_CLI_PATH: stack().cliPath,
    });
    await program.seen(/Press Ctrl-C to stop/);
    const lockFile = path.join(stateDir, 'temporal', 'temporal.lock');
    const { pid } = JSON.parse(fs.readFileSync(lockFile, 'utf8')) as { pid: number };
    program.child.kill('SIGINT');
    program.child.kill('SIGINT');
    assert.deepEqual(await program.exited, { code: 0, signal: null }, program.output());
    assert.equal(alive(pid), false, 'the dev server is stopped');
    assert.equal(fs.existsSync(lockFile), false, 'the state folder is released');
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(false)));
      socket.once('error', () => resolve(true));
    });
    assert.ok(refused, `nothing listens on ${port}`);
  });
});
