/**
 * The planning step of `upgradeCluster`, once per upgrade (not per run): inventory, version rules,
 * the node plan (order, serials, who runs `kubeadm upgrade apply`) and the pre-check.
 */
import { ActivityFailure, ApplicationFailure, deprecatePatch, isCancellation, patched } from '@temporalio/workflow';
import { ErrorType, isInvalidUpgradeRequest } from '../planning/errors.js';
import { needsHops, planHops, type HopStep } from '../planning/hops.js';
import { planNodes } from '../planning/plan.js';
import { precheckBlocker, precheckVerdict } from '../planning/precheck.js';
import { probeActivityTimeoutMs, probesDisabledItem } from '../planning/probe-items.js';
import type { ClusterInventory, PrecheckItem } from '../planning/types.js';
import { checkNoNodeDowngrade, checkTargetVersion, checkVersionSkew, parseVersion, type KubeVersion } from '../planning/versions.js';
import { Patch } from './patches.js';
import { failInvalid, type UpgradeRun } from './upgrade-run.js';

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
  const hops = checkVersions(run, inv, target);

  // Order, serials and roles (who runs `kubeadm upgrade apply`) come from the plan `edge-upgrade plan` previews.
  const plan = planNodes(inv, target);
  if (hops) state.planHops(hops, plan.masters.total, plan.workers.total);
  else state.plan(plan.masters, plan.workers);
  state.planPrepare(plan.prepare);
  publish();

  const deferOffline = request.offline === 'defer';
  const args = {
    ...ref,
    ...(deferOffline ? { deferOffline } : {}),
    ...(hops ? { hops: hops.map((h) => h.version) } : {}),
    drainTimeoutMs: request.drainTimeoutMs,
  };
  const items = await activities.within5Minutes.precheck.executeWithOptions(
    { summary: `precheck ${ref.clusterId} → ${ref.targetVersion}` },
    [args],
  );
  deprecatePatch(Patch.NodeProbes);
  items.push(...(await probeNodes(run, inv.nodes.length, hops)));
  const report = { status: precheckVerdict(items), items };
  state.setPrecheck(report);
  const blocker = precheckBlocker(report, request.request.acceptWarnings ?? false);
  if (blocker) state.failed(blocker);
  else if (deferOffline) deferOfflineWorkers(run, inv);
  publish();
}

/**
 * The node-level pre-check items (`probeNodes`), or one item saying they were skipped: disabled by
 * the request, or the activity could not run (a warning naming why, not a failed upgrade).
 */
async function probeNodes(run: UpgradeRun, nodeCount: number, hops: HopStep[] | null): Promise<PrecheckItem[]> {
  const { request, ref, activities } = run;
  const probes = request.nodeProbes;
  if (!probes.enabled) return [probesDisabledItem()];
  try {
    return await activities.within5Minutes.probeNodes.executeWithOptions(
      {
        summary: `probe nodes of ${ref.clusterId} (read-only)`,
        startToCloseTimeout: probeActivityTimeoutMs(nodeCount, probes.concurrency, probes.timeoutMs, 5 * 60_000),
        heartbeatTimeout: 60_000,
        retry: { maximumAttempts: 2 },
      },
      [
        {
          ...ref,
          ...(request.offline === 'defer' ? { deferOffline: true } : {}),
          ...(request.request.upgradeImage ? { upgradeImage: request.request.upgradeImage } : {}),
          concurrency: probes.concurrency,
          timeoutMs: probes.timeoutMs,
          // Older code did not pass them: its histories replay without the marker.
          ...(hops && patched(Patch.ProbeHops) ? { hops: hops.map((h) => h.version) } : {}),
        },
      ],
    );
  } catch (err) {
    if (isCancellation(err)) throw err;
    const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
    const message = cause instanceof Error ? cause.message : String(cause);
    return [{ id: 'node-probes', result: 'warning', message: `the node probes could not run: ${message}`, nodes: [] }];
  }
}

/** With offline 'defer': workers offline at pre-check time wait in `workers.deferred` from the start. */
function deferOfflineWorkers(run: UpgradeRun, inv: ClusterInventory): void {
  const now = new Date().toISOString();
  for (const n of inv.nodes) {
    if (n.kind === 'worker' && !n.ready && run.state.todoWorkers.includes(n.name)) {
      run.state.workers.defer(n.name, now, `${n.name} was offline at pre-check time (NotReady)`);
    }
  }
}

/**
 * The version rules, before anything is touched: a multi-minor target is planned as hops (or
 * refused when the configured versions cannot plan it); any other target is checked as before.
 * Returns the hops, or null for a single-minor upgrade.
 */
function checkVersions(run: UpgradeRun, inv: ClusterInventory, target: KubeVersion): HopStep[] | null {
  const { state, request, publish } = run;
  try {
    const controlPlane = parseVersion(inv.controlPlaneVersion, 'controlPlaneVersion');
    if (needsHops(target, controlPlane)) {
      // Only a multi-minor target marks the patch: every other upgrade's history stays as it was.
      deprecatePatch(Patch.MultiMinorHops);
      const { via } = request.request;
      return planHops({
        controlPlane: inv.controlPlaneVersion,
        target: request.targetVersion,
        nodes: inv.nodes,
        via,
        configured: inv.versions,
      });
    }
    checkTargetVersion(target, controlPlane);
    checkNoNodeDowngrade(inv.nodes, target);
    deprecatePatch(Patch.VersionSkew);
    checkVersionSkew(target, controlPlane, inv.nodes);
    return null;
  } catch (err) {
    if (isInvalidUpgradeRequest(err)) throw failInvalid(state, publish, err);
    throw err;
  }
}
