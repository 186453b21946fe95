import { DuckDBInstance } from '@duckdb/node-api';
import fs from 'node:fs';
import crypto from 'node:crypto';
const file = fs.readdirSync('/tmp/ppbench-store/datasets').map((d) => `/tmp/ppbench-store/datasets/${d}/data.parquet`)[0]!;
const cols = Array.from({ length: 16 }, (_, i) => `CAST((coalesce(x${i}, 1.5) - 10) / 2 AS DOUBLE) AS f${i}`).join(', ');
async function main() {
  for (let i = 0; i < 3; i++) {
    const inst = await DuckDBInstance.create(':memory:', { threads: '1', preserve_insertion_order: 'true' });
    const a = await inst.connect(); const b = await inst.connect();
    await a.run(`CREATE VIEW v AS SELECT *, file_row_number AS r, CASE WHEN hash(file_row_number) % 10 < 7 THEN 'train' WHEN hash(file_row_number) % 10 < 8 THEN 'validation' ELSE 'test' END AS s FROM read_parquet('${file}', file_row_number = true)`);
    const copy = (c: typeof a, s: string) => c.run(`COPY (SELECT ${cols}, r FROM v WHERE s = '${s}') TO '/tmp/probe/c-${s}.parquet' (FORMAT parquet)`);
    let t0 = performance.now();
    await copy(a, 'train'); await copy(a, 'test');
    const seq = performance.now() - t0;
    t0 = performance.now();
    await Promise.all([copy(a, 'train'), copy(b, 'test')]);
    const par = performance.now() - t0;
    const h = ['train', 'test'].map((s) => crypto.createHash('sha256').update(fs.readFileSync(`/tmp/probe/c-${s}.parquet`)).digest('hex').slice(0, 8));
    console.log('seq', seq.toFixed(0), 'par', par.toFixed(0), h);
    a.closeSync(); b.closeSync(); inst.closeSync();
  }
}
main();
