/**
 * What the simulator's controllers share: the request limiter, the timers (all cleared on stop),
 * the once-per-key runner and the counters. One instance per simulator, injected into each part,
 * so a part can be tested alone with its own.
 */
import pLimit, { type LimitFunction } from 'p-limit';

/** Counters for benchmarks and tests. Lags are in milliseconds. */
export interface SimulatorStats {
  nodes: number;
  leaseRenewals: number;
  statusUpdates: number;
  podsStarted: number;
  podsFinalized: number;
  upgradesSucceeded: number;
  upgradesFailed: number;
  apiErrors: number;
  /** Worst delay between a lease renewal's due time and its completion since the last reset. */
  maxRenewLagMs: number;
}

/** The limiter, timers, once-per-key runner and counters of one simulator. */
export class SimRuntime {
  /** Most API requests in flight at once go through this. */
  readonly limit: LimitFunction;
  readonly log: (message: string) => void;
  readonly counters: SimulatorStats = {
    nodes: 0,
    leaseRenewals: 0,
    statusUpdates: 0,
    podsStarted: 0,
    podsFinalized: 0,
    upgradesSucceeded: 0,
    upgradesFailed: 0,
    apiErrors: 0,
    maxRenewLagMs: 0,
  };
  private readonly inFlight = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stoppedNow = false;

  /** `concurrency`: most API requests in flight at once (default 32); `log`: one-line progress messages (silent by default). */
  constructor(opts: { concurrency?: number; log?: (message: string) => void } = {}) {
    this.limit = pLimit(opts.concurrency ?? 32);
    this.log = opts.log ?? (() => {});
  }

  /** True once {@link stop} was called: nothing new starts. */
  get stopped(): boolean {
    return this.stoppedNow;
  }

  /** Runs `fn` once per key at a time, through the request limiter; failures count and are retried by the next event. */
  once(key: string, fn: () => Promise<void>): void {
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    void this.limit(fn)
      .catch((err: unknown) => {
        this.counters.apiErrors++;
        this.log(`simulator: ${key}: ${String(err)}`);
      })
      .finally(() => this.inFlight.delete(key));
  }

  /** Runs `fn` after `ms` milliseconds, unless the simulator stopped meanwhile. */
  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stoppedNow) fn();
    }, ms);
    this.timers.add(t);
  }

  /** Stops: clears every pending timer; {@link stopped} is true from now on. */
  stop(): void {
    this.stoppedNow = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
