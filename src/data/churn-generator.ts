/**
 * The bundled example: a synthetic telecom churn dataset with numeric and categorical columns and a known, learnable
 * relationship to the target. `drift` produces shifted versions of it (for monitoring work): numeric distributions
 * move, and the category mixes change.
 */

export interface ChurnOptions {
  rows: number;
  seed: number;
  drift?: {
    /** Added to tenure (months, negative = newer customers) and multiplied into charges (1.2 = 20% higher). */
    tenureShift?: number;
    chargesFactor?: number;
    /** Share of customers moved to month-to-month contracts (0..1). */
    monthToMonthShare?: number;
    /** Share of customers on a payment method that never appears in the reference data. */
    newPaymentMethodShare?: number;
  };
}

export const churnColumns = [
  'tenure_months',
  'monthly_charges',
  'total_charges',
  'contract',
  'payment_method',
  'internet_service',
  'support_calls',
  'senior',
  'region',
  'churned',
] as const;

/** Seeded PRNG (mulberry32), so the same options always give the same file. */
function rng(seed: number): () => number {
  let state = seed | 0;
  return () => {
    let t = (state = (state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, choices: readonly T[], weights: readonly number[]): T {
  let r = random() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < choices.length; i++) {
    r -= weights[i]!;
    if (r <= 0) return choices[i]!;
  }
  return choices.at(-1)!;
}

function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Yields CSV lines (header first) without holding the dataset in memory. */
export function* generateChurnCsv(options: ChurnOptions): Generator<string> {
  const random = rng(options.seed);
  const drift = options.drift ?? {};
  yield churnColumns.join(',');
  for (let i = 0; i < options.rows; i++) {
    const mtmShare = drift.monthToMonthShare ?? 0.55;
    const contract = pick(
      random,
      ['month-to-month', 'one-year', 'two-year'],
      [mtmShare, (1 - mtmShare) * 0.55, (1 - mtmShare) * 0.45],
    );
    const tenure = Math.max(
      1,
      Math.round((contract === 'month-to-month' ? 14 : 38) + 14 * normal(random) + (drift.tenureShift ?? 0)),
    );
    const internet = pick(random, ['fiber', 'dsl', 'none'], [0.45, 0.35, 0.2]);
    const base = internet === 'fiber' ? 85 : internet === 'dsl' ? 58 : 25;
    const monthly = Math.max(15, (base + 12 * normal(random)) * (drift.chargesFactor ?? 1));
    const payment =
      random() < (drift.newPaymentMethodShare ?? 0)
        ? 'crypto-wallet'
        : pick(random, ['electronic-check', 'mailed-check', 'bank-transfer', 'credit-card'], [0.35, 0.2, 0.22, 0.23]);
    const supportCalls = Math.min(12, Math.floor(-Math.log(1 - random()) * (internet === 'fiber' ? 2.2 : 1.4)));
    const senior = random() < 0.17;
    const region = pick(random, ['north', 'south', 'east', 'west'], [0.3, 0.25, 0.25, 0.2]);
    const logit =
      -1.1 +
      (contract === 'month-to-month' ? 1.4 : contract === 'two-year' ? -1.2 : 0) -
      0.035 * tenure +
      0.018 * (monthly - 65) +
      0.32 * supportCalls +
      (payment === 'electronic-check' ? 0.45 : 0) +
      (senior ? 0.3 : 0);
    const churned = random() < 1 / (1 + Math.exp(-logit)) ? 'yes' : 'no';
    // About 1% of new customers have no total yet (billing lag), as in real exports.
    const total = tenure <= 2 && random() < 0.5 ? '' : (monthly * tenure * (0.95 + 0.1 * random())).toFixed(2);
    yield [tenure, monthly.toFixed(2), total, contract, payment, internet, supportCalls, senior, region, churned].join(
      ',',
    );
  }
}
