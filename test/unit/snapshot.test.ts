/**
 * Snapshot migration (src/workflows/upgrade-snapshot.ts) from every snapshot shape inside the
 * support window: the snapshots that the recorded histories of each set handed on through
 * continue-as-new (the second argument of each run's start), which older code wrote.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RECORDED_SETS } from '../../src/workflows/patches.js';
import {
  DEFAULT_PAUSE_TIMEOUT_MS,
  SNAPSHOT_VERSION,
  initialSnapshot,
  migrateSnapshot,
  type SnapshotV1,
  type StoredSnapshot,
} from '../../src/workflows/upgrade-snapshot.js';
import { UpgradeState } from '../../src/workflows/upgrade-state.js';

const histories = fileURLToPath(new URL('../histories/', import.meta.url));

interface Payload {
  data?: string;
}
interface StartedEvent {
  workflowExecutionStartedEventAttributes?: { continuedExecutionRunId?: string; input?: { payloads?: Payload[] } };
}

/** The snapshots a set's histories carried into a new run, by file. */
function carriedSnapshots(set: string): Array<[string, StoredSnapshot]> {
  const found: Array<[string, StoredSnapshot]> = [];
  for (const file of readdirSync(histories + set).filter((f) => f.endsWith('.json'))) {
    const { events } = JSON.parse(readFileSync(`${histories}${set}/${file}`, 'utf8')) as { events: StartedEvent[] };
    const started = events[0]?.workflowExecutionStartedEventAttributes;
    const carried = started?.continuedExecutionRunId ? started.input?.payloads?.[1]?.data : undefined;
    if (carried) found.push([file, JSON.parse(Buffer.from(carried, 'base64').toString('utf8')) as StoredSnapshot]);
  }
  return found;
}

const recorded = RECORDED_SETS.flatMap((set) => carriedSnapshots(set).map(([file, s]) => [`${set}/${file}`, s] as const));

test('every recorded set has runs that started from a carried snapshot', () => {
  for (const set of RECORDED_SETS) expect(recorded.filter(([name]) => name.startsWith(`${set}/`)).length).toBeGreaterThan(0);
});

test.each(recorded)('%s: migrates to the current shape, its progress and queues unchanged', (_name, stored) => {
  const migrated = migrateSnapshot(stored);
  expect(Object.keys(migrated).sort()).toEqual(Object.keys(initialSnapshot('c', 'v1.34.4')).sort());
  expect(migrated.version).toBe(SNAPSHOT_VERSION);
  expect(migrated.progress).toEqual(stored.progress);
  expect(migrated.todoWorkers).toEqual(stored.todoWorkers);
  expect(migrated.todoMasters).toEqual(stored.todoMasters);
  expect(migrated.nextBatchSize).toBe(stored.nextBatchSize);
  // What the state reads back, and hands on again, is the migrated snapshot.
  const state = new UpgradeState(stored);
  expect(state.snapshot()).toEqual(migrated);
  expect(state.progress).toEqual(stored.progress);
});

test('the oldest shape (no fields added since) gets their defaults; a current snapshot passes as it is', () => {
  const current = initialSnapshot('shop', 'v1.34.4');
  const {
    version: _v,
    cancelling: _c,
    pauseTimeoutMs: _p,
    pendingGate: _g,
    retryQuarantinedRequested: _r,
    todoPrepare: _t,
    hops: _h,
    ...rest
  } = current;
  const oldest: SnapshotV1 = { ...rest, openBatchRemaining: 0 };
  expect(migrateSnapshot(oldest)).toEqual(current);
  expect(migrateSnapshot(current)).toBe(current);
  expect(migrateSnapshot({ ...oldest, pauseTimeoutMs: 60_000, todoPrepare: ['cloud-1'] })).toMatchObject({
    pauseTimeoutMs: 60_000,
    todoPrepare: ['cloud-1'],
  });
  expect(current.pauseTimeoutMs).toBe(DEFAULT_PAUSE_TIMEOUT_MS);
});
