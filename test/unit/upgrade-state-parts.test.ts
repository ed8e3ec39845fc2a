/**
 * The upgrade state's parts (src/workflows/state/): `progress` is built from them on each read, with
 * the same keys in the same order as the snapshot it started from (the CLI prints it as JSON), and the
 * master queue hands `kubeadm upgrade apply` over in one place.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HopStep } from '../../src/planning/hops.js';
import type { PlannedMaster } from '../../src/planning/plan.js';
import { MasterQueue } from '../../src/workflows/state/master-queue.js';
import { RECORDED_SETS } from '../../src/workflows/patches.js';
import { initialSnapshot, type StoredSnapshot } from '../../src/workflows/upgrade-snapshot.js';
import { UpgradeState } from '../../src/workflows/upgrade-state.js';

const histories = fileURLToPath(new URL('../histories/', import.meta.url));

/** Every snapshot the recorded histories carried into a new run. */
function carried(): StoredSnapshot[] {
  const found: StoredSnapshot[] = [];
  for (const set of RECORDED_SETS) {
    for (const file of readdirSync(histories + set).filter((f) => f.endsWith('.json'))) {
      const { events } = JSON.parse(readFileSync(`${histories}${set}/${file}`, 'utf8')) as {
        events: Array<{
          workflowExecutionStartedEventAttributes?: { continuedExecutionRunId?: string; input?: { payloads?: Array<{ data?: string }> } };
        }>;
      };
      const started = events[0]?.workflowExecutionStartedEventAttributes;
      const data = started?.continuedExecutionRunId ? started.input?.payloads?.[1]?.data : undefined;
      if (data) found.push(JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as StoredSnapshot);
    }
  }
  return found;
}

const master = (name: string, serial: number, role: PlannedMaster['role']): PlannedMaster => ({ name, serial, role });

test('a fresh upgrade’s progress is the initial snapshot’s, key for key and in order', () => {
  const initial = initialSnapshot('shop-1', 'v1.34.4');
  expect(JSON.stringify(new UpgradeState(initial).progress)).toBe(JSON.stringify(initial.progress));
});

test('progress built from a carried snapshot prints as the snapshot’s progress did', () => {
  const snapshots = carried();
  expect(snapshots.length).toBeGreaterThan(0);
  for (const s of snapshots) expect(JSON.stringify(new UpgradeState(s).progress)).toBe(JSON.stringify(s.progress));
});

test('progress follows the parts: a batch, a deferral, a refusal and success show without being stored twice', () => {
  const s = new UpgradeState(initialSnapshot('shop-1', 'v1.34.4'));
  s.plan({ total: 1, todo: [] }, { total: 3, todo: ['edge-1', 'edge-2', 'edge-3'] });
  s.workers.batchFinished(2);
  expect(s.workers.takeBatch()).toEqual(['edge-1', 'edge-2']);
  s.workers.defer('edge-2', '2026-12-07T10:00:00Z', 'edge-2 is offline');
  expect(s.progress.workers.batch).toEqual({ number: 1, size: 1, nodes: ['edge-1'] });
  expect(s.progress.workers.deferred).toEqual([{ node: 'edge-2', since: '2026-12-07T10:00:00Z', reason: 'edge-2 is offline' }]);
  s.refuse('cancel', 'not paused', '2026-12-07T10:00:01Z');
  s.succeeded();
  const p = s.progress;
  expect(p).toMatchObject({ state: 'succeeded', phase: 'done', partial: true, refusals: [{ command: 'cancel' }] });
  expect(Object.keys(p).at(-1)).toBe('partial');
  expect(s.snapshot().progress).toEqual(p);
});

test('the master queue hands `kubeadm upgrade apply` over when the first master leaves, however it leaves', () => {
  const q = new MasterQueue({ total: 3, upgraded: 0, current: null }, []);
  q.plan(3, [master('cp-1', 1, 'first-control-plane'), master('cp-2', 2, 'control-plane'), master('cp-3', 3, 'control-plane')]);
  q.removed('cp-1');
  expect(q.todo.map((m) => [m.name, m.role])).toEqual([
    ['cp-2', 'first-control-plane'],
    ['cp-3', 'control-plane'],
  ]);
  expect(q.view.removed).toEqual(['cp-1']);
  q.removed('cp-3');
  expect(q.todo.map((m) => m.role)).toEqual(['first-control-plane']);
  // A hop's list still names the removed first master: the queue leaves it out and the next takes over.
  const hop: HopStep = { version: 'v1.35.2', masters: [master('cp-1', 1, 'first-control-plane'), master('cp-2', 2, 'control-plane')] };
  q.loadHop(hop.masters, new Set(['cp-1']));
  expect(q.todo.map((m) => [m.name, m.role])).toEqual([['cp-2', 'first-control-plane']]);
  expect(hop.masters[1]!.role).toBe('control-plane');
});

test('progress.hop is built from the hops: absent for one minor, the current step for several', () => {
  const single = new UpgradeState(initialSnapshot('shop-1', 'v1.34.4'));
  expect('hop' in single.progress).toBe(false);
  const multi = new UpgradeState(initialSnapshot('shop-1', 'v1.35.2'));
  const steps: HopStep[] = [
    { version: 'v1.34.4', masters: [master('cp-1', 1, 'first-control-plane')], workers: ['edge-1'] },
    { version: 'v1.35.2', masters: [master('cp-1', 1, 'first-control-plane')], workers: ['edge-1'] },
  ];
  multi.planHops(steps, 1, 1);
  expect(multi.progress.hop).toEqual({ number: 1, of: 2, version: 'v1.34.4' });
  multi.nextHop();
  expect(multi.progress.hop).toEqual({ number: 2, of: 2, version: 'v1.35.2' });
  expect(multi.hasNextHop).toBe(false);
});
