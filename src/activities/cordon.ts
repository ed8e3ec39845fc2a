/**
 * Cordon and uncordon, idempotent as in kubectl: read, compare, act only if needed. "Cordoned by
 * us" is recorded on the Node itself (annotation {@link CORDONED_BY_ANNOTATION}), so a node that
 * someone else cordoned is never uncordoned, and a retry after a crash knows what it did.
 */
import type { V1Node } from '@kubernetes/client-node';
import { CORDONED_BY_ANNOTATION } from '../planning/labels.js';
import { nodeEvent } from './events.js';
import { mergePatch, rethrowInvalid, type KubeClients } from './kube.js';
import type { NodeStepArgs } from './types.js';

/** True if `node` is cordoned and our annotation names `upgradeId`. */
export function cordonedBy(node: V1Node, upgradeId: string): boolean {
  return node.metadata?.annotations?.[CORDONED_BY_ANNOTATION] === upgradeId;
}

/** Implements `cordonNode`. */
export async function cordonNode(clients: KubeClients, args: NodeStepArgs): Promise<{ cordonedByUs: boolean }> {
  const { core } = clients.for(args.clusterId);
  const node = await core.readNode({ name: args.node });
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
  const node = await core.readNode({ name: args.node });
  if (!cordonedBy(node, args.upgradeId)) return false;
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
