/**
 * Sets up what the tests need on a fresh machine, idempotently (a second run takes a second):
 * the Temporal CLI, fake-gcs-server and the BigQuery emulator (built from Go modules into the cache), Debian's Chromium for the browser
 * tests, the reference trainer's Python environment (scripts/setup-python.sh) and the serving client tests' one
 * (tritonclient[http], scripts/setup-python-clients.sh).
 *
 *   npx tsx scripts/setup.ts test
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config';
import { resolveBigQueryEmulator, resolveFakeGcs } from '../src/dev/emulators';
import { resolveTemporalCli } from '../src/dev/temporal-server';

const log = (line: string) => console.log(`[setup] ${line}`);

function ensureChromium(): void {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (fs.existsSync(chromium)) return log(`Chromium: ${chromium}`);
  const canApt = process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0;
  if (!canApt) {
    throw new Error(
      `Chromium is needed for the browser tests and was not found at ${chromium}. Install Debian's "chromium" package (or set CHROMIUM_PATH), then run npm test again.`,
    );
  }
  log("Installing Debian's chromium package for the browser tests (once per machine)...");
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium', 'fonts-dejavu-core'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function ensurePython(): void {
  const script = path.resolve(__dirname, 'setup-python.sh');
  const result = spawnSync('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(`scripts/setup-python.sh failed (exit ${result.status}); see its output above.`);
  log(`Python for the reference trainer: ${result.stdout.trim().split('\n').at(-1)}`);
}

function ensureServingClients(): void {
  const script = path.resolve(__dirname, 'setup-python-clients.sh');
  const result = spawnSync('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(`scripts/setup-python-clients.sh failed (exit ${result.status}); see its output above.`);
  log(`Python for the serving client tests: ${result.stdout.trim().split('\n').at(-1)}`);
}

function main(): void {
  const config = loadConfig();
  log(`Temporal CLI: ${resolveTemporalCli(config, log)}`);
  log(`fake-gcs-server: ${resolveFakeGcs(config.cacheDir, process.env.FAKE_GCS_SERVER_PATH, log)}`);
  log(`bigquery-emulator: ${resolveBigQueryEmulator(config.cacheDir, process.env.BIGQUERY_EMULATOR_PATH, log)}`);
  ensureChromium();
  ensurePython();
  ensureServingClients();
}

try {
  main();
} catch (err) {
  console.error(`[setup] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
