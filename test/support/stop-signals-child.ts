/**
 * A program shaped like `npm run demo`'s shutdown, for test/dev/stop-signals.test.ts: it supervises a server process
 * (`sleep`), waits for a stop signal, and then takes as long to stop as the test says (it stops the server when a line
 * arrives on stdin), so the test can send more signals while the stop is under way.
 */
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { superviseChild } from '../../src/dev/child-process';
import { watchStopSignals } from '../../src/dev/stop-signals';

async function main(): Promise<void> {
  // The window within which a repeated signal is one press: the tests send each signal as a separate press.
  const signals = watchStopSignals((line) => console.log(line.trim()), Number(process.argv[2] ?? 500));
  const server = spawn('sleep', ['600'], { stdio: 'ignore' });
  const stopServer = superviseChild(server);
  console.log(`server ${server.pid}`);
  await signals.requested;
  const lines = readline.createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.close();
  await stopServer();
  console.log('stopped cleanly');
  signals.dispose();
}

void main();
