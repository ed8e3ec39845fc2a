/**
 * The hops, one part of the upgrade's state (../upgrade-state.ts): a multi-minor upgrade's steps
 * (planning/hops.ts) and which one is current; `progress.hop` is built from them. A single-minor
 * upgrade has none.
 */
import type { HopStep } from '../../planning/hops.js';
import type { Progress } from '../../planning/types.js';

/** The snapshot's form: the steps and the index of the current one. */
export type HopsRecord = { steps: HopStep[]; index: number } | null;

export class Hops {
  constructor(private h: HopsRecord) {}

  /** What continue-as-new hands on. */
  get record(): HopsRecord {
    return this.h;
  }

  /** Sets the steps of a multi-minor plan, at the first. */
  plan(steps: HopStep[]): void {
    this.h = { steps, index: 0 };
  }

  /** The current step, or null for a single-minor upgrade. */
  get step(): HopStep | null {
    return this.h ? this.h.steps[this.h.index]! : null;
  }

  /** Every step's version; empty for a single-minor upgrade. */
  get versions(): string[] {
    return this.h?.steps.map((s) => s.version) ?? [];
  }

  /** True when another step follows the current one. */
  get hasNext(): boolean {
    return !!this.h && this.h.index < this.h.steps.length - 1;
  }

  /** Moves to the next step; false when there is none. */
  next(): boolean {
    if (!this.h || !this.hasNext) return false;
    this.h.index++;
    return true;
  }

  /** `progress.hop`: the current step's number of all and its version; undefined for a single-minor upgrade. */
  get view(): Progress['hop'] {
    const h = this.h;
    return h ? { number: h.index + 1, of: h.steps.length, version: h.steps[h.index]!.version } : undefined;
  }
}
