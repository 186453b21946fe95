/**
 * The drift engine against SciPy: test/fixtures/drift/make-fixtures.py computed each statistic with SciPy on
 * generated arrays and stored the arrays and the numbers; here the same arrays go through the real path (reference
 * and window counted in DuckDB, statistics in TypeScript). Exact statistics must agree to 1e-9; binned ones within
 * the tolerance stated at each assertion.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ColumnDrift } from '../../src/drift/compute-drift';
import { computeDrift } from '../../src/drift/compute-drift';
import type { NumericReference } from '../../src/drift/reference';
import { computeDriftReference } from '../../src/drift/reference';
import { chiSquareSurvival, gammaQ, kolmogorovSurvival, normalTwoSided } from '../../src/drift/special-functions';
import {
  chiSquare,
  chiSquareHomogeneity,
  jensenShannon,
  lInfinity,
  psi,
  twoProportionZ,
} from '../../src/drift/statistics';
import type { DuckDb } from '../../src/warehouse/duckdb';
import { withDuckDb } from '../../src/warehouse/duckdb';
import { duckDbDialect } from '../../src/warehouse/sql-dialect';

interface Binned {
  reference: number[];
  current: number[];
  jsDistanceNat: number;
  jsDivergenceBits: number;
  lInfinity: number;
  psi: number;
  chiSquare: { statistic: number; pValue: number };
  chiSquareHomogeneity: { statistic: number; pValue: number };
}
interface NumericCase {
  name: string;
  reference: number[];
  current: number[];
  ks: { statistic: number; pValueKolmogorov: number; pValueScipyDefault: number };
  wasserstein: { distance: number; normed: number };
  deciles: Binned;
}
interface Fixture {
  numeric: NumericCase[];
  categorical: { values: string[]; reference: string[]; current: string[]; counts: Binned };
  binary: { a: number; n: number; b: number; m: number; z: number; pValue: number }[];
  special: {
    gammaQ: [number, number, number][];
    chiSquareSurvival: [number, number, number][];
    normalTwoSided: [number, number][];
    kolmogorovSurvival: [number, number][];
  };
}

const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'drift', 'scipy-expected.json'), 'utf8'),
) as Fixture;

/** |actual − expected| ≤ tolerance · max(1, |expected|). */
function close(actual: number, expected: number, tolerance: number, what: string): void {
  const error = Math.abs(actual - expected);
  assert.ok(error <= tolerance * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs SciPy ${expected}`);
}

async function table(db: DuckDb, name: string, values: (number | string)[]): Promise<string> {
  const literal = (v: number | string) => (typeof v === 'number' ? `'${v}'::DOUBLE` : `'${v}'`);
  const list = values.map(literal).join(', ');
  await db.run(
    `CREATE TABLE ${name} AS SELECT x, row_number() OVER () - 1 AS __row FROM (SELECT unnest([${list}]) AS x)`,
  );
  return name;
}

/** Reference and window through the SQL path; the window's drift of column x. */
async function driftOf(db: DuckDb, name: string, reference: (number | string)[], current: (number | string)[]) {
  const numeric = typeof reference[0] === 'number';
  const ref = await table(db, `${name}_ref`, reference);
  const cur = await table(db, `${name}_cur`, current);
  const references = await computeDriftReference((sql) => db.query(sql), duckDbDialect, {
    from: ref,
    columns: [{ name: 'x', numeric }],
    sample: { from: ref, rowNumber: '__row', size: 100_000 },
  });
  const report = await computeDrift((sql) => db.query(sql), duckDbDialect, { from: cur, reference: references });
  return { column: report.columns[0]!, reference: references.x! };
}

const stat = (c: ColumnDrift, metric: keyof ColumnDrift['statistics']) => c.statistics[metric] ?? Number.NaN;

describe('drift statistics agree with SciPy on the same arrays', () => {
  const results = new Map<string, { column: ColumnDrift; reference: NumericReference }>();
  let categorical: ColumnDrift;

  before(async () => {
    await withDuckDb(
      async (db) => {
        for (const c of fixture.numeric) {
          const { column, reference } = await driftOf(db, c.name.replace(/-/g, '_'), c.reference, c.current);
          results.set(c.name, { column, reference: reference as NumericReference });
        }
        const cat = fixture.categorical;
        categorical = (await driftOf(db, 'cat', cat.reference, cat.current)).column;
      },
      { threads: 1 },
    );
  });

  it('Kolmogorov–Smirnov D equals ks_2samp exactly when the reference grid holds every reference value', () => {
    for (const name of ['discrete', 'discrete-vs-continuous']) {
      const c = fixture.numeric.find((n) => n.name === name)!;
      const { column, reference } = results.get(name)!;
      assert.equal(reference.gridExact, true, name);
      assert.equal(column.ks?.method, 'exact');
      close(column.ks.statistic, c.ks.statistic, 1e-9, `${name} D`);
      close(stat(column, 'KS_P_VALUE'), c.ks.pValueKolmogorov, 1e-9, `${name} p (kstwobign)`);
      // SciPy's default p-value is exact for these sizes; the asymptotic one differs from it by under 10 % here.
      close(stat(column, 'KS_P_VALUE'), c.ks.pValueScipyDefault, 0.1 * c.ks.pValueScipyDefault, `${name} p (exact)`);
    }
  });

  it('Kolmogorov–Smirnov D from the quantile grid is within its stated bound of ks_2samp on continuous data', () => {
    for (const name of ['continuous', 'skewed']) {
      const c = fixture.numeric.find((n) => n.name === name)!;
      const { column } = results.get(name)!;
      assert.equal(column.ks?.method, 'grid');
      const { statistic, bound } = column.ks;
      assert.ok(bound > 0 && bound <= 0.01, `${name} bound ${bound}`);
      assert.ok(statistic <= c.ks.statistic + 1e-12, `${name}: grid D ${statistic} above SciPy ${c.ks.statistic}`);
      assert.ok(
        c.ks.statistic <= statistic + bound,
        `${name}: SciPy D ${c.ks.statistic} beyond ${statistic} + ${bound}`,
      );
    }
  });

  it('Wasserstein distance equals wasserstein_distance exactly when both sides take only grid values', () => {
    const c = fixture.numeric.find((n) => n.name === 'discrete')!;
    close(stat(results.get('discrete')!.column, 'WASSERSTEIN_NORMED'), c.wasserstein.normed, 1e-9, 'normed W1');
  });

  it('normed Wasserstein from grid cells is a lower bound within 1 % of wasserstein_distance on continuous data', () => {
    for (const name of ['continuous', 'skewed']) {
      const c = fixture.numeric.find((n) => n.name === name)!;
      const value = stat(results.get(name)!.column, 'WASSERSTEIN_NORMED');
      assert.ok(value <= c.wasserstein.normed + 1e-12, `${name}: ${value} above SciPy ${c.wasserstein.normed}`);
      close(value, c.wasserstein.normed, 0.01 * c.wasserstein.normed, `${name} normed W1`);
    }
  });

  it('normed Wasserstein stays within 5 % when the current side falls between the grid values of a discrete reference', () => {
    const c = fixture.numeric.find((n) => n.name === 'discrete-vs-continuous')!;
    const value = stat(results.get(c.name)!.column, 'WASSERSTEIN_NORMED');
    assert.ok(value <= c.wasserstein.normed + 1e-12);
    close(value, c.wasserstein.normed, 0.05 * c.wasserstein.normed, 'discrete-vs-continuous normed W1');
  });

  it('PSI, JS divergence and distance and L-infinity over the reference deciles equal SciPy/NumPy on the same bins', () => {
    for (const name of ['continuous', 'skewed']) {
      const c = fixture.numeric.find((n) => n.name === name)!;
      const { column } = results.get(name)!;
      assert.deepEqual(column.buckets.reference, c.deciles.reference, `${name} reference bins`);
      assert.deepEqual(column.buckets.current, c.deciles.current, `${name} current bins`);
      close(stat(column, 'JENSEN_SHANNON_DISTANCE'), c.deciles.jsDistanceNat, 1e-9, `${name} JS distance`);
      close(stat(column, 'JENSEN_SHANNON_DIVERGENCE'), c.deciles.jsDivergenceBits, 1e-9, `${name} JS divergence`);
      close(stat(column, 'L_INFTY'), c.deciles.lInfinity, 1e-9, `${name} L-infinity`);
      close(stat(column, 'PSI'), c.deciles.psi, 1e-9, `${name} PSI`);
    }
  });

  it('categorical counts give chi2_contingency, jensenshannon, L-infinity and PSI to 1e-9', () => {
    const { counts: c, ...arrays } = fixture.categorical;
    assert.deepEqual(
      categorical.buckets.reference.slice(0, -1),
      orderedLike(categorical, arrays.values, arrays.reference),
    );
    close(stat(categorical, 'CHI_SQUARE_P_VALUE'), c.chiSquareHomogeneity.pValue, 1e-9, 'chi-square p');
    close(stat(categorical, 'JENSEN_SHANNON_DISTANCE'), c.jsDistanceNat, 1e-9, 'JS distance');
    close(stat(categorical, 'JENSEN_SHANNON_DIVERGENCE'), c.jsDivergenceBits, 1e-9, 'JS divergence');
    close(stat(categorical, 'L_INFTY'), c.lInfinity, 1e-9, 'L-infinity');
    close(stat(categorical, 'PSI'), c.psi, 1e-9, 'PSI');
  });

  it('the pure statistics equal SciPy on the fixture counts (chisquare and chi2_contingency)', () => {
    const counted = fixture.numeric.find((n) => n.name === 'continuous')!.deciles;
    close(jensenShannon(counted.reference, counted.current).distance, counted.jsDistanceNat, 1e-9, 'JS');
    close(lInfinity(counted.reference, counted.current), counted.lInfinity, 1e-9, 'L∞');
    close(psi(counted.reference, counted.current), counted.psi, 1e-9, 'PSI');
    for (const c of [counted, fixture.categorical.counts]) {
      const fit = chiSquare(c.reference, c.current);
      close(fit.statistic, c.chiSquare.statistic, 1e-9, 'chisquare statistic');
      close(fit.pValue, c.chiSquare.pValue, 1e-9, 'chisquare p');
      const table = chiSquareHomogeneity(c.reference, c.current);
      close(table.statistic, c.chiSquareHomogeneity.statistic, 1e-9, 'chi2_contingency statistic');
      close(table.pValue, c.chiSquareHomogeneity.pValue, 1e-9, 'chi2_contingency p');
    }
  });

  it('the two-proportion Z test equals the pooled z and 2·norm.sf(|z|)', () => {
    for (const b of fixture.binary) {
      const result = twoProportionZ(b.a, b.n, b.b, b.m);
      close(result.z, b.z, 1e-9, `z ${b.a}/${b.n} vs ${b.b}/${b.m}`);
      close(result.pValue, b.pValue, 1e-9, `p ${b.a}/${b.n} vs ${b.b}/${b.m}`);
    }
  });

  it('the special functions equal gammaincc, chi2.sf, norm.sf and kstwobign.sf', () => {
    for (const [a, x, q] of fixture.special.gammaQ) close(gammaQ(a, x), q, 1e-12, `Q(${a}, ${x})`);
    for (const [x, k, p] of fixture.special.chiSquareSurvival)
      close(chiSquareSurvival(x, k), p, 1e-12, `χ²(${x}, ${k})`);
    for (const [z, p] of fixture.special.normalTwoSided) close(normalTwoSided(z), p, 1e-12, `normal(${z})`);
    for (const [x, p] of fixture.special.kolmogorovSurvival) close(kolmogorovSurvival(x), p, 1e-12, `K(${x})`);
  });
});

/** The fixture's reference counts, in the order the engine keeps the categories (by count, then value). */
function orderedLike(column: ColumnDrift, values: string[], reference: string[]): number[] {
  const counts = new Map(values.map((v) => [v, reference.filter((r) => r === v).length]));
  return column.buckets.labels.slice(0, -1).map((label) => counts.get(label) ?? 0);
}
