/**
 * Records workflow histories for the replay test (test/workflow/replay.test.ts): runs a few
 * upgrades on a real dev server with the in-memory fake clusters and writes each run's history to
 * test/histories/<label>/<scenario>.json (a run that continued-as-new gets one file per run, and the
 * first batch child workflows get <scenario>.child<N>.json), where
 * <label> is $HISTORY_LABEL or the short commit the code was recorded at.
 *
 *   scripts/record-histories.sh            # all scenarios
 *   scripts/record-histories.sh paused     # only those whose name contains "paused"
 *
 * Record a new set whenever workflow code changes in a way that upgrades in flight will meet (a
 * new command, a new path); keep the old sets, so older histories still prove compatibility.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { execFileSync } from 'node:child_process';
import { cancelUpgrade, getProgress, pauseUpgrade, resumeUpgrade, startUpgrade } from '../../src/api.js';
import type { Progress } from '../../src/planning/types.js';
import { FakeFleet, makeNodes, type FakeCluster } from '../helpers/fake-activities.js';
import { eventually } from '../helpers/poll.js';
import { startWorkerEnv } from '../helpers/temporal.js';
import { temporalCli } from '../helpers/tools.js';
import { childrenIn, runsOf } from '../helpers/histories.js';

const FROM = 'v1.33.5';
const TO = 'v1.34.4'; // clusters without masters have a managed control plane, already at TO
/** A short health gate, so every recording takes the gate's path between nodes without taking long. */
const GATE = { stableFor: '1s' };
const label = process.env.HISTORY_LABEL || execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
const dir = fileURLToPath(new URL(`./${label}/`, import.meta.url));
mkdirSync(dir, { recursive: true });

type Handle = WorkflowHandleWithFirstExecutionRunId;

interface Scenario {
  name: string;
  /** Runs the upgrade to the point to record; returns its handle. */
  run(fleet: FakeFleet, client: Client): Promise<Handle>;
  /** Lowers the dev server's continue-as-new hint. */
  continueAsNewAt?: number;
}

const until = (c: FakeCluster, client: Client, what: string, ok: (p: Progress) => boolean) =>
  eventually(what, async () => ok(await getProgress(client, c.clusterId)), 60_000);

const scenarios: Scenario[] = [
  {
    name: 'full-upgrade',
    async run(fleet, client) {
      const c = fleet.add({
        clusterId: 'rec-full',
        controlPlaneVersion: FROM,
        nodes: makeNodes({ masters: 3, cloud: 2, edge: 8, version: FROM }),
      });
      const h = await startUpgrade(client, { clusterId: c.clusterId, gate: GATE, targetVersion: TO, batch: { maxPercent: 30 } });
      await h.result();
      return h;
    },
  },
  {
    name: 'pause-fail-resume',
    async run(fleet, client) {
      const c = fleet.add({
        clusterId: 'rec-pause',
        controlPlaneVersion: TO,
        nodes: makeNodes({ edge: 12, version: FROM }),
        upgradeMs: 20,
      });
      c.hold = true;
      c.failUpgrade.add('edge-3');
      const h = await startUpgrade(client, { clusterId: c.clusterId, gate: GATE, targetVersion: TO, batch: { maxPercent: 25 } });
      await eventually('edge-1 in flight', () => c.held.length === 1);
      await pauseUpgrade(client, c.clusterId, 'look first');
      c.release();
      await until(c, client, 'paused with nothing in flight', (p) => p.state === 'paused' && p.workers.upgraded === 1);
      await resumeUpgrade(client, c.clusterId);
      c.hold = false;
      c.release();
      await until(c, client, 'error pause', (p) => p.state === 'paused' && p.pause?.reason === 'error');
      c.failUpgrade.clear();
      await resumeUpgrade(client, c.clusterId);
      await h.result();
      return h;
    },
  },
  {
    name: 'paused-open',
    async run(fleet, client) {
      // Still paused when recorded: its history ends on the pause-timeout timer, as a 15-day pause does.
      const c = fleet.add({ clusterId: 'rec-open', controlPlaneVersion: FROM, nodes: makeNodes({ masters: 1, edge: 4, version: FROM }) });
      c.hold = true;
      const h = await startUpgrade(client, { clusterId: c.clusterId, gate: GATE, targetVersion: TO });
      await eventually('cp-1 in flight', () => c.held.length === 1);
      await pauseUpgrade(client, c.clusterId);
      c.hold = false;
      c.release();
      await eventually('pause timer started', async () => (await h.fetchHistory()).events?.some((e) => e.timerStartedEventAttributes));
      return h;
    },
  },
  {
    name: 'pause-timeout',
    async run(fleet, client) {
      const c = fleet.add({ clusterId: 'rec-timeout', controlPlaneVersion: TO, nodes: makeNodes({ edge: 4, version: FROM }) });
      c.hold = true;
      const h = await startUpgrade(client, { clusterId: c.clusterId, gate: GATE, targetVersion: TO, pauseTimeout: '2s' });
      await eventually('edge-1 in flight', () => c.held.length === 1);
      await pauseUpgrade(client, c.clusterId);
      c.hold = false;
      c.release();
      await h.result();
      return h;
    },
  },
  {
    name: 'cancel',
    async run(fleet, client) {
      const c = fleet.add({ clusterId: 'rec-cancel', controlPlaneVersion: TO, nodes: makeNodes({ edge: 6, version: FROM }) });
      c.hold = true;
      const h = await startUpgrade(client, { clusterId: c.clusterId, gate: GATE, targetVersion: TO });
      await eventually('edge-1 in flight', () => c.held.length === 1);
      await pauseUpgrade(client, c.clusterId);
      await cancelUpgrade(client, c.clusterId);
      c.hold = false;
      c.release();
      await h.result();
      return h;
    },
  },
  {
    name: 'temporal-cancel',
    async run(fleet, client) {
      const c = fleet.add({ clusterId: 'rec-tcancel', controlPlaneVersion: TO, nodes: makeNodes({ edge: 4, version: FROM }) });
      c.hold = true;
      const h = await startUpgrade(client, { clusterId: c.clusterId, gate: GATE, targetVersion: TO });
      await eventually('edge-1 in flight', () => c.held.length === 1);
      await h.cancel();
      c.hold = false;
      c.release();
      await h.result().catch(() => undefined);
      return h;
    },
  },
  {
    name: 'removed-node',
    async run(fleet, client) {
      const c = fleet.add({
        clusterId: 'rec-removed',
        controlPlaneVersion: FROM,
        nodes: makeNodes({ masters: 1, edge: 4, version: FROM }),
      });
      c.hold = true;
      const h = await startUpgrade(client, { clusterId: c.clusterId, gate: GATE, targetVersion: TO });
      await eventually('cp-1 in flight', () => c.held.length === 1);
      c.nodes.delete('edge-2'); // deleted after the plan was made
      c.hold = false;
      c.release();
      await h.result();
      return h;
    },
  },
  {
    name: 'window',
    async run(fleet, client) {
      const c = fleet.add({ clusterId: 'rec-window', controlPlaneVersion: TO, nodes: makeNodes({ edge: 3, version: FROM }) });
      const hms = (d: Date) => d.toISOString().slice(11, 19);
      const opens = new Date(Date.now() + 4000);
      const h = await startUpgrade(client, {
        clusterId: c.clusterId,
        gate: GATE,
        targetVersion: TO,
        window: { start: hms(opens), end: hms(new Date(opens.getTime() + 3600_000)), timezone: 'UTC' },
      });
      await h.result();
      return h;
    },
  },
  {
    name: 'continue-as-new',
    continueAsNewAt: 150,
    async run(fleet, client) {
      const c = fleet.add({ clusterId: 'rec-can', controlPlaneVersion: FROM, nodes: makeNodes({ masters: 1, edge: 30, version: FROM }) });
      const h = await startUpgrade(client, { clusterId: c.clusterId, gate: GATE, targetVersion: TO });
      await h.result();
      return h;
    },
  },
  {
    name: 'deferred',
    async run(fleet, client) {
      const c = fleet.add({ clusterId: 'rec-deferred', controlPlaneVersion: TO, nodes: makeNodes({ edge: 5, version: FROM }) });
      c.nodes.get('edge-5')!.ready = false; // offline at pre-check time
      c.hold = true;
      const h = await startUpgrade(client, {
        clusterId: c.clusterId,
        gate: GATE,
        targetVersion: TO,
        offline: 'defer',
        batch: { maxPercent: 50 },
      });
      await eventually('edge-1 in flight', () => c.held.length === 1);
      c.nodes.get('edge-3')!.ready = false; // goes offline before its batch
      c.hold = false;
      c.release();
      await until(c, client, 'waiting for the deferred workers', (p) => p.workers.waiting === 'deferred');
      c.nodes.get('edge-3')!.ready = true;
      c.nodes.get('edge-5')!.ready = true;
      await h.result();
      return h;
    },
  },
  {
    name: 'quarantine',
    async run(fleet, client) {
      const c = fleet.add({ clusterId: 'rec-quarantine', controlPlaneVersion: TO, nodes: makeNodes({ edge: 8, version: FROM }) });
      c.failUpgrade.add('edge-2');
      c.failUpgrade.add('edge-4');
      c.failUpgrade.add('edge-6');
      const h = await startUpgrade(client, {
        clusterId: c.clusterId,
        gate: GATE,
        targetVersion: TO,
        maxFailures: 2,
        batch: { maxPercent: 50 },
      });
      await until(c, client, 'paused over the budget', (p) => p.state === 'paused');
      c.failUpgrade.clear();
      await resumeUpgrade(client, c.clusterId);
      await h.result();
      return h;
    },
  },
  {
    name: 'health-gate',
    async run(fleet, client) {
      const c = fleet.add({ clusterId: 'rec-gate', controlPlaneVersion: FROM, nodes: makeNodes({ masters: 1, edge: 3, version: FROM }) });
      let healthy = false;
      c.health = () => [{ name: 'workloads', ok: healthy, message: healthy ? 'ok' : 'Deployment shop/pos-api: 0/1 available' }];
      const h = await startUpgrade(client, { clusterId: c.clusterId, targetVersion: TO, gate: { stableFor: '1s', timeout: '2s' } });
      await until(c, client, 'paused by the gate', (p) => p.state === 'paused');
      healthy = true;
      await resumeUpgrade(client, c.clusterId);
      await h.result();
      return h;
    },
  },
  {
    name: 'prepare',
    async run(fleet, client) {
      // Two cloud workers (as the inventory marks them with the worker's cloudNodeLabel); one fails its prepare once.
      const nodes = makeNodes({ masters: 1, cloud: 2, edge: 2, version: FROM }).map((n) =>
        n.name.startsWith('cloud-') ? { ...n, cloud: true } : n,
      );
      const c = fleet.add({ clusterId: 'rec-prepare', controlPlaneVersion: FROM, nodes });
      c.failPrepare.add('cloud-2');
      const h = await startUpgrade(client, { clusterId: c.clusterId, gate: GATE, targetVersion: TO });
      await until(c, client, 'paused in prepare', (p) => p.state === 'paused' && p.lastError?.step === 'prepare');
      c.failPrepare.clear();
      await resumeUpgrade(client, c.clusterId);
      await h.result();
      return h;
    },
  },
  {
    name: 'multi-minor',
    async run(fleet, client) {
      // v1.31 → v1.34 through --via: the masters hop 1.32 → 1.33 → 1.34; a pause in hop 2; the workers go once.
      const from = 'v1.31.9';
      const c = fleet.add({ clusterId: 'rec-hops', controlPlaneVersion: from, nodes: makeNodes({ masters: 2, edge: 3, version: from }) });
      c.hold = true;
      const h = await startUpgrade(client, { clusterId: c.clusterId, gate: GATE, targetVersion: TO, via: ['v1.32.9', 'v1.33.5'] });
      // Let hop 1's masters through, one release per look, until a master of hop 2 is in flight.
      await eventually(
        'a master of hop 2 in flight',
        async () => {
          c.release();
          const p = await getProgress(client, c.clusterId);
          return p.hop?.number === 2 && p.masters.current !== null;
        },
        60_000,
      );
      await pauseUpgrade(client, c.clusterId, 'look at hop 2');
      c.hold = false;
      c.release();
      await until(c, client, 'paused in hop 2', (p) => p.state === 'paused' && p.masters.current === null);
      await resumeUpgrade(client, c.clusterId);
      await h.result();
      return h;
    },
  },
];

/**
 * Writes every run of `handle`'s workflow, oldest first: `<name>.json`, or `<name>.run<N>.json` when it
 * continued-as-new; then the first {@link CHILDREN_KEPT} batch child workflows it started, `<name>.child<N>.json`.
 */
async function save(name: string, client: Client, address: string, handle: Handle): Promise<void> {
  // The CLI writes the proto3 JSON that the SDK's replayer reads (as `temporal workflow show` does for users).
  const show = (workflowId: string, runId: string) =>
    JSON.stringify(
      JSON.parse(
        execFileSync(
          temporalCli(),
          ['workflow', 'show', '--address', address, '--workflow-id', workflowId, '--run-id', runId, '--output', 'json'],
          { encoding: 'utf8' },
        ),
      ),
    );
  const runs = await runsOf(client, handle.workflowId, handle.firstExecutionRunId);
  const files = runs.map((r, i) => ({
    file: `${dir}${name}${runs.length > 1 ? `.run${i + 1}` : ''}.json`,
    json: show(handle.workflowId, r.runId),
  }));
  const children = runs.flatMap((r) => childrenIn(r.events));
  for (const [i, child] of children.slice(0, CHILDREN_KEPT).entries()) {
    // A child still running (the upgrade was recorded while paused) has an open history; it replays as far as it goes.
    files.push({ file: `${dir}${name}.child${i + 1}.json`, json: show(child.workflowId, child.runId) });
  }
  for (const { file, json } of files) {
    writeFileSync(file, json + '\n');
    console.log(`recorded ${file}`);
  }
}

/** Batch child workflows kept per scenario: their histories differ only in their nodes. */
const CHILDREN_KEPT = 2;

const only = process.argv[2];
for (const s of scenarios.filter((x) => !only || x.name.includes(only))) {
  const fleet = new FakeFleet();
  const w = await startWorkerEnv(
    fleet.activities(),
    s.continueAsNewAt ? { dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': s.continueAsNewAt } } : {},
  );
  try {
    const handle = await s.run(fleet, w.client);
    await save(s.name, w.client, w.env.address, handle);
    // Nothing may keep running against the dev server we are about to stop.
    if ((await handle.describe()).status.name === 'RUNNING') await handle.terminate('recorded');
  } finally {
    await w.stop();
  }
}
