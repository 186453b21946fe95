/**
 * The special functions the drift tests' p-values need, written here (no numeric library): the log-gamma function,
 * the regularized upper incomplete gamma function (chi-square survival), the complementary error function (normal
 * tails) and the Kolmogorov distribution's survival function (KS). Each is accurate to about 1e-14 relative in the
 * ranges the tests use (test/drift/statistics.test.ts checks them against SciPy).
 */

/** Lanczos coefficients (g = 7, n = 9): ln Γ to about 15 significant digits for x > 0. */
const lanczos = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  const t = z + 7.5;
  const a = lanczos.reduce((total, coefficient, i) => (i === 0 ? coefficient : total + coefficient / (z + i)), 0);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const epsilon = 1e-16;
const maxIterations = 10_000;

/** Q(a, x) = Γ(a, x) / Γ(a), the regularized upper incomplete gamma function, for a > 0 and x ≥ 0. */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || x < 0 || Number.isNaN(x)) return Number.NaN;
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  return x < a + 1 ? 1 - lowerSeries(a, x) : upperContinuedFraction(a, x);
}

/** P(a, x) by its power series (converges fast for x < a + 1). */
function lowerSeries(a: number, x: number): number {
  let term = 1 / a;
  let total = term;
  for (let n = 1; n < maxIterations; n++) {
    term *= x / (a + n);
    total += term;
    if (Math.abs(term) < Math.abs(total) * epsilon) break;
  }
  return total * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** Q(a, x) by its continued fraction, evaluated with the modified Lentz method (x ≥ a + 1). */
function upperContinuedFraction(a: number, x: number): number {
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < maxIterations; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < epsilon) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** The chi-square distribution's survival function P(X ≥ x) with `dof` degrees of freedom. */
export function chiSquareSurvival(x: number, dof: number): number {
  return gammaQ(dof / 2, x / 2);
}

/** erfc(x), through Q(½, x²) for x ≥ 0. */
export function erfc(x: number): number {
  return x >= 0 ? gammaQ(0.5, x * x) : 2 - gammaQ(0.5, x * x);
}

/** The standard normal distribution's two-sided tail P(|Z| ≥ |z|). */
export function normalTwoSided(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

/**
 * The survival function of the Kolmogorov distribution (the limit of √n·Dₙ), SciPy's `kstwobign.sf`:
 * 2 Σₖ (−1)^(k−1) e^(−2k²λ²) for large λ; 1 − (√(2π)/λ) Σₖ e^(−(2k−1)²π²/(8λ²)) for small λ, where that series
 * converges faster.
 */
export function kolmogorovSurvival(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1) {
    let total = 0;
    for (let k = 1; k < 100; k++) {
      const term = Math.exp((-((2 * k - 1) ** 2) * Math.PI ** 2) / (8 * lambda * lambda));
      total += term;
      if (term < 1e-17 * total) break;
    }
    return 1 - (Math.sqrt(2 * Math.PI) / lambda) * total;
  }
  let total = 0;
  for (let k = 1; k < 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    total += (k % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-17) break;
  }
  return Math.min(1, Math.max(0, 2 * total));
}
