import assert from 'node:assert/strict';
import fs from 'node:fs';
import { forcedStopExitCode, pressCounter } from '../../src/dev/stop-signals';
import { alive, portRefused, run, startTemporalServerScript } from './programs';

describe('stopping the local stack on Ctrl-C', function () {
  it('counts one Ctrl-C delivered twice (directly and relayed by tsx) as one press', function () {
    let clock = 0;
    const count = pressCounter(500, () => clock);
    assert.deepEqual(count('SIGINT'), { presses: 1, repeated: false });
    clock = 30; // the relayed copy
    assert.deepEqual(count('SIGINT'), { presses: 1, repeated: true });
    clock = 40; // another signal is another press
    assert.deepEqual(count('SIGTERM'), { presses: 2, repeated: false });
    clock = 2_000; // pressed again
    assert.deepEqual(count('SIGTERM'), { presses: 3, repeated: false });
  });

  it('goes on with a clean stop when a second signal comes during it, and says so', async function () {
    const program = run('test/support/stop-signals-child.ts', {}, ['0']);
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
    const program = run('test/support/stop-signals-child.ts', {}, ['0']);
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
    const { program, port, lockFile, pid } = await startTemporalServerScript('temporal-server-script');
    program.child.kill('SIGINT');
    program.child.kill('SIGINT');
    assert.deepEqual(await program.exited, { code: 0, signal: null }, program.output());
    assert.equal(alive(pid), false, 'the dev server is stopped');
    assert.equal(fs.existsSync(lockFile), false, 'the state folder is released');
    assert.ok(await portRefused(port), `nothing listens on ${port}`);
  });
});
