/**
 * Ctrl-C and SIGTERM for the scripts that run a local stack (`npm run demo`, `npm run temporal:server`).
 *
 * The first signal asks for a clean stop: the caller drains the model server, stops the workers and the dev server,
 * which takes seconds. A signal during that time must not kill the process by Node's default action (which skips
 * every `exit` handler and so leaves the dev server running on its port and its state file): `pkill -f` reaches the
 * script twice (directly and through tsx, which relays signals), and people press Ctrl-C again. So the listeners
 * stay installed until the caller is done: the second signal says the stop is under way, the third stops at once
 * with `process.exit`, whose `exit` handlers kill the supervised servers (src/dev/child-process.ts).
 */

const stopSignals = ['SIGINT', 'SIGTERM'] as const;

export interface StopSignals {
  /** Resolves with the first SIGINT or SIGTERM. */
  readonly requested: Promise<NodeJS.Signals>;
  /**
   * The work's result, or a `StopRequested` rejection when a stop signal comes first (the work goes on unawaited; a
   * later failure of it is ignored, since the caller is stopping what it ran on).
   */
  race<T>(work: Promise<T>): Promise<T>;
  /** Removes the listeners (once everything is stopped). */
  dispose(): void;
}

/** Thrown by `race` when a stop signal came before the work ended. */
export class StopRequested extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal}`);
    this.name = 'StopRequested';
  }
}

/** Exit status after a stop forced by repeated signals: 128 + SIGINT's number, as a shell reports Ctrl-C. */
export const forcedStopExitCode = 130;

/**
 * One Ctrl-C can arrive twice: the terminal signals the whole foreground group, so the script gets it directly and
 * again from tsx, which relays it unless the script reports it within 30 ms. A signal of the same name this soon after
 * the last one counted is that same press.
 */
export const sameSignalWindowMs = 500;

/**
 * Counts stop signals as presses: the same signal again within `windowMs` of the last one counted is not counted.
 * Returns how many presses there have been, after this signal.
 */
export function pressCounter(windowMs = sameSignalWindowMs, now: () => number = Date.now) {
  let presses = 0;
  let last: { signal: NodeJS.Signals; at: number } | undefined;
  return (signal: NodeJS.Signals): { presses: number; repeated: boolean } => {
    const at = now();
    const repeated = last !== undefined && last.signal === signal && at - last.at < windowMs;
    if (!repeated) {
      presses += 1;
      last = { signal, at };
    }
    return { presses, repeated };
  };
}

export function watchStopSignals(log: (line: string) => void, windowMs = sameSignalWindowMs): StopSignals {
  const count = pressCounter(windowMs);
  let resolveRequested: (signal: NodeJS.Signals) => void = () => undefined;
  const requested = new Promise<NodeJS.Signals>((resolve) => (resolveRequested = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    const { presses: received, repeated } = count(signal);
    if (repeated) return;
    if (received === 1) {
      log(`\nStopping (${signal})…`);
      resolveRequested(signal);
    } else if (received === 2) log(`\nStill stopping (${signal}); send it once more to stop at once.`);
    else {
      log(`\nStopping at once (${signal}).`);
      process.exit(forcedStopExitCode);
    }
  };
  for (const signal of stopSignals) process.on(signal, onSignal);
  const stopped = requested.then((signal) => Promise.reject(new StopRequested(signal)));
  // Nobody may be racing when the signal comes.
  stopped.catch(() => undefined);
  return {
    requested,
    race: (work) => {
      work.catch(() => undefined);
      return Promise.race([work, stopped]);
    },
    dispose: () => {
      for (const signal of stopSignals) process.off(signal, onSignal);
    },
  };
}
