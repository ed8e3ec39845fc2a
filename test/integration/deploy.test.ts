/**
 * The manifests in deploy/ are valid for a real kube-apiserver: `kubectl apply --dry-run=server`
 * runs admission and schema validation without creating anything.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
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
  return execFileSync(join(k8sBinDir(), 'kubectl'), ['--kubeconfig', cluster.controlPlane.kubeconfigPath, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
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
  // Not used, not granted.
  expect(can('create', 'pods', '-n', 'default')).toBe('no');
  expect(can('watch', 'pods', '-n', 'default')).toBe('no');
  expect(can('delete', 'nodes')).toBe('no');
  expect(can('get', 'secrets', '-n', 'kube-system')).toBe('no');
});

test('a manifest with a mistake is refused by the same check', () => {
  const bad = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: broken, namespace: edge-upgrade-system }\nspec: { replicas: "two" }\n';
  expect(() => execFileSync(join(k8sBinDir(), 'kubectl'), ['--kubeconfig', cluster.controlPlane.kubeconfigPath, 'apply', '--dry-run=server', '-f', '-'], { input: bad, stdio: ['pipe', 'pipe', 'pipe'] })).toThrow();
});
