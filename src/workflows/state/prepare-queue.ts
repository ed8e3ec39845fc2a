/**
 * The prepare queue, one part of the upgrade's state (../upgrade-state.ts): the cloud workers the
 * prepare phase still has to prepare, in order, and `progress.prepare`. With no node to prepare,
 * neither the phase nor `progress.prepare` appears.
 */
import type { PrepareProgress } from '../../planning/types.js';

/** How one node's preparation ended (see `ended`). */
export type PrepareOutcome = 'prepared' | 'failed' | 'quarantined' | { skipped: string };

export class PrepareQueue {
  constructor(
    public view: PrepareProgress | undefined,
    private queue: string[],
  ) {}

  /** Cloud workers still to prepare, in order; failed ones are put back first. */
  get todo(): readonly string[] {
    return this.queue;
  }

  /** The nodes the prepare phase runs on, in order. */
  plan(nodes: string[]): void {
    if (nodes.length === 0) return;
    this.queue = [...nodes];
    this.view = { total: nodes.length, done: 0, current: [] };
  }

  /** Takes up to `n` nodes to prepare now, shown in `prepare.current`. */
  take(n: number): string[] {
    const nodes = this.queue.splice(0, n);
    this.view!.current = [...nodes];
    return nodes;
  }

  /**
   * How one node's preparation ended: prepared, skipped (offline with 'defer', or removed) with why,
   * failed (queued first again), or quarantined under a failure budget (the caller drops its upgrade).
   */
  ended(node: string, outcome: PrepareOutcome): void {
    const v = this.view!;
    v.current = v.current.filter((n) => n !== node);
    if (outcome === 'prepared') v.done++;
    else if (outcome === 'failed') this.queue.unshift(node);
    else if (outcome !== 'quarantined') (v.skipped ??= []).push({ node, reason: outcome.skipped });
  }

  /** Nodes whose preparation failed under a failure budget and are retried: prepared again first. */
  requeue(nodes: string[]): void {
    this.queue.unshift(...nodes.filter((n) => !this.queue.includes(n)));
  }
}
