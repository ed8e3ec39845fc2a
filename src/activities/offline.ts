/**
 * Offline workers and the failure budget: waiting (by watch) for deferred nodes to come back, and
 * quarantining a failed worker so the upgrade can go on without it.
 */
import type { V1Node } from '@kubernetes/client-node';
import { QUARANTINE_REASON_ANNOTATION, QUARANTINED_LABEL } from '../planning/labels.js';
import { labelValue } from '../planning/names.js';
import { EventRecorder } from './events.js';
import { offlineNow } from './cordon.js';
import { mergePatch } from '../kube/clients.js';
import { cancelled, heartbeat, withApiRetry, type Kube, type KubeClients } from './kube.js';
import type { NodeStepArgs, UpgradeRef } from './types.js';
import type { Subscription } from './shared-watch.js';

/** How often the wait re-reads the candidates' Leases (Leases are not watched), in ms. */
const LEASE_RECHECK_MS = 10_000;

/** Longest an annotation with an error message may be. */
const MAX_REASON = 1_000;

/** The node as the watch last delivered it, or read afresh when the watch may have missed changes. */
async function current(kube: Kube, sub: Subscription<V1Node>): Promise<V1Node | null> {
  if (sub.deleted) return null;
  if (sub.current && !sub.stale && kube.watches.nodes.healthy) return sub.current;
  sub.stale = false;
  try {
    return await kube.core.readNode({ name: sub.name });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return null;
    throw err;
  }
}

/**
 * Implements `waitForNodesOnline`: returns as soon as at least one of `nodes` is online (all that
 * are, at that moment), or when `timeoutMs` has passed (then `online` is empty). Nodes deleted from
 * the cluster are returned as `removed`. Watches the nodes (shared watch) and re-reads Leases of
 * Ready candidates every few seconds; heartbeats throughout, and stops when cancelled.
 */
export async function waitForNodesOnline(
  clients: KubeClients,
  args: UpgradeRef & { nodes: string[]; timeoutMs: number },
): Promise<{ online: string[]; removed: string[] }> {
  const kube = clients.for(args.clusterId);
  const subs = args.nodes.map((n) => kube.watches.nodes.subscribe(n));
  const deadline = Date.now() + args.timeoutMs;
  try {
    for (;;) {
      const result = { online: [] as string[], removed: [] as string[] };
      for (const sub of subs) {
        const node = await withApiRetry(kube, () => current(kube, sub), { forMs: 60_000 });
        if (node === null) result.removed.push(sub.name);
        else if ((await withApiRetry(kube, () => offlineNow(kube, node), { forMs: 60_000 })) === null) result.online.push(sub.name);
      }
      if (result.online.length > 0 || result.removed.length > 0 || Date.now() >= deadline) return result;
      heartbeat({ waitingFor: args.nodes.length });
      const wait = Math.min(LEASE_RECHECK_MS, Math.max(0, deadline - Date.now()));
      await Promise.race([Promise.race(subs.map((s) => s.next(wait))), cancelled()]);
    }
  } finally {
    for (const s of subs) s.close();
  }
}

/**
 * Implements `quarantineNode`: labels the failed worker {@link QUARANTINED_LABEL} (the upgrade) and
 * annotates it with the error; it stays cordoned and its upgrade pod is kept (a cloud worker whose prepare
 * failed was never cordoned; its prepare pod is kept). A Warning Event says so.
 */
export async function quarantineNode(clients: KubeClients, args: NodeStepArgs & { message: string; step?: 'prepare' }): Promise<void> {
  const kube = clients.for(args.clusterId);
  const reason = args.message.length > MAX_REASON ? `${args.message.slice(0, MAX_REASON - 1)}…` : args.message;
  await withApiRetry(
    kube,
    () =>
      kube.core.patchNode(
        {
          name: args.node,
          body: {
            metadata: {
              labels: { [QUARANTINED_LABEL]: labelValue(args.upgradeId) },
              annotations: { [QUARANTINE_REASON_ANNOTATION]: reason },
            },
          },
        },
        mergePatch,
      ),
    { forMs: 45_000 },
  );
  const what = args.step === 'prepare' ? 'its prepare failed; it was not cordoned' : 'its upgrade failed; it stays cordoned';
  const message = `edge-upgrade ${args.upgradeId}: quarantined ${args.node} (${what}): ${reason}`;
  await new EventRecorder(kube.core, args).warning('UpgradeQuarantined', message);
}
