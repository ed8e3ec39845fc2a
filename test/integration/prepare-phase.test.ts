/**
 * Acceptance: the prepare phase on the real stack (kube-apiserver, the simulator, the Temporal dev
 * server, the real worker). A cluster of 2 masters, 2 cloud workers (labelled
 * alibabacloud.com/is-edge-worker=false, the default cloudNodeLabel) and 8 edge workers: prepare
 * runs on exactly the 2 cloud nodes, before the first master's upgrade pod, and leaves no prepare
 * pod behind. Then a prepare failure (sim.edge-upgrade.io/fail-prepare) pauses the upgrade
 * touching no node; a cancel deletes the failed prepare pod; a second try pauses again and a
 * resume deletes the failed pod, prepares the node again and completes. With a failure budget, a
 * prepare failure quarantines the cloud node instead: labelled, never cordoned nor upgraded, partial.
 */
import { cancelUpgrade, resumeUpgrade, startUpgrade } from '../../src/api.js';
import {
  AGENT_MODE_LABEL,
  NODE_EVENT_NAMESPACE,
  QUARANTINE_REASON_ANNOTATION,
  QUARANTINED_LABEL,
  SIM_FAIL_PREPARE_LABEL,
  UPGRADE_NAMESPACE,
} from '../../src/planning/labels.js';
import { upgradePodName } from '../../src/planning/names.js';
import type { UpgradeRequest } from '../../src/planning/types.js';
import { eventually } from '../helpers/poll.js';
import { NO_GATE } from '../helpers/requests.js';
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

let h: Harness;
/** What the simulator saw, in order: prepare pods' steps and upgrade pods' starts, with the time (ms). */
const seen: Array<{ kind: 'prepare' | 'upgrade'; node: string; step: string; pod: string; at: number }> = [];

beforeAll(async () => {
  h = await startHarness({
    shape: { controlPlanes: 2, cloudWorkers: 2, edgeWorkers: 8 },
    upgradeSeconds: 1,
    simulator: {
      onPrepareStep: (e) => seen.push({ kind: 'prepare', ...e }),
      onUpgradeStart: (e) => seen.push({ kind: 'upgrade', node: e.node, step: 'start', pod: e.pod, at: Date.now() }),
    },
  });
}, 180_000);

afterAll(async () => {
  await h?.stop();
}, 60_000);

const request = (targetVersion: string): UpgradeRequest => ({
  clusterId: CLUSTER_ID,
  targetVersion,
  gate: NO_GATE,
  batch: { maxPercent: 50 },
  nodeTimeout: '2m',
  drainTimeout: '1m',
});
const preparePods = async () => (await upgradePods(h)).filter((p) => p.metadata?.labels?.[AGENT_MODE_LABEL] === 'prepare');

test('prepare runs on exactly the 2 cloud nodes, before the first master upgrade pod, and no prepare pod remains', async () => {
  const TARGET = 'v1.34.4';
  await startUpgrade(h.env.client, request(TARGET));
  const preparing = await progressUntil(h, 'the prepare phase', (p) => p.phase === 'prepare' || p.state !== 'running', 60_000);
  expect(preparing).toMatchObject({ phase: 'prepare', prepare: { total: 2 } });
  const final = await progressUntil(h, 'the upgrade to finish', (p) => p.state !== 'running', 300_000);
  expect(final).toMatchObject({ state: 'succeeded', prepare: { total: 2, done: 2, current: [] }, masters: { upgraded: 2 } });
  expect(final.workers).toMatchObject({ total: 10, upgraded: 10 });

  const prepared = seen.filter((s) => s.kind === 'prepare' && s.step === 'succeeded');
  expect(prepared.map((s) => s.node).sort()).toEqual(['cloud-001', 'cloud-002']);
  expect(
    seen
      .filter((s) => s.kind === 'prepare' && s.step === 'running')
      .map((s) => s.node)
      .sort(),
  ).toEqual(['cloud-001', 'cloud-002']);
  const firstUpgrade = seen.find((s) => s.kind === 'upgrade')!;
  expect(firstUpgrade.node).toBe('cp-1');
  expect(Math.max(...prepared.map((s) => s.at))).toBeLessThan(firstUpgrade.at);
  // The cloud nodes were upgraded later, like any worker; every node is at the target and schedulable.
  const all = await nodes(h);
  expect([...all.values()].every((n) => n.status?.nodeInfo?.kubeletVersion === TARGET && !n.spec?.unschedulable)).toBe(true);
  expect(cordonedByUs(all)).toEqual([]);

  expect(await preparePods()).toEqual([]);
  expect((await upgradePods(h)).length).toBe(12);
  const events = await ourEvents(h, NODE_EVENT_NAMESPACE);
  expect(
    events
      .filter((e) => e.reason === 'NodePrepared')
      .map((e) => e.involvedObject.name)
      .sort(),
  ).toEqual(['cloud-001', 'cloud-002']);
}, 420_000);

test('a prepare failure pauses, touching no node; cancel removes its pod; again, and resume prepares it again and completes', async () => {
  const TARGET = 'v1.35.0';
  await setNodeLabel(h, 'cloud-002', SIM_FAIL_PREPARE_LABEL, 'true');
  await startUpgrade(h.env.client, request(TARGET));
  const paused = await progressUntil(h, 'a pause on cloud-002', (p) => p.state !== 'running', 120_000);
  expect(paused).toMatchObject({ state: 'paused', phase: 'prepare', pause: { reason: 'error' }, prepare: { total: 2, done: 1 } });
  expect(paused.lastError).toMatchObject({ node: 'cloud-002', step: 'prepare' });
  expect(paused.lastError?.logTail).toContain(`simulated fault (${SIM_FAIL_PREPARE_LABEL}=true)`);
  const failed = await preparePods();
  expect(failed.map((p) => [p.metadata?.name, p.status?.phase])).toEqual([[upgradePodName('cloud-002', TARGET, 'prepare'), 'Failed']]);
  const all = await nodes(h);
  expect(cordonedByUs(all)).toEqual([]);
  expect([...all.values()].some((n) => n.spec?.unschedulable)).toBe(false);
  expect((await upgradePods(h)).filter((p) => p.metadata?.labels?.['edge-upgrade.io/target-version'] === TARGET)).toHaveLength(1);

  await cancelUpgrade(h.env.client, CLUSTER_ID);
  const cancelled = await progressUntil(h, 'cancelled', (p) => p.state === 'cancelled', 60_000);
  expect(cancelled.masters.upgraded).toBe(0);
  await eventually('no prepare pod left', async () => (await preparePods()).length === 0, 30_000);

  // Again: it pauses on the same node; after the fix, resume deletes the failed pod and retries it first.
  await startUpgrade(h.env.client, request(TARGET));
  await progressUntil(h, 'a pause on cloud-002 again', (p) => p.state === 'paused' && p.lastError?.node === 'cloud-002', 120_000);
  const failedUid = (await preparePods())[0]?.metadata?.uid;
  expect(failedUid).toBeDefined();
  const before = seen.length;
  await setNodeLabel(h, 'cloud-002', SIM_FAIL_PREPARE_LABEL, null);
  await resumeUpgrade(h.env.client, CLUSTER_ID);
  const done = await progressUntil(h, 'the upgrade to finish', (p) => p.state !== 'running' && p.state !== 'paused', 300_000);
  expect(done).toMatchObject({ state: 'succeeded', prepare: { total: 2, done: 2 }, workers: { upgraded: 10 } });
  const after = seen.slice(before);
  expect(after[0]).toMatchObject({ kind: 'prepare', node: 'cloud-002', step: 'running' });
  expect(after.find((s) => s.kind === 'prepare' && s.step === 'succeeded')?.node).toBe('cloud-002');
  expect(await preparePods()).toEqual([]);
  const events = await ourEvents(h, UPGRADE_NAMESPACE);
  expect(events.some((e) => e.reason === 'PrepareFailed' && e.involvedObject.name === upgradePodName('cloud-002', TARGET, 'prepare'))).toBe(
    true,
  );
}, 600_000);

test('with a failure budget a prepare failure quarantines the cloud node: labelled, not upgraded, the upgrade ends partial', async () => {
  const TARGET = 'v1.36.0';
  await setNodeLabel(h, 'cloud-001', SIM_FAIL_PREPARE_LABEL, 'true');
  const before = seen.length;
  await startUpgrade(h.env.client, { ...request(TARGET), maxFailures: 1 });
  const done = await progressUntil(h, 'the upgrade to end (or pause)', (p) => p.state !== 'running', 300_000);
  expect(done).toMatchObject({
    state: 'succeeded',
    partial: true,
    prepare: { total: 2, done: 1 },
    workers: { total: 10, upgraded: 9, quarantined: [{ node: 'cloud-001', step: 'prepare' }] },
  });
  const node = (await nodes(h)).get('cloud-001')!;
  expect(node.metadata?.labels?.[QUARANTINED_LABEL]).toBeDefined();
  expect(node.metadata?.annotations?.[QUARANTINE_REASON_ANNOTATION]).toContain('cloud-001');
  expect(node.spec?.unschedulable).toBeFalsy();
  expect(node.status?.nodeInfo?.kubeletVersion).not.toBe(TARGET);
  expect(seen.slice(before).some((s) => s.kind === 'upgrade' && s.node === 'cloud-001')).toBe(false);
  // Its failed prepare pod stays, as a failed worker's upgrade pod does.
  expect((await preparePods()).map((p) => [p.metadata?.name, p.status?.phase])).toEqual([
    [upgradePodName('cloud-001', TARGET, 'prepare'), 'Failed'],
  ]);
}, 420_000);
