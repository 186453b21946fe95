/** A Temporal-free step `(deps, input) => result` as the activity `(input) => result` over dependencies built once. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any deps: each step names its own
type Step = (deps: any, input: never) => Promise<unknown>;

export type BoundSteps<F extends Record<string, Step>> = {
  [K in keyof F]: (input: Parameters<F[K]>[1]) => ReturnType<F[K]>;
};

/** Binds each step to `deps`; the activity names are the object's keys. */
export function bindSteps<F extends Record<string, Step>>(deps: Parameters<F[keyof F]>[0], steps: F): BoundSteps<F> {
  const bound = Object.entries(steps).map(([name, step]) => [name, (input: never) => step(deps, input)]);
  return Object.fromEntries(bound) as BoundSteps<F>;
}
