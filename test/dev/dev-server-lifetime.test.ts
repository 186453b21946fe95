import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { freePort, startDevServer } from '../../src/dev/temporal-server';
import { stack, tempDir } from '../support/stack';
import { alive, portRefused, readLock, run, startTemporalServerScript } from './programs';

/** `npm run temporal:server` on its own state folder and ports, its processes killed after the test if still running. */
async function temporalServerScript(prefix: string) {
  const script = await startTemporalServerScript(prefix);
  started.push(script.program.child.pid!, script.pid);
  return script;
}

/** Processes a test started, killed after it if still running: a test that fails (or times out) leaves none behind. */
const started: number[] = [];

describe('the dev server lives and dies with the process that started it', function () {
  afterEach(function () {
    for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('npm run temporal:server killed with SIGKILL takes its dev server down, so a start at once gets the port and state folder', async function () {
    const { program, port, serverDir, pid } = await temporalServerScript('owner-killed');
    program.child.kill('SIGKILL');
    assert.deepEqual(await program.exited, { code: null, signal: 'SIGKILL' });
    // Started at once, as a person or a supervisor would.
    const next = await startDevServer({ cliPath: stack().cliPath, stateDir: serverDir, port, uiPort: false });
    try {
      assert.equal(alive(pid), false, "the killed owner's dev server is gone");
      assert.equal(next.address, `127.0.0.1:${port}`);
    } finally {
      await next.stop();
    }
  });

  it('refuses a state folder held by a dev server whose owner is gone, with the command that kills it', async function () {
    const stateDir = tempDir('orphan');
    const owner = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await once(owner, 'exit');
    // Stands for a dev server left running (its guard gone too): a live process the lock names.
    const orphan = spawn('sleep', ['600'], { stdio: 'ignore' });
    started.push(orphan.pid!);
    const lock = { pid: orphan.pid, owner: owner.pid, address: '127.0.0.1:1' };
    fs.writeFileSync(path.join(stateDir, 'temporal.lock'), JSON.stringify(lock));
    await assert.rejects(
      startDevServer({ cliPath: stack().cliPath, stateDir, port: 0, uiPort: false }),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'MLOPS_ERR_DEV_SERVER_ORPHANED' &&
        err.nonRetryable &&
        err.message.includes(`the process that started it (${owner.pid}) is gone`) &&
        err.message.includes(`Stop it with kill ${orphan.pid}, then start again`),
    );
    assert.equal(alive(orphan.pid!), true, 'the refusal kills nothing');
  });

  it('npm run temporal:server exits with status 1 and says so when its dev server is killed', async function () {
    const { program, port, serverDir, lockFile, pid } = await temporalServerScript('server-killed');
    process.kill(pid, 'SIGKILL');
    assert.deepEqual(await program.exited, { code: 1, signal: null }, program.output());
    const logFile = path.join(serverDir, 'temporal-server.log');
    assert.ok(
      program
        .output()
        .includes(
          `MLOPS_ERR_DEV_SERVER_EXITED: The Temporal dev server (process ${pid}, 127.0.0.1:${port}) exited unexpectedly (SIGKILL); its log: ${logFile}`,
        ),
      program.output(),
    );
    assert.equal(fs.existsSync(lockFile), false, 'the state folder is released');
    assert.ok(await portRefused(port), `nothing listens on ${port}`);
  });

  it('npm run demo -- --keep stops its model server (writing its prediction log) and workers, and exits with status 1, when its dev server is killed', async function () {
    const stateDir = tempDir('demo-server-killed');
    const port = await freePort();
    const env = {
      MLOPS_STATE_DIR: stateDir,
      MLOPS_DEV_SERVER_PORT: String(port),
      MLOPS_DEV_UI_PORT: String(await freePort()),
      MLOPS_SERVE_PORT: String(await freePort()),
      // Only the model server's close writes the prediction log.
      MLOPS_SERVE_LOG_FLUSH_MS: '3600000',
      TEMPORAL_CLI_PATH: stack().cliPath,
    };
    const program = run('scripts/demo.ts', env, ['--keep', '--epochs', '1']);
    started.push(program.child.pid!);
    await program.seen(/The stack stays up \(--keep\)/);
    // The printed curl line runs as printed: its request file is there, and the server answers it.
    const [, url, requestFile] = /Predict: +curl -s (\S+) .* -d @(\S+)/.exec(program.output())!;
    const answer = await fetch(url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: fs.readFileSync(requestFile!),
    });
    assert.equal(answer.status, 200, await answer.clone().text());
    assert.equal(((await answer.json()) as { predictions: unknown[] }).predictions.length, 3);
    const { pid } = readLock(path.join(stateDir, 'temporal', 'temporal.lock'));
    started.push(pid);
    process.kill(pid, 'SIGKILL');
    assert.deepEqual(await program.exited, { code: 1, signal: null }, program.output());
    assert.match(program.output(), /Stopped the model server and the workers \(the dev server had exited\)/);
    const message = `MLOPS_ERR_DEV_SERVER_EXITED: The Temporal dev server (process ${pid}, 127.0.0.1:${port}) exited unexpectedly (SIGKILL)`;
    assert.ok(program.output().includes(message), program.output());
    const predictions = path.join(stateDir, 'artifacts', 'predictions', 'churn');
    const logged = fs.readdirSync(predictions, { recursive: true }).filter((f) => String(f).endsWith('.parquet'));
    assert.ok(logged.length > 0, `the prediction log was written to ${predictions}`);
  });
});
