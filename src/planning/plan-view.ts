/**
 * The view model of `edge-upgrade plan`: the plan's masters, worker batches (capped at the request's
 * percentage), hops and settings, as its `-o json` prints them. cli/render.ts only formats it.
 */
import { batchSizes, maxBatchSize } from './batches.js';
import type { HopStep } from './hops.js';
import { firstControlPlane, workerBatches, type UpgradePlan } from './plan.js';

/**
 * `edge-upgrade plan`'s output (stable with --json): masters one at a time in upgrade order, worker
 * batches, nodes already at the target, and the master that runs `kubeadm upgrade apply` (null when
 * none does: no masters left, or it already ran).
 */
export interface PlanView {
  targetVersion: string;
  /** Cloud workers the prepare phase runs on before the masters (empty: the phase is skipped). */
  prepare: string[];
  /** The label that marks cloud workers (`key=value` or `key`), or null when the worker prepares no nodes. */
  cloudNodeLabel: string | null;
  masters: string[];
  batches: string[][];
  alreadyUpgraded: string[];
  firstControlPlane: string | null;
  /** Workers NotReady now: deferred with `deferOffline`, else the pre-check refuses the upgrade. */
  offline: string[];
  deferOffline: boolean;
  /** How many workers may fail (quarantined) before the upgrade pauses; 0 means the first failure pauses. */
  failureBudget: number;
  /** The health gate after each master and batch, or null when disabled. */
  gate: { stableForMs: number; timeoutMs: number; checks: string[] } | null;
  /**
   * A multi-minor upgrade's control-plane hops, in order (absent for one minor): each hop's version,
   * its masters, who runs `kubeadm upgrade apply`, and the batches of a worker pass at that version
   * (null when the workers wait for a later hop; the last hop's are `batches`).
   */
  hops?: Array<{ number: number; version: string; masters: string[]; firstControlPlane: string | null; workerBatches: string[][] | null }>;
}

/** The request settings a plan shows besides the batches. */
export interface PlanSettings {
  percent?: number;
  deferOffline: boolean;
  failureBudget: number;
  gate: PlanView['gate'];
  /** The inventory's `cloudNodeLabel` (null: the worker prepares no nodes). */
  cloudNodeLabel?: string | null;
}

/** The view of `plan` (from planning/plan.ts) that the `plan` command prints, batches capped at `percent`. */
export function planView(plan: UpgradePlan, targetVersion: string, settings: PlanSettings, offline: string[] = []): PlanView {
  const batches = workerBatches(plan, settings.percent);
  const todo = new Set(batches.flat());
  return {
    targetVersion,
    prepare: plan.prepare,
    cloudNodeLabel: settings.cloudNodeLabel ?? null,
    masters: plan.masters.todo.map((m) => m.name),
    batches,
    alreadyUpgraded: plan.alreadyUpgraded,
    firstControlPlane: firstControlPlane(plan),
    offline: offline.filter((n) => todo.has(n)),
    deferOffline: settings.deferOffline,
    failureBudget: settings.failureBudget,
    gate: settings.gate,
  };
}

/** Adds a multi-minor upgrade's hops to `view`: masters per hop, and the workers' batches at the last hop (or earlier passes). */
export function withHops(view: PlanView, plan: UpgradePlan, hops: HopStep[], percent?: number): PlanView {
  const batchesOf = (workers: string[]) => {
    const out: string[][] = [];
    let at = 0;
    for (const size of batchSizes(workers.length, maxBatchSize(plan.workers.total, percent))) out.push(workers.slice(at, (at += size)));
    return out;
  };
  return {
    ...view,
    masters: hops[0]?.masters.map((m) => m.name) ?? [],
    firstControlPlane: hops[0]?.masters.find((m) => m.role === 'first-control-plane')?.name ?? null,
    hops: hops.map((h, i) => ({
      number: i + 1,
      version: h.version,
      masters: h.masters.map((m) => m.name),
      firstControlPlane: h.masters.find((m) => m.role === 'first-control-plane')?.name ?? null,
      workerBatches: h.workers && i < hops.length - 1 ? batchesOf(h.workers) : null,
    })),
  };
}
