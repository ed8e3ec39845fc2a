/**
 * Namespace kube-upgrade: created when missing, and kept admissible for the privileged upgrade pods
 * (Pod Security admission level 'privileged'), so clusters that default to 'baseline' run them too.
 */
import { POD_SECURITY_ENFORCE_LABEL, POD_SECURITY_ENFORCE_VALUE, UPGRADE_NAMESPACE } from '../planning/labels.js';
import { buildUpgradeNamespace } from '../planning/upgrade-pod.js';
import { mergePatch } from '../kube/clients.js';
import { statusOf } from '../kube/errors.js';
import type { Kube } from './kube.js';

/**
 * Creates kube-upgrade if missing (labelled managed-by and Pod Security 'privileged'); on an existing
 * one (made by deploy/rbac.yaml, an older version or an operator) sets the Pod Security label when it
 * says anything else. Read, compare, then act.
 */
export async function ensureUpgradeNamespace(kube: Kube): Promise<void> {
  let labels: Record<string, string> | undefined;
  try {
    labels = (await kube.core.readNamespace({ name: UPGRADE_NAMESPACE })).metadata?.labels ?? {};
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
  if (labels === undefined) {
    try {
      await kube.core.createNamespace({ body: buildUpgradeNamespace() });
      return;
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      labels = (await kube.core.readNamespace({ name: UPGRADE_NAMESPACE })).metadata?.labels ?? {};
    }
  }
  if (labels[POD_SECURITY_ENFORCE_LABEL] === POD_SECURITY_ENFORCE_VALUE) return;
  await kube.core.patchNamespace(
    { name: UPGRADE_NAMESPACE, body: { metadata: { labels: { [POD_SECURITY_ENFORCE_LABEL]: POD_SECURITY_ENFORCE_VALUE } } } },
    mergePatch,
  );
}
