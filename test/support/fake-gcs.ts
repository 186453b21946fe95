import path from 'node:path';
import { loadConfig } from '../../src/config';
import type { RunningEmulator } from '../../src/dev/emulators';
import { resolveFakeGcs, startFakeGcs } from '../../src/dev/emulators';
import { tempDir } from './stack';

/** Starts a fake-gcs-server for one suite (built from Go modules on first use). */
export async function startTestFakeGcs(): Promise<RunningEmulator> {
  const binary = resolveFakeGcs(loadConfig().cacheDir, process.env.FAKE_GCS_SERVER_PATH, (line) =>
    console.log(`[fake-gcs] ${line}`),
  );
  return startFakeGcs(binary, path.join(tempDir('fake-gcs'), 'logs'));
}
