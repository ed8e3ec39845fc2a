/**
 * Cordon and uncordon, idempotent as in kubectl: read, compare, act only if needed. "Cordoned by
 * us" is recorded on the Node itself (annotation {@link CORDONED_BY_ANNOTATION}), so a node that
 * someone else cordoned is never uncordoned, and a retry after a crash knows what it did.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { CoreV1Api, V1Node } from '@kubernetes/client-node';
import { ErrorType } from '../planning/errors.js';
import { CORDONED_BY_ANNOTATION } from '../planning/labels.js';
import { nodeEvent } from './events.js';
import { mergePatch, rethrowInvalid, statusOf, type KubeClients } from './kube.js';
import type { NodeStepArgs } from './types.js';

/** True if `node` is cordoned and our annotation names `upgradeId`. */
export function cordonedBy(node: V1Node, upgradeId: string): boolean {
  return node.metadata?.annotations?.[CORDONED_BY_ANNOTATION] === upgradeId;
}

/** Reads the node; null when it no longer exists. */
async function readNodeIfExists(core: CoreV1Api, name: string): Promise<V1Node | null> {
  try {
    return await core.readNode({ name });
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
}

/** Implements `cordonNode`. A node deleted from the cluster fails non-retryable 'NodeRemoved': the workflow skips it. */
export async function cordonNode(clients: KubeClients, args: NodeStepArgs): Promise<{ cordonedByUs: boolean }> {
  const { core } = clients.for(args.clusterId);
  const node = await readNodeIfExists(core, args.node);
  if (!node) throw ApplicationFailure.nonRetryable(`node ${args.node} no longer exists in cluster ${args.clusterId}; it is skipped`, ErrorType.NodeRemoved);
  if (node.spec?.unschedulable) return { cordonedByUs: cordonedBy(node, args.upgradeId) };
  try {
    // resourceVersion makes the patch conditional: if someone cordons it meanwhile we get a 409 and re-read on retry.
    await core.patchNode(
      {
        name: args.node,
        body: { metadata: { resourceVersion: node.metadata?.resourceVersion, annotations: { [CORDONED_BY_ANNOTATION]: args.upgradeId } }, spec: { unschedulable: true } },
      },
      mergePatch,
    );
  } catch (err) {
    rethrowInvalid(err, args.node, 'cordon', 'cordoning');
  }
  await nodeEvent(core, { node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, reason: 'UpgradeCordoned', message: `edge-upgrade ${args.upgradeId}: cordoned ${args.node} before upgrading it to ${args.targetVersion}` });
  return { cordonedByUs: true };
}

/** Removes our cordon and annotation from `node` if this upgrade cordoned it. Returns whether it did. */
export async function uncordonIfOurs(clients: KubeClients, args: { clusterId: string; upgradeId: string; targetVersion: string; node: string; reason: string }): Promise<boolean> {
  const { core } = clients.for(args.clusterId);
  const node = await readNodeIfExists(core, args.node);
  if (!node || !cordonedBy(node, args.upgradeId)) return false;
  try {
    await core.patchNode(
      {
        name: args.node,
        body: { metadata: { resourceVersion: node.metadata?.resourceVersion, annotations: { [CORDONED_BY_ANNOTATION]: null } }, spec: { unschedulable: false } },
      },
      mergePatch,
    );
  } catch (err) {
    rethrowInvalid(err, args.node, 'uncordon', 'uncordoning');
  }
  await nodeEvent(core, { node: args.node, upgradeId: args.upgradeId, targetVersion: args.targetVersion, reason: 'UpgradeUncordoned', message: `edge-upgrade ${args.upgradeId}: uncordoned ${args.node} (${args.reason})` });
  return true;
}

/** Implements `uncordonNode`. */
export async function uncordonNode(clients: KubeClients, args: NodeStepArgs): Promise<{ uncordoned: boolean }> {
  return { uncordoned: await uncordonIfOurs(clients, { ...args, reason: `this upgrade no longer needs it cordoned` }) };
}
