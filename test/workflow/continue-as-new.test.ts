/**
 * Bounded history: with the dev server's continue-as-new hint lowered, a 1,000-worker upgrade
 * continues-as-new several times, and progress, signals and Updates keep working across runs.
 * Worker batches run as child workflows, so the parent's history grows by a few events per batch;
 * the hint is set low enough that it continues-as-new anyway.
 */
import type { Client } from '@temporalio/client';
import { getProgress, resumeUpgrade, startUpgrade } from '../../src/api.js';
import type { Progress } from '../../src/planning/types.js';
import { PROGRESS_MEMO, pauseSignal } from '../../src/workflows/definitions.js';
import { FakeFleet, makeNodes } from '../helpers/fake-activities.js';
import { note } from '../helpers/logs.js';
import { childHistories, runsOf } from '../helpers/histories.js';
import { eventually } from '../helpers/poll.js';
import { startWorkerEnv, type WorkerEnv } from '../helpers/temporal.js';
import { NO_GATE } from '../helpers/requests.js';

const SUGGEST_AT = 150;

let client: Client;
let w: WorkerEnv;
const fleet = new FakeFleet();
/** A 1000-node fleet takes a while to reach continue-as-new, in ms. */
const SLOW_MS = 120_000;

beforeAll(async () => {
  w = await startWorkerEnv(fleet.activities(), {
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': SUGGEST_AT },
    maxConcurrentActivityTaskExecutions: 400,
  });
  client = w.client;
}, 180_000);

afterAll(async () => {
  await w?.stop();
});

test('a 1,000-worker upgrade continues-as-new, keeping progress, signals and Updates working', async () => {
  const c = fleet.add({
    clusterId: 'big',
    controlPlaneVersion: 'v1.33.5',
    nodes: makeNodes({ masters: 3, edge: 1000, version: 'v1.33.5' }),
    // Upgrades that take a second, so the 400 of the big batch overlap however slowly a busy worker starts them
    // (instant ones could end before the last starts, and a batch would look like 399 and 1).
    upgradeMs: 1000,
  });
  // A cap of 400 workers (40%): batches 1, 2, … 256, then 400, more than one batch child takes (370), so it runs as two.
  const handle = await startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: 'v1.34.4', batch: { maxPercent: 40 } });

  const second = await eventually(
    'a second run',
    async () => {
      const d = await handle.describe();
      return d.runId !== handle.firstExecutionRunId ? d : null;
    },
    SLOW_MS,
  );
  // The new run starts with the progress memo (what `status` shows while a query is slow), before its first task.
  expect(second.memo?.[PROGRESS_MEMO]).toMatchObject({ clusterId: 'big', state: 'running', workers: { total: 1000 } });
  const mid = await getProgress(client, c.clusterId);
  expect(mid).toMatchObject({
    clusterId: 'big',
    targetVersion: 'v1.34.4',
    state: 'running',
    masters: { total: 3, upgraded: 3 },
    workers: { total: 1000 },
  });
  const upgradedNow = [...c.nodes.values()].filter((n) => n.kind === 'worker' && n.kubeletVersion === 'v1.34.4').length;
  expect(mid.workers.upgraded).toBeGreaterThan(0);
  expect(mid.workers.upgraded).toBeLessThanOrEqual(upgradedNow);

  // A signal sent to the workflow ID after continue-as-new reaches the current run.
  await handle.signal(pauseSignal, 'look at the fleet');
  const paused = await eventually(
    'paused',
    async () => {
      const p = await getProgress(client, c.clusterId);
      return p.state === 'paused' ? p : null;
    },
    SLOW_MS,
  );
  expect(paused.pause).toMatchObject({ reason: 'user', message: 'look at the fleet' });
  expect(paused.workers.upgraded).toBeGreaterThanOrEqual(mid.workers.upgraded);
  expect((await resumeUpgrade(client, c.clusterId)).state).toBe('running');

  const result: Progress = await handle.result();
  expect(result).toMatchObject({
    phase: 'done',
    state: 'succeeded',
    masters: { total: 3, upgraded: 3 },
    workers: { total: 1000, upgraded: 1000 },
  });
  const upgrades = c.callsOf('runUpgradePod').map((x) => x.node);
  expect(upgrades).toHaveLength(1003);
  expect(new Set(upgrades).size).toBe(1003); // no node upgraded twice across runs
  // Every run, and every batch child, records its cordons under the chain's first run ID: one owner across continue-as-new.
  expect(new Set(c.callsOf('cordonNode').map((x) => x.args.runChain))).toEqual(new Set([handle.firstExecutionRunId]));
  expect(Math.max(...c.observedBatchSizes())).toBe(400);

  // Follow the chain of runs and measure each one's history.
  const runs = await runsOf(client, handle.workflowId, handle.firstExecutionRunId);
  const sizes = runs.map((r) => r.events.length);
  expect(sizes.length).toBeGreaterThan(1);
  expect(Math.max(...sizes)).toBeLessThanOrEqual(10_240);
  // The batch of 400 went in two children (370 + 30), side by side; every child stays under the limit too.
  const children = await childHistories(client, runs);
  const perChild = children.map(
    (x) => x.events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runUpgradePod').length,
  );
  expect(Math.max(...perChild)).toBe(370);
  expect(perChild.reduce((a, b) => a + b, 0)).toBe(1000);
  expect(Math.max(...children.map((x) => x.events.length))).toBeLessThanOrEqual(10_240);
  note(`1,000 workers: ${sizes.length} runs, events per run ${sizes.join(', ')}; ${children.length} batch children`);
}, 300_000);

test('deferred and quarantined workers, and a pending health gate, are carried across continue-as-new', async () => {
  // No masters: a managed control plane, already at the target.
  const c = fleet.add({ clusterId: 'carried', controlPlaneVersion: 'v1.34.4', nodes: makeNodes({ edge: 150, version: 'v1.33.5' }) });
  c.nodes.get('edge-3')!.ready = false; // offline from the start: deferred at pre-check
  c.failUpgrade.add('edge-7');
  const handle = await startUpgrade(client, {
    clusterId: c.clusterId,
    targetVersion: 'v1.34.4',
    offline: 'defer',
    maxFailures: 5,
    gate: { stableFor: '1s' },
  });

  const waiting = await eventually(
    'waiting for the deferred worker in a later run',
    async () => {
      const p = await getProgress(client, c.clusterId);
      return p.workers.waiting === 'deferred' ? p : null;
    },
    SLOW_MS,
  );
  expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
  expect(waiting.workers.deferred!.map((d) => d.node)).toEqual(['edge-3']);
  expect(waiting.workers.quarantined!.map((q) => q.node)).toEqual(['edge-7']);
  expect(waiting.workers.upgraded).toBe(148);

  c.nodes.get('edge-3')!.ready = true;
  const result: Progress = await handle.result();
  expect(result).toMatchObject({ state: 'succeeded', partial: true, workers: { upgraded: 149, deferred: [] } });
  expect(result.workers.quarantined!.map((q) => q.node)).toEqual(['edge-7']);
  const upgrades = c.callsOf('runUpgradePod').map((x) => x.node);
  expect(upgrades.filter((n) => n === 'edge-3')).toHaveLength(1);
  // Every batch was gated before the next one started, also across runs.
  expect(c.callsOf('evaluateHealth').length).toBeGreaterThanOrEqual(c.observedBatchSizes().length);
}, 300_000);

test('a multi-minor upgrade continues-as-new mid-hop and keeps its hop: each master once per hop, each worker once', async () => {
  // 12 masters (about 24 events each): a hop of them is more than one run at the 150-event hint here, so runs end inside every hop.
  const c = fleet.add({
    clusterId: 'hops',
    controlPlaneVersion: 'v1.31.5',
    nodes: makeNodes({ masters: 12, edge: 5, version: 'v1.31.5' }),
  });
  const handle = await startUpgrade(client, {
    clusterId: c.clusterId,
    gate: NO_GATE,
    targetVersion: 'v1.34.4',
    via: ['v1.32.9', 'v1.33.5'],
  });
  const mid = await eventually(
    'a later run in hop 2',
    async () => {
      const p = await getProgress(client, c.clusterId);
      return (p.hop?.number ?? 0) >= 2 && (await handle.describe()).runId !== handle.firstExecutionRunId ? p : null;
    },
    SLOW_MS,
  );
  expect(mid.hop).toMatchObject({ of: 3 });

  const result = await handle.result();
  expect(result).toMatchObject({ state: 'succeeded', hop: { number: 3, of: 3, version: 'v1.34.4' }, masters: { total: 12, upgraded: 12 } });
  const pods = c.callsOf('runUpgradePod').map((x) => `${x.node}@${x.args.targetVersion}`);
  expect(new Set(pods).size).toBe(pods.length);
  for (const v of ['v1.32.9', 'v1.33.5', 'v1.34.4'])
    expect(pods.filter((p) => p.startsWith('cp-') && p.endsWith(`@${v}`))).toHaveLength(12);
  expect(pods.filter((p) => p.startsWith('edge-'))).toEqual(Array.from({ length: 5 }, (_, i) => `edge-${i + 1}@v1.34.4`));
}, 300_000);
