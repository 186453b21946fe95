import fs from 'node:fs';
import path from 'node:path';

/**
 * The folder holding the project's package.json, found from this module's location, so bundled files (trainers,
 * examples) resolve the same way from `src/` under tsx and from `dist/src/` in production.
 */
export const projectRoot: string = (() => {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'trainers'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..');
  }
})();
