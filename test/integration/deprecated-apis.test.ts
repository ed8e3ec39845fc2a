/**
 * Acceptance: the pre-check's deprecated-API item against the real kube-apiserver. The local
 * v1.34.4 control plane is started with `--runtime-config=networking.k8s.io/v1beta1=true`, so it
 * serves networking.k8s.io/v1beta1 servicecidrs, which the API server marks deprecated and removed
 * in 1.37 (k8s.io/api networking/v1beta1 prerelease-lifecycle). A real client lists them; the
 * pre-check (the precheck command's inspectCluster, real Temporal) then reads /metrics: an error for
 * a target at or past v1.37, the API named as removed later for a target below it. The simulated
 * nodes (and the masters' kube-apiserver mirror pods) report v1.36.5, so both targets are one step.
 */
import { KubernetesObjectApi } from '@kubernetes/client-node';
import { getRaw } from '../../src/activities/node-probes.js';
import { parseDeprecatedApis } from '../../src/planning/deprecated-apis.js';
import type { PrecheckItem } from '../../src/planning/types.js';
import { INSPECT_WORKFLOW_TYPE, TASK_QUEUE, inspectWorkflowIdFor } from '../../src/workflows/definitions.js';
import type { ClusterInspection } from '../../src/workflows/inspect-cluster.js';
import { CLUSTER_ID, startHarness, upgradePods, type Harness } from './upgrade-harness.js';

const VERSION = 'v1.36.5';
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    shape: { controlPlanes: 1, cloudWorkers: 0, edgeWorkers: 1 },
    version: VERSION,
    extraApiServerArgs: ['--runtime-config=networking.k8s.io/v1beta1=true'],
  });
}, 240_000);

afterAll(async () => {
  await h?.stop();
}, 60_000);

/** The pre-check as `edge-upgrade precheck` runs it (API-server items and node probes), by item ID. */
async function precheck(targetVersion: string): Promise<Record<string, PrecheckItem>> {
  const res = await h.env.client.workflow.execute<(a: unknown) => Promise<ClusterInspection>>(INSPECT_WORKFLOW_TYPE, {
    taskQueue: TASK_QUEUE,
    workflowId: inspectWorkflowIdFor(CLUSTER_ID, Date.now()),
    args: [{ clusterId: CLUSTER_ID, targetVersion, runPrecheck: true, nodeProbes: { concurrency: 3, timeoutMs: 30_000 } }],
  });
  return Object.fromEntries(res.precheck!.items.map((i) => [i.id, i]));
}

test('a client listing networking.k8s.io/v1beta1 servicecidrs makes the item an error for v1.37, not for v1.36', async () => {
  // Nothing deprecated requested yet: normal even for the target that removes the API.
  expect((await precheck('v1.37.0'))['deprecated-apis']).toMatchObject({
    result: 'normal',
    message: expect.stringContaining('no deprecated API was requested'),
  });

  const listed = await KubernetesObjectApi.makeApiClient(h.cluster.kubeConfig).list('networking.k8s.io/v1beta1', 'ServiceCIDR');
  // The API server's own default ServiceCIDR, read through the deprecated version.
  expect(listed.items.map((c) => c.metadata?.name)).toEqual(['kubernetes']);
  const served = parseDeprecatedApis(
    await getRaw({ kc: h.cluster.kubeConfig, server: h.cluster.kubeConfig.getCurrentCluster()!.server }, '/metrics'),
  );
  expect(served).toContainEqual({
    group: 'networking.k8s.io',
    version: 'v1beta1',
    resource: 'servicecidrs',
    subresource: '',
    removedRelease: '1.37',
  });

  const removing = (await precheck('v1.37.0'))['deprecated-apis']!;
  expect(removing.result).toBe('error');
  expect(removing.message).toContain('clients requested APIs that v1.37.0 no longer serves: networking.k8s.io/v1beta1 servicecidrs');
  expect(removing.message).toContain('(removed in 1.37)');

  const below = (await precheck('v1.36.6'))['deprecated-apis']!;
  expect(below.result).toBe('normal');
  expect(below.message).toContain('no requested API is removed by v1.36.6; deprecated APIs in use, removed later: ');
  expect(below.message).toContain('removed later: networking.k8s.io/v1beta1 servicecidrs (removed in 1.37)');
  // The probes left no pod behind.
  expect(await upgradePods(h)).toEqual([]);
}, 240_000);
