/**
 * Empties a shared test control plane for the next test file: every Node, Pod, Lease in
 * kube-node-lease, Event, workload, PodDisruptionBudget and namespace a test or the product made,
 * and the RBAC objects that deploy/rbac.yaml applies. What the control plane made itself stays: the
 * system namespaces, the `default` ServiceAccount, `kube-root-ca.crt`, the `kubernetes` Service and
 * the `system:` roles. Returns once nothing of the kind is left, so the next file starts from a
 * cluster as new as a fresh one.
 */
import {
  AppsV1Api,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  PolicyV1Api,
  RbacAuthorizationV1Api,
  type KubeConfig,
} from '@kubernetes/client-node';
import { mergePatch } from '../../src/kube/clients.js';
import { eventually } from './poll.js';

const SYSTEM_NAMESPACES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
/** What the API server and controller manager create in `default` and keep there. */
const KEEP_IN_DEFAULT = new Set(['configmaps/kube-root-ca.crt', 'serviceaccounts/default', 'services/kubernetes']);
/** The API server's bootstrap cluster roles and bindings besides the `system:` ones. */
const BOOTSTRAP_RBAC = new Set(['admin', 'edit', 'view', 'cluster-admin']);

const gone = (err: unknown) => {
  const code = (err as { code?: number }).code;
  if (code !== 404 && code !== 409) throw err;
};

/** Deletes what tests leave behind and waits until it is gone (at most a minute). */
export async function resetCluster(kc: KubeConfig): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const namespaces = (await core.listNamespace()).items.map((n) => n.metadata!.name!);
  // Namespaces first: once Terminating, no controller can create anything more in them.
  await Promise.all(namespaces.filter((n) => !SYSTEM_NAMESPACES.has(n)).map((name) => core.deleteNamespace({ name }).catch(gone)));
  await deletePods(core);
  await Promise.all(namespaces.map((namespace) => deleteNamespaced(kc, namespace)));
  await deleteClusterScoped(kc);
  await eventually(
    'the shared control plane to be empty',
    async () => {
      const [ns, nodes, pods] = await Promise.all([core.listNamespace(), core.listNode(), core.listPodForAllNamespaces()]);
      const left = ns.items.filter((n) => !SYSTEM_NAMESPACES.has(n.metadata!.name!));
      if (pods.items.length > 0) await deletePods(core);
      return left.length === 0 && nodes.items.length === 0 && pods.items.length === 0;
    },
    60_000,
    200,
  );
}

/** Deletes every pod at once (no kubelet is left to finalize them), finalizers removed. */
async function deletePods(core: CoreV1Api): Promise<void> {
  const pods = (await core.listPodForAllNamespaces()).items;
  await Promise.all(
    pods.map(async (p) => {
      const ref = { name: p.metadata!.name!, namespace: p.metadata!.namespace! };
      if (p.metadata?.finalizers?.length)
        await core.patchNamespacedPod({ ...ref, body: { metadata: { finalizers: null } } }, mergePatch).catch(gone);
      await core.deleteNamespacedPod({ ...ref, gracePeriodSeconds: 0 }).catch(gone);
    }),
  );
}

/** Workloads, PDBs, Events and (outside kube-system) what tests made in `namespace`. */
async function deleteNamespaced(kc: KubeConfig, namespace: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const policy = kc.makeApiClient(PolicyV1Api);
  const ns = { namespace };
  await Promise.all([
    apps.deleteCollectionNamespacedDeployment(ns),
    apps.deleteCollectionNamespacedDaemonSet(ns),
    apps.deleteCollectionNamespacedStatefulSet(ns),
    apps.deleteCollectionNamespacedReplicaSet(ns),
    batch.deleteCollectionNamespacedJob(ns),
    policy.deleteCollectionNamespacedPodDisruptionBudget(ns),
    core.deleteCollectionNamespacedEvent(ns),
  ]).catch(gone);
  if (namespace === 'kube-system') return; // its Leases, roles and ServiceAccounts are the control plane's own
  if (namespace === 'kube-node-lease') await kc.makeApiClient(CoordinationV1Api).deleteCollectionNamespacedLease(ns).catch(gone);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const named = async (
    kind: string,
    list: Promise<{ items: Array<{ metadata?: { name?: string } }> }>,
    del: (name: string) => Promise<unknown>,
  ) => {
    for (const o of (await list).items) {
      const name = o.metadata!.name!;
      if (name.startsWith('system:') || (namespace === 'default' && KEEP_IN_DEFAULT.has(`${kind}/${name}`))) continue;
      await del(name).catch(gone);
    }
  };
  await Promise.all([
    named('roles', rbac.listNamespacedRole(ns), (name) => rbac.deleteNamespacedRole({ name, namespace })),
    named('rolebindings', rbac.listNamespacedRoleBinding(ns), (name) => rbac.deleteNamespacedRoleBinding({ name, namespace })),
    named('configmaps', core.listNamespacedConfigMap(ns), (name) => core.deleteNamespacedConfigMap({ name, namespace })),
    named('secrets', core.listNamespacedSecret(ns), (name) => core.deleteNamespacedSecret({ name, namespace })),
    named('serviceaccounts', core.listNamespacedServiceAccount(ns), (name) => core.deleteNamespacedServiceAccount({ name, namespace })),
    named('services', core.listNamespacedService(ns), (name) => core.deleteNamespacedService({ name, namespace })),
  ]);
}

/** Nodes, and cluster roles and bindings that are not the API server's own. */
async function deleteClusterScoped(kc: KubeConfig): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await core.deleteCollectionNode({}).catch(gone);
  const ours = (items: Array<{ metadata?: { name?: string } }>) =>
    items.map((o) => o.metadata!.name!).filter((name) => !name.startsWith('system:') && !BOOTSTRAP_RBAC.has(name));
  const [roles, bindings] = await Promise.all([rbac.listClusterRole(), rbac.listClusterRoleBinding()]);
  await Promise.all([
    ...ours(roles.items).map((name) => rbac.deleteClusterRole({ name }).catch(gone)),
    ...ours(bindings.items).map((name) => rbac.deleteClusterRoleBinding({ name }).catch(gone)),
  ]);
}
