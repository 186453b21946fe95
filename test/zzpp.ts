import { createPipelineActivities } from '/work/main/src/activities';
import { LocalArtifactStore } from '/work/main/src/artifacts';
import fs from 'node:fs';
async function main() {
  const root = '/tmp/ppbench-store';
  const activities = createPipelineActivities({ store: new LocalArtifactStore(root) });
  const snap = await activities.ingestDataset({ sourceUri: '/tmp/diag.csv' });
  for (let i = 0; i < 2; i++) {
    fs.rmSync(`${root}/preprocessed`, { recursive: true, force: true });
    const t0 = performance.now();
    await activities.preprocessDataset({ ...snap, target: 'target', task: 'classification', split: { testFraction: 0.2, validationFraction: 0.1, seed: 42 } });
    console.log('preprocess s', ((performance.now() - t0) / 1000).toFixed(2));
  }
}
main();
