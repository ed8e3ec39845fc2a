/**
 * Acceptance: the activities need no more than deploy/rbac.yaml grants. The worker's kubeconfig
 * carries a token of ServiceAccount kube-upgrade/edge-upgrade (TokenRequest API), and an upgrade
 * through it drains, fails, resumes, succeeds and, on a pause timeout, deletes its records.
 */
import { AppsV1Api, CoordinationV1Api, CoreV1Api, KubeConfig, PolicyV1Api } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pauseUpgrade, resumeUpgrade, startUpgrade } from '../../src/api.js';
import { SIM_FAIL_UPGRADE_LABEL, TARGET_VERSION_LABEL, UPGRADE_NAMESPACE } from '../../src/planning/labels.js';
import { type TestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/poll.js';
import { k8sBinDir } from '../helpers/tools.js';
import {
  CLUSTER_ID,
  cordonedByUs,
  nodes,
  ourEvents,
  progressUntil,
  setNodeLabel,
  startHarness,
  upgradePods,
  type Harness,
} from './upgrade-harness.js';
import { NO_GATE } from '../helpers/requests.js';

const RBAC = fileURLToPath(new URL('../../deploy/rbac.yaml', import.meta.url));
let h: Harness;
let restricted: KubeConfig;

/** Applies deploy/rbac.yaml with kubectl and returns a kubeconfig that authenticates as the ServiceAccount. */
async function serviceAccountKubeconfig(cluster: TestCluster): Promise<string> {
  const admin = cluster.controlPlane.kubeconfigPath;
  execFileSync(join(k8sBinDir(), 'kubectl'), ['--kubeconfig', admin, 'apply', '-f', RBAC], { encoding: 'utf8' });
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const tr = await eventually('a ServiceAccount token', () =>
    core.createNamespacedServiceAccountToken({
      name: 'edge-upgrade',
      namespace: UPGRADE_NAMESPACE,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    }),
  );
  const path = `${admin}.edge-upgrade-sa`;
  writeFileSync(path, readFileSync(admin, 'utf8').replace(/^(\s+token:).*$/m, `$1 ${tr.status!.token}`), { mode: 0o600 });
  restricted = new KubeConfig();
  restricted.loadFromFile(path);
  return path;
}

beforeAll(async () => {
  h = await startHarness({ shape: { controlPlanes: 1, cloudWorkers: 1, edgeWorkers: 4 }, kubeconfig: serviceAccountKubeconfig });
}, 180_000);

afterAll(async () => {
  await h?.stop();
}, 60_000);

test('the ServiceAccount is really restricted: it cannot create pods outside kube-upgrade', async () => {
  const core = restricted.makeApiClient(CoreV1Api);
  const err = await core
    .createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'x' }, spec: { containers: [{ name: 'x', image: 'x' }] } } })
    .then(
      () => undefined,
      (e: unknown) => e as { code?: number },
    );
  expect(err?.code).toBe(403);
});

test('the ServiceAccount reads node Leases (the success check wants a renewal after the pod) but cannot change them', async () => {
  const leases = restricted.makeApiClient(CoordinationV1Api);
  const name = [...(await nodes(h)).keys()][0]!;
  const lease = await leases.readNamespacedLease({ name, namespace: 'kube-node-lease' });
  expect(lease.spec?.holderIdentity).toBe(name);
  const err = await leases.deleteNamespacedLease({ name, namespace: 'kube-node-lease' }).then(
    () => undefined,
    (e: unknown) => e as { code?: number },
  );
  expect(err?.code).toBe(403);
});

test('an upgrade with a PDB, a failure and a resume succeeds with only the deploy/ RBAC', async () => {
  const apps = h.cluster.kubeConfig.makeApiClient(AppsV1Api);
  const policy = h.cluster.kubeConfig.makeApiClient(PolicyV1Api);
  await apps.createNamespacedDeployment({
    namespace: 'default',
    body: {
      metadata: { name: 'web' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'a', image: 'x' }] },
        },
      },
    },
  });
  await policy.createNamespacedPodDisruptionBudget({
    namespace: 'default',
    body: { metadata: { name: 'web' }, spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } } },
  });
  await eventually(
    'the PDB observed',
    async () => (await policy.readNamespacedPodDisruptionBudget({ name: 'web', namespace: 'default' })).status?.disruptionsAllowed === 1,
    60_000,
  );
  await setNodeLabel(h, 'edge-002', SIM_FAIL_UPGRADE_LABEL, 'true');

  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: 'v1.34.4' });
  const paused = await progressUntil(h, 'an auto-pause', (p) => p.state !== 'running');
  expect(paused).toMatchObject({ state: 'paused', lastError: { node: 'edge-002', step: 'upgrade-pod' } });
  // Read through pods/log with the restricted token.
  expect(paused.lastError?.logTail).toContain('kubeadm upgrade failed on edge-002');
  await setNodeLabel(h, 'edge-002', SIM_FAIL_UPGRADE_LABEL, null);
  await resumeUpgrade(h.env.client, CLUSTER_ID);
  const done = await progressUntil(h, 'the upgrade to finish', (p) => p.state !== 'running' && p.state !== 'paused');
  expect(done.state).toBe('succeeded');
  const all = await nodes(h);
  expect([...all.values()].every((n) => n.status?.nodeInfo?.kubeletVersion === 'v1.34.4' && !n.spec?.unschedulable)).toBe(true);
  expect((await upgradePods(h)).filter((p) => p.status?.phase === 'Failed')).toEqual([]);
  // Events were written (they are best effort, so a missing permission would only show here).
  expect((await ourEvents(h, 'default', `,${TARGET_VERSION_LABEL}=v1.34.4`)).length).toBeGreaterThan(0);
  expect((await ourEvents(h, UPGRADE_NAMESPACE, `,${TARGET_VERSION_LABEL}=v1.34.4`)).length).toBeGreaterThan(0);
}, 240_000);

test('a pause timeout deletes the records with only the deploy/ RBAC', async () => {
  const TARGET = 'v1.34.5';
  await startUpgrade(h.env.client, { clusterId: CLUSTER_ID, gate: NO_GATE, targetVersion: TARGET, pauseTimeout: '3s' });
  await progressUntil(h, 'the master upgraded', (p) => p.masters.upgraded >= 1 || p.state !== 'running');
  await pauseUpgrade(h.env.client, CLUSTER_ID);
  expect((await ourEvents(h, 'default', `,${TARGET_VERSION_LABEL}=${TARGET}`)).length).toBeGreaterThan(0);
  const cancelled = await progressUntil(h, 'auto-cancelled', (p) => p.state === 'cancelled', 60_000);
  expect(cancelled.cancelReason).toBe('pause-timeout');
  expect((await upgradePods(h)).filter((p) => p.metadata?.labels?.[TARGET_VERSION_LABEL] === TARGET)).toEqual([]);
  expect(await ourEvents(h, 'default', `,${TARGET_VERSION_LABEL}=${TARGET}`)).toEqual([]);
  expect(cordonedByUs(await nodes(h))).toEqual([]);
}, 120_000);
