/**
 * The pure parts of the prepare phase: the cloud-node label setting (parse, match, worker and
 * cluster configuration), the plan's cloud nodes, the prepare pod's manifest, the state's prepare
 * queue, and how `plan` and `status` show it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderDetails, renderPlan } from '../../src/cli/render.js';
import { planView } from '../../src/planning/plan-view.js';
import { ConfigError, cloudNodeLabelFor, loadWorkerConfig } from '../../src/config.js';
import { isCloudNode, parseCloudNodeLabel } from '../../src/planning/cloud-nodes.js';
import { AGENT_MODE_LABEL, ENV_AGENT_MODE, UPGRADE_ID_LABEL } from '../../src/planning/labels.js';
import { planNodes } from '../../src/planning/plan.js';
import { summarize } from '../../src/planning/summary.js';
import type { ClusterNode } from '../../src/planning/types.js';
import { buildUpgradePod } from '../../src/planning/upgrade-pod.js';
import { parseVersion } from '../../src/planning/versions.js';
import { UpgradeState } from '../../src/workflows/upgrade-state.js';

const FROM = 'v1.33.7';
const TO = 'v1.34.4';

describe('cloudNodeLabel', () => {
  it.each<[string | undefined, ReturnType<typeof parseCloudNodeLabel>]>([
    [undefined, { key: 'alibabacloud.com/is-edge-worker', value: 'false' }],
    ['node-role.kubernetes.io/cloud', { key: 'node-role.kubernetes.io/cloud' }],
    ['site=cloud', { key: 'site', value: 'cloud' }],
    ['example.com/pool=', { key: 'example.com/pool', value: '' }],
    ['', null],
    ['  ', null],
  ])('%j parses to %j', (setting, want) => {
    expect(parseCloudNodeLabel(setting)).toEqual(want);
  });

  it.each([
    ['bad key!=x', '"bad key!" is not a label key'],
    ['/x=1', 'is not a label key'],
    ['site=not a value', '"not a value" is not a label value'],
  ])('%j is refused: %s', (setting, message) => {
    expect(() => parseCloudNodeLabel(setting)).toThrow(message);
  });

  it.each<[Record<string, string>, string | undefined, boolean]>([
    [{ 'alibabacloud.com/is-edge-worker': 'false' }, undefined, true],
    [{ 'alibabacloud.com/is-edge-worker': 'true' }, undefined, false],
    [{}, undefined, false],
    [{ 'node-role.kubernetes.io/cloud': '' }, 'node-role.kubernetes.io/cloud', true],
    [{ 'alibabacloud.com/is-edge-worker': 'false' }, '', false],
  ])('labels %j with setting %j: cloud node %s', (labels, setting, want) => {
    expect(isCloudNode(labels, parseCloudNodeLabel(setting))).toBe(want);
  });

  it("the worker's setting, a cluster's own, the environment, and a bad one stopping the worker with the key to fix", () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloud-label-'));
    try {
      const file = join(dir, 'config.yaml');
      writeFileSync(
        file,
        'cloudNodeLabel: site=cloud\nclusters:\n  - { id: a, kubeconfig: /k/a }\n  - { id: b, kubeconfig: /k/b, cloudNodeLabel: "" }\n',
      );
      const cfg = loadWorkerConfig(file, {});
      expect([cloudNodeLabelFor(cfg, 'a'), cloudNodeLabelFor(cfg, 'b')]).toEqual(['site=cloud', '']);
      expect(cloudNodeLabelFor(loadWorkerConfig(undefined, {}), 'x')).toBe('alibabacloud.com/is-edge-worker=false');
      expect(cloudNodeLabelFor(loadWorkerConfig(file, { EDGE_UPGRADE_CLOUD_NODE_LABEL: 'pool=cloud' }), 'a')).toBe('pool=cloud');
      writeFileSync(file, 'clusters:\n  - { id: a, kubeconfig: /k/a, cloudNodeLabel: "a b=c" }\n');
      expect(() => loadWorkerConfig(file, {})).toThrow(ConfigError);
      expect(() => loadWorkerConfig(file, {})).toThrow(`config file ${file}: clusters.0.cloudNodeLabel: cloudNodeLabel "a b=c"`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const worker = (name: string, cloud: boolean, kubeletVersion = FROM): ClusterNode => ({
  name,
  kind: 'worker',
  edge: !cloud,
  kubeletVersion,
  ready: true,
  unschedulable: false,
  ...(cloud ? { cloud: true } : {}),
});

describe('the plan and the prepare pod', () => {
  it('prepares the labelled cloud workers not yet at the target, in worker order; edge and unlabelled workers are not', () => {
    const plain = { ...worker('cloud-0', false), edge: false };
    const inv = {
      clusterId: 'shop',
      controlPlaneVersion: FROM,
      nodes: [worker('edge-1', false), worker('cloud-10', true), worker('cloud-2', true), worker('cloud-3', true, TO), plain],
    };
    const plan = planNodes(inv, parseVersion(TO));
    expect(plan.prepare).toEqual(['cloud-2', 'cloud-10']);
    expect(plan.workers.todo).toContain('cloud-0');
  });

  it('a prepare pod: prepare-<node>-<version>, --prepare, AGENT_MODE, mode and upgrade-id labels; the upgrade pod is unchanged', () => {
    const input = {
      node: 'cloud-1',
      role: 'worker' as const,
      targetVersion: TO,
      upgradeId: 'edge-upgrade-shop',
      image: 'img',
      nodeTimeoutMs: 60_000,
    };
    const upgrade = buildUpgradePod(input);
    const prep = buildUpgradePod({ ...input, mode: 'prepare' });
    expect(prep.metadata?.name).toBe('prepare-cloud-1-v1-34-4');
    expect(prep.metadata?.labels).toMatchObject({ [AGENT_MODE_LABEL]: 'prepare', [UPGRADE_ID_LABEL]: 'edge-upgrade-shop' });
    expect(prep.spec?.containers[0]?.args).toEqual(['--prepare']);
    expect(prep.spec?.containers[0]?.env).toContainEqual({ name: ENV_AGENT_MODE, value: 'prepare' });
    expect(upgrade.metadata?.name).toBe('upgrade-cloud-1-v1-34-4');
    expect(upgrade.metadata?.labels?.[AGENT_MODE_LABEL]).toBeUndefined();
    expect(upgrade.spec?.containers[0]?.args).toBeUndefined();
    expect(upgrade.spec?.containers[0]?.env?.map((e) => e.name)).not.toContain(ENV_AGENT_MODE);
  });
});

describe('prepare progress', () => {
  it('queues, takes, requeues a failed node first, skips, and survives a snapshot; no cloud node, no progress.prepare', () => {
    const none = new UpgradeState(UpgradeState.initial('shop', TO));
    none.planPrepare([]);
    expect(none.progress.prepare).toBeUndefined();

    const s = new UpgradeState(UpgradeState.initial('shop', TO));
    s.planPrepare(['cloud-1', 'cloud-2', 'cloud-3', 'cloud-4']);
    expect(s.takePrepare(3)).toEqual(['cloud-1', 'cloud-2', 'cloud-3']);
    expect(s.progress.prepare).toEqual({ total: 4, done: 0, current: ['cloud-1', 'cloud-2', 'cloud-3'] });
    s.prepareEnded('cloud-1', 'prepared');
    s.prepareEnded('cloud-3', { skipped: 'cloud-3 is offline' });
    s.prepareEnded('cloud-2', 'failed');
    const next = new UpgradeState(s.snapshot());
    expect(next.todoPrepare).toEqual(['cloud-2', 'cloud-4']);
    expect(next.progress.prepare).toEqual({ total: 4, done: 1, current: [], skipped: [{ node: 'cloud-3', reason: 'cloud-3 is offline' }] });
  });

  it('a node quarantined in prepare leaves the worker queue; requeued, it is prepared again first and queued first', () => {
    const s = new UpgradeState(UpgradeState.initial('shop', TO));
    s.plan({ total: 0, todo: [] }, { total: 4, todo: ['cloud-1', 'cloud-2', 'edge-1', 'edge-2'] });
    s.planPrepare(['cloud-1', 'cloud-2']);
    s.takePrepare(2);
    s.prepareEnded('cloud-1', 'prepared');
    s.workers.quarantine({ node: 'cloud-2', step: 'prepare', message: 'prepare pod prepare-cloud-2 failed', at: '2026-01-01T00:00:00Z' });
    s.prepareEnded('cloud-2', 'quarantined');
    expect(s.todoWorkers).toEqual(['cloud-1', 'edge-1', 'edge-2']);
    expect(s.todoPrepare).toEqual([]);
    expect(s.progress.prepare).toEqual({ total: 2, done: 1, current: [] });
    s.workers.quarantine({ node: 'edge-1', step: 'upgrade-pod', message: 'exit code 1', at: '2026-01-01T00:00:00Z' });
    s.workers.takeBatch();
    s.requeueQuarantined();
    expect(s.todoPrepare).toEqual(['cloud-2']);
    expect(s.todoWorkers.slice(0, 2).sort()).toEqual(['cloud-2', 'edge-1']);
    expect(s.quarantined).toEqual([]);
  });

  it('status and the Web UI line show the phase, the nodes in flight and those skipped', () => {
    const s = new UpgradeState(UpgradeState.initial('shop', TO));
    s.planPrepare(['cloud-1', 'cloud-2']);
    s.setPhase('prepare');
    s.takePrepare(1);
    expect(summarize(s.progress)).toBe('Preparing cloud nodes 0/2 · preparing cloud-1');
    s.prepareEnded('cloud-1', { skipped: 'cloud-1 is offline: it is NotReady' });
    expect(renderDetails(s.progress)).toEqual(['Cloud nodes prepared: 0/2', 'Not prepared: cloud-1: cloud-1 is offline: it is NotReady']);
  });

  it('plan names the cloud nodes it prepares first, or why there are none', () => {
    const inv = { clusterId: 'shop', controlPlaneVersion: FROM, nodes: [worker('cloud-1', true), worker('edge-1', false)] };
    const settings = { deferOffline: false, failureBudget: 0, gate: null };
    const plan = planNodes(inv, parseVersion(TO));
    const view = planView(plan, TO, { ...settings, cloudNodeLabel: 'alibabacloud.com/is-edge-worker=false' });
    expect(view).toMatchObject({ prepare: ['cloud-1'], cloudNodeLabel: 'alibabacloud.com/is-edge-worker=false' });
    expect(renderPlan(view, plan).split('\n')[1]).toBe(
      'Prepare 1 cloud node(s) first (repository, packages, images; nothing installed): cloud-1',
    );
    const noCloud = planNodes({ ...inv, nodes: [worker('edge-1', false)] }, parseVersion(TO));
    const labelled = planView(noCloud, TO, { ...settings, cloudNodeLabel: 'site=cloud' });
    expect(renderPlan(labelled, noCloud)).toContain('Prepare: no cloud node to prepare (label site=cloud): skipped');
    expect(renderPlan(planView(noCloud, TO, settings), noCloud)).toContain('Prepare: off (the worker has no cloudNodeLabel): skipped');
  });
});
