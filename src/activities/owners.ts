/**
 * The controllers of pods, for the health gate and for drain's result: a pod's ReplicaSet is read
 * to find its Deployment (best effort: a ReplicaSet that cannot be read is resolved from its name,
 * see planning/health.ts `podOwner`).
 */
import type { V1Pod } from '@kubernetes/client-node';
import pLimit from 'p-limit';
import { deploymentOfReplicaSet, gateOwners, podOwner, replicaSetsOf, type ReplicaSetOwners } from '../planning/health.js';
import type { Kube } from './kube.js';

/** Reads the ReplicaSets that control `pods` (those not in `known` yet) and adds what they belong to. Never throws. */
export async function resolveReplicaSets(kube: Kube, pods: V1Pod[], known: ReplicaSetOwners = new Map()): Promise<ReplicaSetOwners> {
  const limit = pLimit(8);
  await Promise.all(
    replicaSetsOf(pods)
      .filter((key) => !known.has(key))
      .map((key) =>
        limit(async () => {
          const [namespace, name] = key.split('/') as [string, string];
          try {
            known.set(key, deploymentOfReplicaSet(await kube.apps.readNamespacedReplicaSet({ name, namespace })));
          } catch {
            known.set(key, undefined);
          }
        }),
      ),
  );
  return known;
}

/** The Deployments and StatefulSets controlling `pods`, as 'Deployment/<ns>/<name>', deduplicated and sorted. Never throws. */
export async function podControllers(kube: Kube, pods: V1Pod[]): Promise<string[]> {
  const replicaSets = await resolveReplicaSets(kube, pods);
  return gateOwners(pods.map((p) => podOwner(p, replicaSets)));
}
