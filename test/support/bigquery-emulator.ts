import { loadConfig } from '../../src/config';
import type { RunningEmulator } from '../../src/dev/emulators';
import { resolveBigQueryEmulator, startBigQueryEmulator } from '../../src/dev/emulators';
import { tempDir } from './stack';

const credentialVariables = ['GOOGLE_APPLICATION_CREDENTIALS', 'METADATA_SERVER_DETECTION'];

/**
 * Starts bigquery-emulator for one suite, seeded from YAML (npm test's setup builds it once per machine; a missing
 * binary is built here rather than skipped). While it runs there are no Application Default Credentials and no GCE
 * metadata probe, so the real client sends unauthenticated requests; `stop` restores the environment.
 */
export async function startTestBigQuery(seedYaml: string): Promise<RunningEmulator> {
  const binary = resolveBigQueryEmulator(loadConfig().cacheDir, process.env.BIGQUERY_EMULATOR_PATH, (line) =>
    console.log(`    ${line}`),
  );
  const saved = Object.fromEntries(credentialVariables.map((name) => [name, process.env[name]]));
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
  process.env.METADATA_SERVER_DETECTION = 'none';
  const restore = () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  try {
    const emulator = await startBigQueryEmulator(binary, seedYaml, tempDir('bigquery-emulator'));
    return {
      url: emulator.url,
      stop: async () => {
        await emulator.stop();
        restore();
      },
    };
  } catch (err) {
    restore();
    throw err;
  }
}
