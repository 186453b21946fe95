/** argv of the bundled trainers (docs/trainer-contract.md); `command` trainers bring their own. */
import path from 'node:path';
import type { MlopsConfig } from '../config';
import { projectRoot } from '../project-root';

export type BundledTrainer = 'builtin-linear' | 'torch-tabular';

/** Under tsx (development) the TypeScript trainer runs through tsx's loader. */
export function trainerCommand(config: Readonly<MlopsConfig>, kind: BundledTrainer): string[] {
  if (kind === 'torch-tabular') {
    const python =
      config.training.python ?? path.join(config.cacheDir, 'python', 'torch-tabular-venv', 'bin', 'python');
    return [python, path.join(projectRoot, 'trainers', 'torch-tabular', 'train.py')];
  }
  const script = path.resolve(__dirname, `linear-trainer${path.extname(__filename)}`);
  return __filename.endsWith('.ts')
    ? [process.execPath, '--require', require.resolve('tsx/cjs'), script]
    : [process.execPath, script];
}
