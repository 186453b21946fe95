/**
 * Two raw churn records the serving tests and the serving benchmark send. Imports nothing, so that the benchmark's
 * compiled runner (bench/serving-throughput.ts) can use them on a machine without the data packages.
 */

/** A valid raw churn record (a likely churner). */
export const riskyCustomer = {
  tenure_months: 2,
  monthly_charges: 99.5,
  total_charges: 199,
  contract: 'month-to-month',
  payment_method: 'electronic-check',
  internet_service: 'fiber',
  support_calls: 6,
  senior: true,
  region: 'south',
};

/** A valid raw churn record (a loyal customer). */
export const loyalCustomer = {
  ...riskyCustomer,
  tenure_months: 60,
  monthly_charges: 30,
  total_charges: 1800,
  contract: 'two-year',
  payment_method: 'credit-card',
  internet_service: 'dsl',
  support_calls: 0,
  senior: false,
};
