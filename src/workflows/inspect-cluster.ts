/**
 * `inspectCluster`: a short workflow the CLI's `precheck` and `plan` use to read a cluster through
 * the worker, which alone holds the cluster's credentials. It touches nothing.
 */
import { patched, proxyActivities } from '@temporalio/workflow';
import type { UpgradeActivities } from '../activities/types.js';
import { ErrorType } from '../planning/errors.js';
import { needsHops, planHops } from '../planning/hops.js';
import { precheckVerdict } from '../planning/precheck.js';
import { probeActivityTimeoutMs } from '../planning/probe-items.js';
import { parseVersion } from '../planning/versions.js';
import type { ClusterInventory, PrecheckReport } from '../planning/types.js';
import { workflowIdFor } from './definitions.js';
import { Patch } from './patches.js';

const retry = { maximumAttempts: 3, nonRetryableErrorTypes: [ErrorType.UnknownCluster, ErrorType.InvalidUpgradeRequest] };
const { inventory, precheck, probeNodes } = proxyActivities<UpgradeActivities>({ startToCloseTimeout: '2 minutes', retry });

/** What `inspectCluster` returns. */
export interface ClusterInspection {
  inventory: ClusterInventory;
  precheck: PrecheckReport | null;
}

/** What `inspectCluster` takes. */
export interface InspectArgs {
  clusterId: string;
  targetVersion: string;
  runPrecheck: boolean;
  /** Intermediate versions for a multi-minor target (`--via`). */
  via?: string[];
  /** With the pre-check: run the node probes too (the CLI sends it unless --no-node-probes; older CLIs never do). */
  nodeProbes?: { concurrency: number; timeoutMs: number; upgradeImage?: string };
  /** The drain timeout the pre-check holds pods' grace periods against, in ms (older CLIs never send it). */
  drainTimeoutMs?: number;
}

/**
 * Reads the cluster's nodes and, with `runPrecheck`, runs the pre-check (and the node probes) for
 * `targetVersion`; for a multi-minor target through the hops `via` and the worker's `versions` allow
 * (when they cannot plan the path, the pre-check's version item says why).
 */
export async function inspectCluster(args: InspectArgs): Promise<ClusterInspection> {
  const inv = await inventory(args.clusterId);
  if (!args.runPrecheck) return { inventory: inv, precheck: null };
  const ref = { clusterId: args.clusterId, targetVersion: args.targetVersion, upgradeId: workflowIdFor(args.clusterId) };
  const drain = args.drainTimeoutMs !== undefined ? { drainTimeoutMs: args.drainTimeoutMs } : {};
  const hops = hopsFor(inv, args.targetVersion, args.via);
  const items = await precheck({ ...ref, ...hops, ...drain });
  if (args.nodeProbes) {
    const { concurrency, timeoutMs } = args.nodeProbes;
    items.push(
      ...(await probeNodes.executeWithOptions(
        {
          summary: `probe nodes of ${args.clusterId} (read-only)`,
          startToCloseTimeout: probeActivityTimeoutMs(inv.nodes.length, concurrency, timeoutMs, 60_000),
          heartbeatTimeout: 60_000,
        },
        [{ ...ref, ...args.nodeProbes, ...(hops.hops && patched(Patch.ProbeHops) ? hops : {}) }],
      )),
    );
  }
  return { inventory: inv, precheck: { status: precheckVerdict(items), items } };
}

/** `{ hops }` when the target needs hops and they can be planned; else nothing. */
function hopsFor(inv: ClusterInspection['inventory'], targetVersion: string, via: string[] | undefined): { hops?: string[] } {
  try {
    if (!needsHops(parseVersion(targetVersion), parseVersion(inv.controlPlaneVersion, 'controlPlaneVersion'))) return {};
    const steps = planHops({
      controlPlane: inv.controlPlaneVersion,
      target: targetVersion,
      nodes: inv.nodes,
      via,
      configured: inv.versions,
    });
    return { hops: steps.map((h) => h.version) };
  } catch {
    return {};
  }
}
