/**
 * The upgrade plan, computed once for both the workflow (which follows it) and the CLI's `plan`
 * command (which previews it): which masters to upgrade in which order and with which NODE_ROLE,
 * which workers are left, and their batches. Pure and deterministic: no I/O, no clock, no Node
 * builtins, as it runs inside workflow code.
 */
import { batchSizes, maxBatchSize } from './batches.js';
import { orderMasters, orderWorkers } from './order.js';
import type { ClusterInventory, ClusterNode, NodeRole } from './types.js';
import { nodeIsDone, nodeVersion, parseVersion, sameVersion, type KubeVersion } from './versions.js';

/** A control-plane node still to upgrade, with its serial number among all masters (1-based) and its role. */
export interface PlannedMaster {
  name: string;
  serial: number;
  role: NodeRole;
}

/** What is left to do for an upgrade to one target, as the workflow fixes it before the pre-check. */
export interface UpgradePlan {
  /** `total` counts every master; `todo` those not yet at the target, in upgrade order. */
  masters: { total: number; todo: PlannedMaster[] };
  /** `total` counts every worker; `todo` names those not yet at the target, in upgrade order. */
  workers: { total: number; todo: string[] };
  /** Nodes already at the target and Ready (no work for them), in inventory order. */
  alreadyUpgraded: string[];
  /**
   * Cloud workers (those the worker's `cloudNodeLabel` marks) still to upgrade, in worker order: the
   * prepare phase runs on them before the masters. Empty when there are none (the phase is skipped).
   */
  prepare: string[];
}

/**
 * Plans the upgrade of `inv` to `target`: masters by name, then cloud before edge workers, skipping
 * nodes already at the target and Ready; the labelled cloud workers among them are prepared first.
 * The first master left gets role 'first-control-plane' (it runs `kubeadm upgrade apply`) unless
 * that already happened; the others get 'control-plane'.
 */
export function planNodes(inv: ClusterInventory, target: KubeVersion): UpgradePlan {
  const masters = orderMasters(inv.nodes);
  const applied = kubeadmApplyDone(inv.controlPlaneVersion, masters, target);
  const todoMasters: PlannedMaster[] = [];
  masters.forEach((m, i) => {
    if (nodeIsDone(m, target)) return;
    const role: NodeRole = !applied && todoMasters.length === 0 ? 'first-control-plane' : 'control-plane';
    todoMasters.push({ name: m.name, serial: i + 1, role });
  });
  const workers = orderWorkers(inv.nodes);
  const todoWorkers = workers.filter((w) => !nodeIsDone(w, target));
  return {
    masters: { total: masters.length, todo: todoMasters },
    workers: { total: workers.length, todo: todoWorkers.map((w) => w.name) },
    alreadyUpgraded: inv.nodes.filter((n) => nodeIsDone(n, target)).map((n) => n.name),
    prepare: todoWorkers.filter((w) => w.cloud === true).map((w) => w.name),
  };
}

/**
 * True when `kubeadm upgrade apply` (once per cluster) has already run for `target`: the API server
 * or any master is at the target. A re-run then upgrades every master left as 'control-plane'.
 */
function kubeadmApplyDone(controlPlaneVersion: string, masters: readonly ClusterNode[], target: KubeVersion): boolean {
  if (sameVersion(parseVersion(controlPlaneVersion, 'controlPlaneVersion'), target)) return true;
  return masters.some((m) => {
    const v = nodeVersion(m);
    return v !== null && sameVersion(v, target);
  });
}

/**
 * The workers left, split into batches of 1, 2, 4, … with no pause in between. The cap is
 * `maxBatchSize` of the cluster's total worker count, as in the workflow, not of the workers left.
 */
export function workerBatches(plan: UpgradePlan, percent?: number): string[][] {
  const todo = plan.workers.todo;
  const batches: string[][] = [];
  let at = 0;
  for (const size of batchSizes(todo.length, maxBatchSize(plan.workers.total, percent))) {
    batches.push(todo.slice(at, at + size));
    at += size;
  }
  return batches;
}

/** The master that runs `kubeadm upgrade apply` (role 'first-control-plane'), or null when none does. */
export function firstControlPlane(plan: UpgradePlan): string | null {
  return plan.masters.todo.find((m) => m.role === 'first-control-plane')?.name ?? null;
}
