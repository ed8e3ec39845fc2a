/**
 * The planning step of `upgradeCluster`, once per upgrade (not per run): inventory, version rules,
 * the node plan (order, serials, who runs `kubeadm upgrade apply`) and the pre-check.
 */
import { ActivityFailure, ApplicationFailure, patched } from '@temporalio/workflow';
import { ErrorType, isInvalidUpgradeRequest } from '../planning/errors.js';
import { planNodes } from '../planning/plan.js';
import { precheckBlocker, precheckVerdict } from '../planning/precheck.js';
import type { ClusterInventory } from '../planning/types.js';
import { checkNoNodeDowngrade, checkTargetVersion, checkVersionSkew, parseVersion } from '../planning/versions.js';
import { failInvalid, type UpgradeRun } from './upgrade-run.js';

/**
 * Patch IDs for `patched()`: each guards a change that would make a recorded history of older code
 * take a different path (a new command, or a command no longer issued). Keep them until no upgrade
 * started before the change can still be running, then remove the check with `deprecatePatch()`.
 */
export const Patch = {
  /** checkVersionSkew: a managed control plane's kubelets may not pass kube-apiserver; no kubelet over three minors behind. */
  VersionSkew: 'version-skew-check',
  /** The health gate after each master and worker batch (a new activity between nodes). */
  HealthGate: 'health-gate',
  /** The progress published in the memo (PROGRESS_MEMO) whenever it changes, and handed on through continue-as-new. */
  ProgressMemo: 'progress-memo',
} as const;

/** Inventory, version rules and the pre-check; fixes the node order and roles. Runs once per upgrade, not per run. */
export async function planUpgrade(run: UpgradeRun): Promise<void> {
  const { state, request, ref, activities, publish } = run;
  let inv: ClusterInventory;
  try {
    inv = await activities.within5Minutes.inventory.executeWithOptions({ summary: `inventory ${ref.clusterId}` }, [
      ref.clusterId,
      {
        upgradeImage: request.request.upgradeImage,
        ...(request.gate.checks.length > 0 && request.gate.stableForMs > 0 ? { gateChecks: request.gate.checks } : {}),
      },
    ]);
  } catch (err) {
    if (
      err instanceof ActivityFailure &&
      err.cause instanceof ApplicationFailure &&
      (err.cause.type === ErrorType.UnknownCluster || err.cause.type === ErrorType.InvalidUpgradeRequest)
    ) {
      throw failInvalid(state, publish, new Error(err.cause.message || `unknown cluster '${ref.clusterId}'`));
    }
    throw err;
  }
  const target = parseVersion(request.targetVersion);
  try {
    const controlPlane = parseVersion(inv.controlPlaneVersion, 'controlPlaneVersion');
    checkTargetVersion(target, controlPlane);
    checkNoNodeDowngrade(inv.nodes, target);
    // Added after upgrades had started with the older code: those replay without it (see README, "Changing workflow code").
    if (patched(Patch.VersionSkew)) checkVersionSkew(target, controlPlane, inv.nodes);
  } catch (err) {
    if (isInvalidUpgradeRequest(err)) throw failInvalid(state, publish, err);
    throw err;
  }

  // Order, serials and roles (who runs `kubeadm upgrade apply`) come from the plan `edge-upgrade plan` previews.
  const plan = planNodes(inv, target);
  state.plan(plan.masters, plan.workers);
  publish();

  const deferOffline = request.offline === 'defer';
  const items = await activities.within5Minutes.precheck.executeWithOptions(
    { summary: `precheck ${ref.clusterId} → ${ref.targetVersion}` },
    [deferOffline ? { ...ref, deferOffline } : ref],
  );
  const report = { status: precheckVerdict(items), items };
  state.setPrecheck(report);
  const blocker = precheckBlocker(report, request.request.acceptWarnings ?? false);
  if (blocker) state.failed(blocker);
  else if (deferOffline) deferOfflineWorkers(run, inv);
  publish();
}

/** With offline 'defer': workers offline at pre-check time wait in `workers.deferred` from the start. */
function deferOfflineWorkers(run: UpgradeRun, inv: ClusterInventory): void {
  const now = new Date().toISOString();
  for (const n of inv.nodes) {
    if (n.kind === 'worker' && !n.ready && run.state.todoWorkers.includes(n.name)) {
      run.state.defer(n.name, now, `${n.name} was offline at pre-check time (NotReady)`);
    }
  }
}
