/**
 * Writes the prebuilt workflow bundle that production workers load (NODE_ENV=production), so a worker starts without
 * running webpack and every worker of a deployment runs byte-identical workflow code.
 *
 *   npm run build:workflow [-- --out dist/workflow-bundle.js]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist/workflow-bundle.js' } } });
  const out = path.resolve(values.out);
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows') });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, code);
  console.log(`wrote ${path.relative(process.cwd(), out)} (${Math.round(code.length / 1024)} KiB)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
