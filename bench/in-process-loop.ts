/**
 * The serving benchmark's in-process limit, compiled and run as the server is (plain `node` on the built JavaScript):
 * the server's loop without HTTP or log (JSON.parse → validate and transform → session.run → the server's JSON
 * encoding), and raw `session.run` on already-transformed rows. Prints one JSON line:
 * {loop, loopCpuUs, raw} (calls per second, and the loop's CPU microseconds per call).
 *
 *   node <built>/bench/in-process-loop.js <store root> <model> <alias> <body.json> <seconds>
 */
import fs from 'node:fs';
import { LocalArtifactStore } from '../src/artifacts';
import { resolveAlias } from '../src/registry/model-registry';
import { loadVersion } from '../src/serving/load-version';

async function main() {
  const [root, model, alias, bodyFile, seconds] = process.argv.slice(2);
  const store = new LocalArtifactStore(root!);
  const loaded = await loadVersion(store, await resolveAlias(store, model!, alias!));
  const { predictor } = loaded;
  const body = fs.readFileSync(bodyFile!, 'utf8');
  const rows = (JSON.parse(body) as { instances: unknown[] }).instances.length;
  const features = new Float32Array(rows * predictor.inputWidth).fill(0.5);
  const measure = async (fn: () => Promise<unknown>) => {
    const end = Date.now() + Number(seconds) * 1000;
    const cpu = process.cpuUsage();
    let n = 0;
    while (Date.now() < end) {
      await fn();
      n++;
    }
    const used = process.cpuUsage(cpu);
    return { perSecond: n / Number(seconds), cpuUs: (used.user + used.system) / n };
  };
  const loop = await measure(async () => {
    const { instances } = JSON.parse(body) as { instances: unknown[] };
    const output = await predictor.score(instances);
    return `{"predictions":[${predictor.encodeJson(output, instances.length).join(',')}]}`;
  });
  const raw = await measure(() => predictor.scoreTransformed(features, rows));
  await predictor.close();
  console.log(JSON.stringify({ loop: loop.perSecond, loopCpuUs: loop.cpuUs, raw: raw.perSecond }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
