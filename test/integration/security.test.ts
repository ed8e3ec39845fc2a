/**
 * Acceptance, security: the real `edge-upgrade` bin and `edge-upgrade worker` against the real dev
 * server and a real control plane whose Pod Security default is 'baseline'.
 * - A request naming an image off the worker's allow-list is refused with one line before any node
 *   is touched (the workflow fails 'InvalidUpgradeRequest').
 * - The configured, digest-pinned image upgrades the cluster; its pods are admitted under the
 *   baseline default because kube-upgrade is privileged, and carry the hardened spec.
 * - A malformed kubeconfig next to a token never puts the token into workflow history,
 *   `status --json`, the CLI's output or the worker's logs.
 */
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergePatch } from '../../src/kube/clients.js';
import { ensureUpgradeNamespace } from '../../src/activities/namespace.js';
import { workerPolling } from '../../src/cli/worker-check.js';
import { POD_SECURITY_ENFORCE_LABEL, UPGRADE_NAMESPACE } from '../../src/planning/labels.js';
import type { Progress } from '../../src/planning/types.js';
import { TASK_QUEUE } from '../../src/workflows/definitions.js';
import { expectRefusal, runCli, spawnWorker, type SpawnedWorker } from '../helpers/cli.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { expectApplicationFailure } from '../helpers/expect.js';
import { eventually } from '../helpers/poll.js';
import { startDevServer } from '../helpers/temporal.js';

const FROM = 'v1.33.7';
const TO = 'v1.34.4';
const DEFAULT_IMAGE = `registry.example.com/edge-upgrade/agent@sha256:${'a'.repeat(64)}`;
const ARM_IMAGE = `registry.example.com/edge-upgrade/agent-arm@sha256:${'b'.repeat(64)}`;
/** What the broken kubeconfig holds next to its mistake; it must never show up anywhere. */
const SECRET = 'SECRET-3f9c2a7e';

let env: TestWorkflowEnvironment;
let cluster: TestCluster;
let worker: SpawnedWorker | undefined;
let dir: string;
let brokenKubeconfig: string;
let cliEnv: Record<string, string>;

const cli = (...args: string[]) => runCli(args, cliEnv);

/** Every string in a history, payloads decoded as UTF-8 (input, results, failures, details). */
function historyText(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const v of value) historyText(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) historyText(v, out);
  return out;
}

/** The decoded text of every workflow execution's history on the dev server. */
async function allHistories(client: Client): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const wf of client.workflow.list()) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    out.set(`${wf.workflowId}/${wf.runId}`, historyText(history).join('\n'));
  }
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edge-upgrade-security-'));
  env = await startDevServer();
  cluster = await startCluster({ podSecurityDefault: 'baseline' });
  await cluster.simulator.addNodes([
    { name: 'cp-1', kind: 'control-plane', version: FROM },
    ...[1, 2, 3].map((i) => ({ name: `edge-${i}`, kind: 'worker' as const, edge: true, version: FROM })),
  ]);
  brokenKubeconfig = join(dir, 'broken.kubeconfig');
  writeFileSync(
    brokenKubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: broken',
      '  cluster:',
      '    server: https://127.0.0.1:1',
      'users:',
      '- name: edge-upgrade',
      '  user:',
      `    token: ${SECRET}`,
      '      tokenFile: /var/run/secrets/token',
      '',
    ].join('\n'),
  );
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `upgradeImage: ${DEFAULT_IMAGE}`,
      `allowedImages: [${ARM_IMAGE}]`,
      'clusters:',
      `  - { id: shop, kubeconfig: ${cluster.controlPlane.kubeconfigPath} }`,
      `  - { id: broken, kubeconfig: ${brokenKubeconfig} }`,
      '',
    ].join('\n'),
  );
  // EDGE_UPGRADE_IMAGE blanked: the images come from the config file alone.
  cliEnv = { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default', EDGE_UPGRADE_CONFIG: config, EDGE_UPGRADE_IMAGE: '' };
  worker = spawnWorker(cliEnv);
  // `start` and the Updates refuse when no worker polls: begin once this one does.
  await eventually('the worker polling', () => workerPolling(env.client, TASK_QUEUE, 0), 120_000);
}, 240_000);

afterAll(async () => {
  await worker?.stop();
  await cluster?.stop();
  await env?.teardown();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('an image off the allow-list is refused with one line before any node is touched', async () => {
  for (const image of ['evil.example.com/miner:latest', `registry.example.com/edge-upgrade/agent@sha256:${'c'.repeat(64)}`]) {
    const r = await cli('start', '--cluster', 'shop', '--to', TO, '--image', image);
    expectRefusal(
      r,
      new RegExp(
        `^edge-upgrade: edge-upgrade-shop refused: upgradeImage "${image.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" ` +
          `is not allowed for cluster shop \\(this worker allows ${DEFAULT_IMAGE}, ${ARM_IMAGE}\\)`,
      ),
    );
    // The workflow itself failed as invalid input, not as a node failure.
    await expectApplicationFailure(env.client.workflow.getHandle('edge-upgrade-shop').result(), 'InvalidUpgradeRequest');
  }
  const status = JSON.parse((await cli('--json', 'status', '--cluster', 'shop')).stdout) as Progress;
  expect(status.state).toBe('failed');
  expect(status.masters.upgraded + status.workers.upgraded).toBe(0);
  // Nothing was touched: no node cordoned or upgraded, kube-upgrade never created.
  const nodes = (await cluster.core.listNode()).items;
  expect(nodes.filter((n) => n.spec?.unschedulable).map((n) => n.metadata!.name)).toEqual([]);
  expect(nodes.every((n) => n.status?.nodeInfo?.kubeletVersion === FROM)).toBe(true);
  const ns = await cluster.core.readNamespace({ name: UPGRADE_NAMESPACE }).then(
    () => 'exists',
    (e: { code?: number }) => e.code,
  );
  expect(ns).toBe(404);
}, 120_000);

test('the configured image upgrades a cluster whose Pod Security default is baseline, with the hardened pod', async () => {
  // The default is in force: a privileged pod in a namespace without its own level is refused.
  const refused = await cluster.core
    .createNamespacedPod({
      namespace: 'default',
      dryRun: 'All',
      body: {
        metadata: { name: 'p' },
        spec: { hostPID: true, containers: [{ name: 'c', image: 'x', securityContext: { privileged: true } }] },
      },
    })
    .then(
      () => undefined,
      (e: { code?: number; body?: unknown }) => e,
    );
  expect(refused?.code).toBe(403);
  expect((JSON.parse(String(refused?.body)) as { message: string }).message).toMatch(
    /violates PodSecurity "baseline:latest": host namespaces \(hostPID=true\), privileged/,
  );

  const r = await cli('start', '--cluster', 'shop', '--to', TO, '--gate-stable-for', '0', '--wait');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const nodes = (await cluster.core.listNode()).items;
  expect(nodes.map((n) => n.status?.nodeInfo?.kubeletVersion)).toEqual(Array(4).fill(TO));

  const ns = await cluster.core.readNamespace({ name: UPGRADE_NAMESPACE });
  expect(ns.metadata?.labels?.[POD_SECURITY_ENFORCE_LABEL]).toBe('privileged');
  const pods = (await cluster.core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE })).items;
  expect(pods).toHaveLength(4);
  for (const pod of pods) {
    expect(pod.spec?.containers[0]?.image).toBe(DEFAULT_IMAGE);
    expect(pod.spec?.priorityClassName).toBe('system-node-critical');
    // Resolved by the API server's Priority admission: the class really exists and applies here.
    expect(pod.spec?.priority).toBe(2000001000);
    expect(pod.spec?.activeDeadlineSeconds).toBe(30 * 60);
    expect(pod.spec?.containers[0]?.resources?.requests).toEqual({ cpu: '100m', memory: '128Mi' });
    expect((pod.spec?.volumes ?? []).filter((v) => v.hostPath)).toEqual([]);
    expect(pod.status?.phase).toBe('Succeeded');
  }

  // A kube-upgrade that someone set to baseline is put back to privileged before the next pod.
  await cluster.core.patchNamespace(
    { name: UPGRADE_NAMESPACE, body: { metadata: { labels: { [POD_SECURITY_ENFORCE_LABEL]: 'baseline' } } } },
    mergePatch,
  );
  const kube = { kc: cluster.kubeConfig, core: cluster.core } as Parameters<typeof ensureUpgradeNamespace>[0];
  await ensureUpgradeNamespace(kube);
  expect((await cluster.core.readNamespace({ name: UPGRADE_NAMESPACE })).metadata?.labels?.[POD_SECURITY_ENFORCE_LABEL]).toBe('privileged');
}, 240_000);

test('a malformed kubeconfig is reported by path and line, and its token appears nowhere', async () => {
  const started = await cli('start', '--cluster', 'broken', '--to', TO);
  const where = `kubeconfig ${brokenKubeconfig}:10:`;
  expectRefusal(
    started,
    new RegExp(
      `^edge-upgrade: edge-upgrade-broken refused: cluster "broken": ${where.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\d+: not valid YAML`,
    ),
  );
  const precheck = await cli('precheck', '--cluster', 'broken', '--to', TO);
  expectRefusal(
    precheck,
    /^edge-upgrade: cannot read cluster broken: cluster "broken": kubeconfig .*broken\.kubeconfig:10:\d+: not valid YAML/,
  );
  const status = await cli('--json', 'status', '--cluster', 'broken');
  expect(status.code).toBe(0);
  expect((JSON.parse(status.stdout) as Progress).failure).toContain(where);

  for (const r of [started, precheck, status]) expect(r.stdout + r.stderr).not.toContain(SECRET);
  const histories = await allHistories(env.client);
  const broken = [...histories].filter(([id]) => id.startsWith('edge-upgrade-broken/') || id.startsWith('edge-upgrade-inspect-broken-'));
  expect(broken.length).toBe(2);
  for (const [id, text] of histories) {
    // The payloads were decoded: the request's clusterId is readable where the workflow got it.
    if (id.startsWith('edge-upgrade-broken/')) expect(text).toContain('"clusterId":"broken"');
    if (id.startsWith('edge-upgrade-broken/') || id.startsWith('edge-upgrade-inspect-broken-')) expect(text).toContain(where);
    expect(text).not.toContain(SECRET);
  }
  // The worker logged the failed activities (so the check below looks at real log lines).
  expect(worker!.output()).toContain(brokenKubeconfig);
  expect(worker!.output()).not.toContain(SECRET);
}, 120_000);
