/**
 * Writes the bundled example dataset (or a drifted variant of it).
 *
 *   npx tsx scripts/generate-example-data.ts [--rows 5000] [--seed 7] [--out examples/churn.csv]
 *       [--tenure-shift=-10] [--charges-factor 1.2] [--month-to-month 0.8] [--new-payment-method 0.1]
 *
 * A negative value goes after `=` (`--tenure-shift=-10`): Node's argument parser reads `-10` alone as an option.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { generateChurnCsv } from '../src/data/churn-generator';

const usage =
  'npx tsx scripts/generate-example-data.ts [--rows 5000] [--seed 7] [--out examples/churn.csv]\n' +
  '    [--tenure-shift=-10] [--charges-factor 1.2] [--month-to-month 0.8] [--new-payment-method 0.1]\n' +
  'A negative value goes after = (--tenure-shift=-10).';
if (process.argv.slice(2).some((arg) => arg === '--help' || arg === '-h')) {
  console.log(usage);
  process.exit(0);
}

function parsed() {
  try {
    return parseArgs({
      options: {
        rows: { type: 'string', default: '5000' },
        seed: { type: 'string', default: '7' },
        out: { type: 'string', default: 'examples/churn.csv' },
        'tenure-shift': { type: 'string' },
        'charges-factor': { type: 'string' },
        'month-to-month': { type: 'string' },
        'new-payment-method': { type: 'string' },
      },
    });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    return process.exit(2);
  }
}

const { values } = parsed();
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const out = fs.createWriteStream(values.out);
for (const line of generateChurnCsv({
  rows: Number(values.rows),
  seed: Number(values.seed),
  drift: {
    tenureShift: num(values['tenure-shift']),
    chargesFactor: num(values['charges-factor']),
    monthToMonthShare: num(values['month-to-month']),
    newPaymentMethodShare: num(values['new-payment-method']),
  },
})) {
  out.write(`${line}\n`);
}
out.end(() => console.log(`wrote ${values.out}`));
