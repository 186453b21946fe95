/**
 * Our side of bench/profile-vs-pandas.ts, in its own process so its peak RSS is its own: ingest the CSV into a
 * snapshot (Parquet), profile it and preprocess it with the real activities. Prints one JSON line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildDependencies } from '../src/dependencies';
import { createPipelineActivities } from '../src/activities';
import { LocalArtifactStore } from '../src/artifacts';
import { loadConfig } from '../src/config';

async function main(): Promise<void> {
  const [csv, target] = process.argv.slice(2) as [string, string];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlops-bench-ours-'));
  try {
    // The configuration (MLOPS_DATA_THREADS in particular) comes from the environment, as on a worker.
    const activities = createPipelineActivities(
      buildDependencies(loadConfig(), { store: new LocalArtifactStore(tmp) }),
    );
    const cpu = () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    };
    const c0 = cpu();
    const t0 = performance.now();
    const snapshot = await activities.ingestDataset({ sourceUri: csv });
    const t1 = performance.now();
    const c1 = cpu();
    const rssAfterRead = process.resourceUsage().maxRSS / 1024;
    await activities.profileDataset({ snapshotId: snapshot.snapshotId, dataUri: snapshot.dataUri, target });
    const t2 = performance.now();
    const c2 = cpu();
    const rssAfterProfile = process.resourceUsage().maxRSS / 1024;
    await activities.preprocessDataset({
      ...snapshot,
      target,
      task: 'classification',
      split: { testFraction: 0.2, validationFraction: 0.1, seed: 42 },
    });
    const t3 = performance.now();
    const c3 = cpu();
    const s = (ms: number) => ms / 1000;
    console.log(
      JSON.stringify({
        readSeconds: s(t1 - t0),
        profileSeconds: s(t2 - t1),
        preprocessSeconds: s(t3 - t2),
        totalSeconds: s(t3 - t0),
        cpuSeconds: { read: c1 - c0, profile: c2 - c1, preprocess: c3 - c2 },
        maxRssMiB: process.resourceUsage().maxRSS / 1024,
        maxRssMiBByPhase: { read: rssAfterRead, profile: rssAfterProfile },
      }),
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
