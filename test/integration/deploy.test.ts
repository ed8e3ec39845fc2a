/**
 * The manifests in deploy/ are valid for a real kube-apiserver: `kubectl apply --dry-run=server`
 * runs admission and schema validation without creating anything. The worker's manifests really
 * authenticate: the files its Deployment mounts, filled with a real ServiceAccount token, are what
 * the worker's configuration loads and uses against the API server.
 */
import { AuthenticationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { createActivities } from '../../src/activities/index.js';
import { ClusterRegistry } from '../../src/cluster-registry.js';
import { imagePolicyFor, loadWorkerConfig } from '../../src/config.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/poll.js';
import { k8sBinDir } from '../helpers/tools.js';

const deployDir = fileURLToPath(new URL('../../deploy/', import.meta.url));
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster();
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

function kubectl(...args: string[]): string {
  return execFileSync(join(k8sBinDir(), 'kubectl'), ['--kubeconfig', cluster.controlPlane.kubeconfigPath, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

test.each(['worker.yaml', 'rbac.yaml'])('deploy/%s passes kubectl apply --dry-run=server', (file) => {
  // A server-side dry run of a namespaced object needs its namespace to exist.
  kubectl('create', 'namespace', 'edge-upgrade-system', '--dry-run=client', '-o', 'yaml');
  for (const ns of ['edge-upgrade-system', 'kube-upgrade']) {
    try {
      kubectl('create', 'namespace', ns);
    } catch {
      // already there
    }
  }
  const out = kubectl('apply', '--dry-run=server', '-f', join(deployDir, file));
  const lines = out.trim().split('\n');
  expect(lines.length).toBeGreaterThanOrEqual(3);
  for (const line of lines) expect(line).toMatch(/ (created|configured|unchanged) \(server dry run\)$/);
});

test('deploy/rbac.yaml grants the ServiceAccount what the activities use, and no more', () => {
  kubectl('apply', '-f', join(deployDir, 'rbac.yaml'));
  const sa = 'system:serviceaccount:kube-upgrade:edge-upgrade';
  const can = (...args: string[]) => {
    try {
      return kubectl('auth', 'can-i', ...args, '--as', sa).trim();
    } catch (err) {
      return String((err as { stdout?: string }).stdout ?? '').trim();
    }
  };
  // Used: watching the node and the upgrade pod while waiting, evictions, upgrade pods in kube-upgrade.
  expect(can('watch', 'nodes')).toBe('yes');
  expect(can('patch', 'nodes')).toBe('yes');
  expect(can('watch', 'pods', '-n', 'kube-upgrade')).toBe('yes');
  expect(can('create', 'pods', '-n', 'kube-upgrade')).toBe('yes');
  expect(can('create', 'pods', '--subresource=eviction', '-n', 'default')).toBe('yes');
  // Drain's owners and the health gate: a pod's ReplicaSet, and the evicted Deployments and StatefulSets, by name.
  for (const r of ['replicasets.apps', 'deployments.apps', 'statefulsets.apps']) expect(can('get', r, '-n', 'shop')).toBe('yes');
  expect(can('list', 'deployments.apps', '-n', 'shop')).toBe('no');
  expect(can('patch', 'deployments.apps', '-n', 'shop')).toBe('no');
  // Pod Security 'privileged' may be set on kube-upgrade only, never on another namespace.
  expect(can('patch', 'namespaces/kube-upgrade')).toBe('yes');
  expect(can('patch', 'namespaces/default')).toBe('no');
  // Not used, not granted.
  expect(can('create', 'pods', '-n', 'default')).toBe('no');
  expect(can('watch', 'pods', '-n', 'default')).toBe('no');
  expect(can('delete', 'nodes')).toBe('no');
  expect(can('get', 'secrets', '-n', 'kube-system')).toBe('no');
});

test('a manifest with a mistake is refused by the same check', () => {
  const bad =
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: broken, namespace: edge-upgrade-system }\nspec: { replicas: "two" }\n';
  expect(() =>
    execFileSync(
      join(k8sBinDir(), 'kubectl'),
      ['--kubeconfig', cluster.controlPlane.kubeconfigPath, 'apply', '--dry-run=server', '-f', '-'],
      { input: bad, stdio: ['pipe', 'pipe', 'pipe'] },
    ),
  ).toThrow();
});

interface SecretProjection {
  secret: { name: string; items: Array<{ key: string; path: string }> };
}
interface Manifest {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    template: {
      spec: {
        containers: Array<{ args: string[]; volumeMounts: Array<{ name: string; mountPath: string }> }>;
        volumes: Array<{ name: string; configMap?: { name: string }; projected?: { sources: SecretProjection[] } }>;
      };
    };
  };
}

test("deploy/worker.yaml authenticates: the kubeconfig it mounts reads the token of the cluster's mounted Secret", async () => {
  kubectl('apply', '-f', join(deployDir, 'rbac.yaml'));
  await cluster.simulator.addNodes([{ name: 'edge-1', kind: 'worker', edge: true, version: 'v1.33.7' }]);
  const admin = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const token = (
    await eventually('a token of kube-upgrade/edge-upgrade', () =>
      admin.createNamespacedServiceAccountToken({
        name: 'edge-upgrade',
        namespace: 'kube-upgrade',
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      }),
    )
  ).status!.token;
  const ca = Buffer.from(cluster.kubeConfig.getCurrentCluster()!.caData!, 'base64').toString('utf8');

  const docs = parseAllDocuments(readFileSync(join(deployDir, 'worker.yaml'), 'utf8')).map((d) => d.toJS() as Manifest);
  // The credentials are not in the manifests: each cluster's Secret is the operator's (existingSecret in the chart).
  expect(docs.filter((d) => d.kind === 'Secret')).toEqual([]);
  const deployment = docs.find((d) => d.kind === 'Deployment')!;
  const pod = deployment.spec!.template.spec;
  const container = pod.containers[0]!;
  const configPath = container.args[container.args.indexOf('--config') + 1]!;
  // Lay out the worker's filesystem as its Deployment mounts it, under `root`: each mounted ConfigMap key
  // becomes a file, and each projected Secret key the file of its item, filled as the operator's Secret
  // would be (`kubectl create token ... > token` leaves a newline); the server is this test's API server.
  const root = mkdtempSync(join(tmpdir(), 'edge-upgrade-deploy-'));
  try {
    const rooted = (text: string) =>
      text
        .replaceAll('/etc/edge-upgrade/', `${root}/etc/edge-upgrade/`)
        .replaceAll('https://shop-17.example.invalid:6443', cluster.controlPlane.server);
    const operatorSecrets: Record<string, Record<string, string>> = {
      'edge-upgrade-cluster-shop-17': { token: `${token}\n`, 'ca.crt': ca },
    };
    const written: string[] = [];
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
      written.push(path);
    };
    for (const mount of container.volumeMounts) {
      const volume = pod.volumes.find((v) => v.name === mount.name)!;
      if (volume.configMap) {
        const source = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === volume.configMap!.name)!;
        for (const [key, value] of Object.entries(source.data ?? {})) write(join(mount.mountPath, key), rooted(value));
      }
      for (const { secret } of volume.projected?.sources ?? []) {
        for (const item of secret.items) write(join(mount.mountPath, item.path), operatorSecrets[secret.name]![item.key]!);
      }
    }
    // Everything the configuration and the kubeconfig name is really mounted.
    expect(written).toEqual(
      expect.arrayContaining([
        configPath,
        '/etc/edge-upgrade/config/kubeconfig-shop-17',
        '/etc/edge-upgrade/clusters/shop-17/token',
        '/etc/edge-upgrade/clusters/shop-17/ca.crt',
      ]),
    );

    const config = loadWorkerConfig(join(root, configPath), {});
    const registry = new ClusterRegistry(config.clusters);
    const review = await registry.kubeConfig('shop-17').makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe('system:serviceaccount:kube-upgrade:edge-upgrade');
    // The activities, built as the worker builds them, read the cluster through that identity.
    const acts = createActivities({ clusters: registry, images: (id) => imagePolicyFor(config, id) });
    const inv = await acts.inventory('shop-17', {});
    expect(inv.nodes.map((n) => n.name)).toContain('edge-1');

    // Without the token the same configuration is anonymous and refused: the token is what authenticates.
    const anonymous = new KubeConfig();
    anonymous.loadFromOptions({ ...registry.kubeConfig('shop-17'), users: [{ name: 'edge-upgrade' }] });
    const refused = await anonymous
      .makeApiClient(CoreV1Api)
      .listNode()
      .then(
        () => 200,
        (e: { code?: number }) => e.code,
      );
    expect([401, 403]).toContain(refused);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}, 120_000);
