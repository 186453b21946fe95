/**
 * A worker stand-in that runs one trainer and is then killed with SIGKILL, as a crashed worker is:
 * `node --import tsx test/support/trainer-owner-child.ts <python> <trainer script> <output folder> <mode>`. It prints
 * `trainer <pid>` once the trainer has sent its first event.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runTrainer } from '../../src/trainers/trainer-process';

async function main([python, script, outputDir, mode]: string[]): Promise<void> {
  let announced = false;
  await runTrainer(
    [python!, script!, '--output', pathToFileURL(outputDir!).href, '--hyperparameters', JSON.stringify({ mode })],
    {
      name: 'owned',
      env: { PATH: process.env.PATH ?? '' },
      redact: (text) => text,
      outputDir: outputDir!,
      keepCheckpoints: 2,
      gpu: undefined,
      hangTimeoutMs: 600_000,
      heartbeat: () => {
        if (announced) return;
        announced = true;
        console.log(`trainer ${fs.readFileSync(path.join(outputDir!, 'trainer.pid'), 'utf8')}`);
      },
      cancelled: new Promise<never>(() => undefined),
    },
  );
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
