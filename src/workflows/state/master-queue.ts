/**
 * The master queue, one part of the upgrade's state (../upgrade-state.ts): the control-plane nodes
 * still to upgrade, in order, and `progress.masters`. The first master of a pass runs
 * `kubeadm upgrade apply`; whichever leaves the queue before it runs hands that over (`handOver`).
 */
import type { PlannedMaster } from '../../planning/plan.js';
import type { Progress } from '../../planning/types.js';

export type MastersView = Progress['masters'];

/** `kubeadm upgrade apply` runs once per pass: when the master that was to run it left the queue, the next one takes it over. */
function handOver(left: PlannedMaster | undefined, todo: PlannedMaster[]): void {
  if (left?.role === 'first-control-plane' && todo[0]) todo[0].role = 'first-control-plane';
}

export class MasterQueue {
  constructor(
    public view: MastersView,
    private queue: PlannedMaster[],
  ) {}

  /** Masters still to upgrade, in order; a failed master stays first. */
  get todo(): readonly PlannedMaster[] {
    return this.queue;
  }

  /** The fixed plan: `total` masters, of which those not in `todo` were already at the target. */
  plan(total: number, todo: PlannedMaster[]): void {
    this.queue = todo;
    this.view = { total, upgraded: total - todo.length, current: null };
  }

  /**
   * A multi-minor hop's masters (planning/hops.ts): the hop's list without the nodes in `gone`;
   * those not in the list were already at the hop's version and count as upgraded.
   */
  loadHop(masters: PlannedMaster[], gone: ReadonlySet<string>): void {
    this.queue = masters.filter((m) => !gone.has(m.name)).map((m) => ({ ...m }));
    handOver(masters[0], this.queue);
    this.view.upgraded = this.view.total - masters.length;
    this.view.current = null;
  }

  start(m: PlannedMaster): void {
    this.view.current = { serial: m.serial, node: m.name };
  }

  /** The first master in the queue is done. */
  done(): void {
    this.queue.shift();
    this.view.upgraded++;
    this.view.current = null;
  }

  /** The master is gone from the cluster: skipped, listed as removed. */
  removed(node: string): void {
    (this.view.removed ??= []).push(node);
    const i = this.queue.findIndex((m) => m.name === node);
    const [gone] = i >= 0 ? this.queue.splice(i, 1) : [];
    handOver(gone, this.queue);
    this.view.current = null;
  }
}
