/**
 * The Helm charts in deploy/helm, with the Helm the project builds (scripts/ensure-helm.sh): `helm lint --strict`,
 * the values schema refusing a broken values file, the checked-in deploy/*.yaml against the charts' output, what
 * the full example renders, and a real `helm install`, `helm upgrade` and `helm uninstall` on a real
 * kube-apiserver: the worker's chart (a cluster's Secret survives every one of them) and the edge-cluster chart,
 * whose ServiceAccount gets exactly the verbs the activities use.
 */
import { CoreV1Api, AppsV1Api } from '@kubernetes/client-node';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { helmBinary, k8sBinDir } from '../helpers/tools.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const WORKER_CHART = join(root, 'deploy/helm/edge-upgrade');
const EDGE_CHART = join(root, 'deploy/helm/edge-upgrade-edge-cluster');
const EXAMPLE = join(root, 'deploy/helm/examples/worker-values.yaml');
/** The Prometheus Operator's kinds: this control plane has not their CRDs, so the installs leave them off. */
const NO_OPERATOR_KINDS = ['--set', 'metrics.serviceMonitor.enabled=false', '--set', 'metrics.prometheusRule.enabled=false'];

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function helm(...args: string[]): Run {
  const r = spawnSync(helmBinary(), args, { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: '/tmp/edge-upgrade-helm-cache' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function helmOk(...args: string[]): string {
  const r = helm(...args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
/** helm against this test's API server. */
const helmOnCluster = (...args: string[]) => helmOk(...args, '--kubeconfig', cluster.controlPlane.kubeconfigPath);
function kubectl(args: string[], input?: string): string {
  return execFileSync(join(k8sBinDir(), 'kubectl'), ['--kubeconfig', cluster.controlPlane.kubeconfigPath, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}
interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown> & { template?: { spec: Record<string, unknown> & { containers: Array<Record<string, unknown>> } } };
}
const docsOf = (yaml: string) =>
  parseAllDocuments(yaml)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);

test("both charts' version and appVersion are package.json's", () => {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  for (const chart of [WORKER_CHART, EDGE_CHART]) {
    expect(parse(readFileSync(join(chart, 'Chart.yaml'), 'utf8'))).toMatchObject({ version, appVersion: version });
  }
});

test('helm lint --strict passes: both charts with their defaults, the worker chart with the full example', () => {
  for (const args of [[WORKER_CHART], [EDGE_CHART], [WORKER_CHART, '-f', EXAMPLE]]) {
    const out = helmOk('lint', '--strict', ...args);
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

test.each([
  ['a misspelt key', ['--set', 'replica=3'], /at '': additional properties 'replica' not allowed/],
  [
    'a Temporal address without its port',
    ['--set', 'temporal.address=temporal.example.com'],
    /at '\/temporal\/address': 'temporal\.example\.com' does not match/,
  ],
  ['an image digest that is not sha256', ['--set', 'image.digest=latest'], /at '\/image\/digest': 'latest' does not match/],
  [
    'a cluster without credentials',
    ['--set', 'clusters[0].id=shop-1', '--set', 'clusters[0].server=https://shop-1:6443'],
    /at '\/clusters\/0': missing property 'existingSecret'[^]*missing properties 'token', 'caCert'/,
  ],
])('a values file with %s is refused, naming the key, and nothing is rendered', (_what, args, names) => {
  const r = helm('template', 'edge-upgrade', WORKER_CHART, '--namespace', 'edge-upgrade-system', ...args);
  expect(r.code).not.toBe(0);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
  expect(r.stderr).toMatch(names);
});

test("deploy/worker.yaml and deploy/rbac.yaml are the charts' output with the defaults (scripts/render-manifests.sh --check)", () => {
  const r = spawnSync('bash', [join(root, 'scripts/render-manifests.sh'), '--check'], {
    encoding: 'utf8',
    env: { ...process.env, EDGE_UPGRADE_HELM: helmBinary() },
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

test('the full example: workers spread over nodes, probes, a Secret only for the cluster given its token, mTLS, alerting', () => {
  const docs = docsOf(helmOk('template', 'edge-upgrade', WORKER_CHART, '--namespace', 'edge-upgrade-system', '-f', EXAMPLE));
  const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
  expect(kinds).toEqual([
    'ConfigMap/edge-upgrade-worker-config',
    'Deployment/edge-upgrade-worker',
    'PodDisruptionBudget/edge-upgrade-worker',
    'PrometheusRule/edge-upgrade-worker',
    'Secret/edge-upgrade-worker-cluster-arm-site-3',
    'Service/edge-upgrade-worker-metrics',
    'ServiceAccount/edge-upgrade-worker',
    'ServiceMonitor/edge-upgrade-worker',
  ]);
  for (const d of docs) expect(d.metadata.namespace).toBe('edge-upgrade-system');
  const secret = docs.find((d) => d.kind === 'Secret')!;
  expect(secret.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
  expect(Buffer.from(secret.data!.token!, 'base64').toString()).toBe('example-token-of-kube-upgrade-edge-upgrade');

  const deployment = docs.find((d) => d.kind === 'Deployment')!;
  const pod = deployment.spec!.template!.spec;
  expect(deployment.spec!.replicas).toBe(3);
  expect(pod.automountServiceAccountToken).toBe(false);
  expect(pod.affinity).toMatchObject({
    podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ podAffinityTerm: { topologyKey: 'kubernetes.io/hostname' } }] },
  });
  const worker = pod.containers[0]!;
  expect(worker.image).toBe(
    'registry.example.com/edge-upgrade/worker@sha256:1111111111111111111111111111111111111111111111111111111111111111',
  );
  expect(worker.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'health' } });
  expect(worker.livenessProbe).toMatchObject({ httpGet: { path: '/livez', port: 'health' } });
  expect(worker.securityContext).toEqual({
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  });
  // Each cluster's Secret under /etc/edge-upgrade/clusters/<id>/, the client certificate beside them.
  const volumes = pod.volumes as Array<{
    name: string;
    projected?: { sources: Array<{ secret: { name: string } }> };
    secret?: { secretName: string };
  }>;
  expect(volumes.find((v) => v.name === 'clusters')!.projected!.sources.map((s) => s.secret.name)).toEqual([
    'edge-upgrade-cluster-shop-17',
    'edge-upgrade-worker-cluster-arm-site-3',
  ]);
  expect(volumes.find((v) => v.name === 'temporal-tls')!.secret!.secretName).toBe('temporal-client-tls');

  // The worker's config.yaml: the connection and the clusters, no credential.
  const configMap = docs.find((d) => d.kind === 'ConfigMap')!;
  const config = parse(configMap.data!['config.yaml']!) as Record<string, unknown>;
  expect(config).toMatchObject({
    temporal: {
      address: 'temporal.example.com:7233',
      namespace: 'edge-fleet',
      tls: {
        certFile: '/etc/edge-upgrade/temporal/tls/tls.crt',
        keyFile: '/etc/edge-upgrade/temporal/tls/tls.key',
        caFile: '/etc/edge-upgrade/temporal/tls/ca.crt',
        serverName: 'temporal.example.com',
      },
    },
    healthAddress: '0.0.0.0:8080',
    metricsAddress: '0.0.0.0:9464',
    cloudNodeLabel: 'node-role.kubernetes.io/cloud',
    versions: ['v1.32.9', 'v1.33.5'],
    clusters: [
      { id: 'shop-17', kubeconfig: '/etc/edge-upgrade/config/kubeconfig-shop-17' },
      { id: 'arm-site-3', kubeconfig: '/etc/edge-upgrade/config/kubeconfig-arm-site-3', versions: ['v1.32.11', 'v1.33.7'] },
    ],
  });
  expect(JSON.stringify(configMap.data)).not.toContain('example-token');
  expect(parse(configMap.data!['kubeconfig-arm-site-3']!)).toMatchObject({
    clusters: [
      {
        cluster: { server: 'https://arm-site-3.example.com:6443', 'certificate-authority': '/etc/edge-upgrade/clusters/arm-site-3/ca.crt' },
      },
    ],
    users: [{ user: { tokenFile: '/etc/edge-upgrade/clusters/arm-site-3/token' } }],
  });
  // Without rules the PrometheusRule is not rendered at all (an empty one is refused by the operator).
  const noRules = docsOf(helmOk('template', 'edge-upgrade', WORKER_CHART, '-f', EXAMPLE, '--set', 'metrics.prometheusRule.rules=null'));
  expect(noRules.map((d) => d.kind)).not.toContain('PrometheusRule');
});

test('helm install, upgrade and uninstall on the kube-apiserver, after a server-side dry run: cluster Secrets outlive all', async () => {
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const apps = cluster.kubeConfig.makeApiClient(AppsV1Api);
  kubectl(['create', 'namespace', 'edge-upgrade-system']);
  // The operator's own Secrets: the cluster shop-17's credentials and the Temporal client certificate.
  kubectl([
    '-n',
    'edge-upgrade-system',
    'create',
    'secret',
    'generic',
    'edge-upgrade-cluster-shop-17',
    '--from-literal=token=t0k3n',
    '--from-literal=ca.crt=CA',
  ]);
  kubectl([
    '-n',
    'edge-upgrade-system',
    'create',
    'secret',
    'generic',
    'temporal-client-tls',
    '--from-literal=tls.crt=C',
    '--from-literal=tls.key=K',
    '--from-literal=ca.crt=CA',
  ]);
  const operatorSecret = await core.readNamespacedSecret({ name: 'edge-upgrade-cluster-shop-17', namespace: 'edge-upgrade-system' });

  const values = ['--namespace', 'edge-upgrade-system', '-f', EXAMPLE, ...NO_OPERATOR_KINDS];
  const rendered = helmOk('template', 'edge-upgrade', WORKER_CHART, ...values);
  const dryRun = kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], rendered).trim().split('\n');
  expect(dryRun).toHaveLength(6);
  for (const line of dryRun) expect(line).toMatch(/ serverside-applied \(server dry run\)$/);

  helmOnCluster('install', 'edge-upgrade', WORKER_CHART, ...values);
  expect((await apps.readNamespacedDeployment({ name: 'edge-upgrade-worker', namespace: 'edge-upgrade-system' })).spec!.replicas).toBe(3);
  const made = await core.readNamespacedSecret({ name: 'edge-upgrade-worker-cluster-arm-site-3', namespace: 'edge-upgrade-system' });
  expect(Buffer.from(made.data!.token!, 'base64').toString()).toBe('example-token-of-kube-upgrade-edge-upgrade');

  // An upgrade of the release that changes the replicas leaves both clusters' Secrets exactly as they were.
  helmOnCluster('upgrade', 'edge-upgrade', WORKER_CHART, ...values, '--set', 'replicas=2');
  expect((await apps.readNamespacedDeployment({ name: 'edge-upgrade-worker', namespace: 'edge-upgrade-system' })).spec!.replicas).toBe(2);
  const secretsNow = async () =>
    Promise.all(
      ['edge-upgrade-cluster-shop-17', 'edge-upgrade-worker-cluster-arm-site-3'].map((name) =>
        core.readNamespacedSecret({ name, namespace: 'edge-upgrade-system' }).then((s) => s.data),
      ),
    );
  expect(await secretsNow()).toEqual([operatorSecret.data, made.data]);

  // Uninstalled: the worker is gone, the credentials are not.
  helmOnCluster('uninstall', 'edge-upgrade', '--namespace', 'edge-upgrade-system');
  await expect(apps.readNamespacedDeployment({ name: 'edge-upgrade-worker', namespace: 'edge-upgrade-system' })).rejects.toMatchObject({
    code: 404,
  });
  expect(await secretsNow()).toEqual([operatorSecret.data, made.data]);
}, 120_000);

test('helm install of the edge-cluster chart: its ServiceAccount may do what the activities do, and nothing else', () => {
  helmOnCluster('install', 'edge-upgrade-edge-cluster', EDGE_CHART);
  const sa = 'system:serviceaccount:kube-upgrade:edge-upgrade';
  const can = (...args: string[]) => {
    try {
      return kubectl(['auth', 'can-i', ...args, '--as', sa]).trim();
    } catch (err) {
      return String((err as { stdout?: string }).stdout ?? '').trim();
    }
  };
  // Every verb the activities use (deploy/rbac.yaml names which activity uses which), then some they do not.
  const table: Array<[string[], 'yes' | 'no']> = [
    [['get', 'nodes'], 'yes'],
    [['list', 'nodes'], 'yes'],
    [['watch', 'nodes'], 'yes'],
    [['patch', 'nodes'], 'yes'],
    [['get', 'pods', '-n', 'shop'], 'yes'],
    [['list', 'pods', '-A'], 'yes'],
    [['create', 'pods', '--subresource=eviction', '-n', 'shop'], 'yes'],
    [['list', 'poddisruptionbudgets.policy', '-A'], 'yes'],
    [['get', 'replicasets.apps', '-n', 'shop'], 'yes'],
    [['get', 'deployments.apps', '-n', 'shop'], 'yes'],
    [['get', 'statefulsets.apps', '-n', 'shop'], 'yes'],
    [['get', 'namespaces'], 'yes'],
    [['create', 'namespaces'], 'yes'],
    [['patch', 'namespaces/kube-upgrade'], 'yes'],
    [['get', '/metrics'], 'yes'],
    [['create', 'pods', '-n', 'kube-upgrade'], 'yes'],
    [['delete', 'pods', '-n', 'kube-upgrade'], 'yes'],
    [['watch', 'pods', '-n', 'kube-upgrade'], 'yes'],
    [['get', 'pods', '--subresource=log', '-n', 'kube-upgrade'], 'yes'],
    [['create', 'events', '-n', 'kube-upgrade'], 'yes'],
    [['delete', 'events', '-n', 'default'], 'yes'],
    [['get', 'leases.coordination.k8s.io', '-n', 'kube-node-lease'], 'yes'],
    [['list', 'leases.coordination.k8s.io', '-n', 'kube-node-lease'], 'yes'],
    // Not used, not granted.
    [['delete', 'nodes'], 'no'],
    [['create', 'pods', '-n', 'default'], 'no'],
    [['delete', 'pods', '-n', 'shop'], 'no'],
    [['patch', 'namespaces/default'], 'no'],
    [['patch', 'deployments.apps', '-n', 'shop'], 'no'],
    [['get', 'secrets', '-n', 'kube-system'], 'no'],
    [['update', 'leases.coordination.k8s.io', '-n', 'kube-node-lease'], 'no'],
  ];
  const got = table.map(([args]) => [args.join(' '), can(...args)]);
  expect(got).toEqual(table.map(([args, want]) => [args.join(' '), want]));
  // The namespace the upgrade pods run in admits privileged pods.
  expect(kubectl(['get', 'namespace', 'kube-upgrade', '-o', 'jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}'])).toBe(
    'privileged',
  );
});
