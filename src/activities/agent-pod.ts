/**
 * Agent pods in kube-upgrade (upgrade, prepare and check pods alike): create one (making the
 * namespace admissible first, at most every few minutes), read one back, and read the tail of its
 * log for a failure. Shared by the upgrade-pod and prepare steps.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { UPGRADE_CONTAINER, UPGRADE_NAMESPACE } from '../planning/labels.js';
import type { NodeStep } from '../planning/types.js';
import { ensureUpgradeNamespace } from './namespace.js';
import { apiMessage, statusOf } from '../kube/errors.js';
import { rethrowInvalid, sleep, throwIfCancelled, type Kube } from './kube.js';

/** Lines of the pod's log kept in the failure. */
export const LOG_TAIL_LINES = 20;

/** The last lines of the pod's log, or the container's termination message when the log cannot be read. */
export async function logTail(kube: Kube, pod: V1Pod): Promise<string> {
  try {
    const log = await kube.core.readNamespacedPodLog({
      name: pod.metadata!.name!,
      namespace: UPGRADE_NAMESPACE,
      container: UPGRADE_CONTAINER,
      tailLines: LOG_TAIL_LINES,
    });
    if (typeof log === 'string' && log.trim()) return log.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    // Offline kubelet or log rotated away: fall back to the termination message.
  }
  const terminated = pod.status?.containerStatuses?.find((c) => c.name === UPGRADE_CONTAINER)?.state?.terminated;
  return terminated?.message?.trimEnd() ?? terminated?.reason ?? '';
}

/** The pod `name` in kube-upgrade, or undefined when there is none. */
export async function readPod(kube: Kube, name: string): Promise<V1Pod | undefined> {
  try {
    return await kube.core.readNamespacedPod({ name, namespace: UPGRADE_NAMESPACE });
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** How long a kube-upgrade namespace found admissible is trusted before pods are created in it unchecked, in ms. */
const NAMESPACE_RECHECK_MS = 5 * 60_000;

/** Makes sure kube-upgrade is admissible, at most every {@link NAMESPACE_RECHECK_MS} (or at once with `force`). */
async function ensureNamespace(kube: Kube, force = false): Promise<void> {
  if (!force && kube.namespaceCheckedAt !== undefined && Date.now() - kube.namespaceCheckedAt < NAMESPACE_RECHECK_MS) return;
  await ensureUpgradeNamespace(kube);
  kube.namespaceCheckedAt = Date.now();
}

/**
 * Creates the agent pod `body` in kube-upgrade (making the namespace admissible first); returns
 * undefined when a pod of that name exists already. Refusals fail the node's `step` non-retryably.
 */
export async function createAgentPod(kube: Kube, body: V1Pod, node: string, step: NodeStep): Promise<V1Pod | undefined> {
  const name = body.metadata!.name!;
  await ensureNamespace(kube);
  for (let attempt = 0; ; attempt++) {
    throwIfCancelled();
    try {
      return await kube.core.createNamespacedPod({ namespace: UPGRADE_NAMESPACE, body });
    } catch (err) {
      if (statusOf(err) === 409) return undefined;
      // The namespace went away since it was checked: make it again.
      if (statusOf(err) === 404 && attempt === 0) {
        await ensureNamespace(kube, true);
        continue;
      }
      // A namespace we just created has no default ServiceAccount for a moment; admission refuses pods until it does.
      if (statusOf(err) === 403 && /serviceaccount/i.test(apiMessage(err)) && attempt < 60) {
        await sleep(500);
        continue;
      }
      const what = step === 'upgrade-pod' ? 'upgrade' : step;
      rethrowInvalid(err, node, step, `creating ${what} pod ${UPGRADE_NAMESPACE}/${name}`);
    }
  }
}
