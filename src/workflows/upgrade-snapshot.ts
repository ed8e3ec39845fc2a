/**
 * What one run of `upgradeCluster` hands the next through continue-as-new, versioned. A run may
 * receive a snapshot written by older code (an upgrade in flight while the worker was upgraded):
 * {@link migrateSnapshot} turns any shape inside the support window (src/workflows/patches.ts) into
 * the current one, once, so the state never reads a field with a default of its own.
 */
import { firstBatchSize } from '../planning/batches.js';
import type { HopStep } from '../planning/hops.js';
import type { PlannedMaster } from '../planning/plan.js';
import type { CancelReason, Progress } from '../planning/types.js';

/** The snapshot shape this code writes. 1 (unversioned) is what code before the version wrote. */
export const SNAPSHOT_VERSION = 2;

/** The default pause timeout, 15 days (ms), for snapshots that predate `pauseTimeoutMs`. */
export const DEFAULT_PAUSE_TIMEOUT_MS = 15 * 24 * 3600_000;

/** A health gate still to pass before the next node starts: the nodes it covers and the controllers their drains evicted. */
export interface PendingGate {
  kind: 'masters' | 'workers';
  nodes: string[];
  owners: string[];
}

/** Everything a run hands to the next one through continue-as-new (version 2). */
export interface UpgradeSnapshot {
  version: typeof SNAPSHOT_VERSION;
  progress: Progress;
  /** True once inventory, version checks and the pre-check have passed. */
  planned: boolean;
  /** Masters still to upgrade, in order; a failed master stays first. */
  todoMasters: PlannedMaster[];
  /** Workers still to upgrade, in order; failed workers are put back at the front (retried first). */
  todoWorkers: string[];
  /** Size of the next worker batch. */
  nextBatchSize: number;
  resumeRequested: boolean;
  cancelRequested: boolean;
  /** Set once the upgrade is being cancelled (cleanup running): every command is refused from then on. */
  cancelling: CancelReason | null;
  /** How long a user or error pause may last before it cancels the upgrade (ms). */
  pauseTimeoutMs: number;
  /** The health gate to pass before the next node starts (it survives pauses and continue-as-new). */
  pendingGate: PendingGate | null;
  /** A `retryQuarantined` Update was accepted: retry the quarantined workers at the next safe point. */
  retryQuarantinedRequested: boolean;
  /** Cloud workers still to prepare (prepare phase), in order; failed ones are put back first. */
  todoPrepare: string[];
  /** A multi-minor upgrade's hops and the index of the current one; null for a single-minor upgrade. */
  hops: { steps: HopStep[]; index: number } | null;
}

/**
 * A snapshot as older code wrote it (version 1, unversioned): the fields added later may be
 * absent, and `openBatchRemaining` (the in-parent batch path's, always 0 at a safe point since
 * batches run in child workflows) may be there.
 */
export type SnapshotV1 = Omit<
  UpgradeSnapshot,
  'version' | 'cancelling' | 'pauseTimeoutMs' | 'pendingGate' | 'retryQuarantinedRequested' | 'todoPrepare' | 'hops'
> &
  Partial<Pick<UpgradeSnapshot, 'cancelling' | 'pauseTimeoutMs' | 'pendingGate' | 'retryQuarantinedRequested' | 'todoPrepare' | 'hops'>> & {
    version?: undefined;
    openBatchRemaining?: number;
  };

/** Any snapshot a run may receive. */
export type StoredSnapshot = UpgradeSnapshot | SnapshotV1;

/** The current shape of `stored`, whichever version wrote it (the progress is handed on as it was). */
export function migrateSnapshot(stored: StoredSnapshot): UpgradeSnapshot {
  if (stored.version === SNAPSHOT_VERSION) return stored;
  const { openBatchRemaining: _inParentBatches, version: _v1, ...v1 } = stored;
  return {
    ...v1,
    version: SNAPSHOT_VERSION,
    cancelling: v1.cancelling ?? null,
    pauseTimeoutMs: v1.pauseTimeoutMs ?? DEFAULT_PAUSE_TIMEOUT_MS,
    pendingGate: v1.pendingGate ?? null,
    retryQuarantinedRequested: v1.retryQuarantinedRequested ?? false,
    todoPrepare: v1.todoPrepare ?? [],
    hops: v1.hops ?? null,
  };
}

/** The snapshot of a fresh upgrade, before validation. */
export function initialSnapshot(clusterId: string, targetVersion: string): UpgradeSnapshot {
  return {
    version: SNAPSHOT_VERSION,
    progress: {
      clusterId,
      targetVersion,
      phase: 'precheck',
      state: 'running',
      pause: null,
      precheck: { status: 'pending', items: [] },
      masters: { total: 0, upgraded: 0, current: null },
      workers: { total: 0, upgraded: 0, batch: null },
      lastError: null,
      cancelReason: null,
      refusals: [],
      failure: null,
    },
    planned: false,
    todoMasters: [],
    todoWorkers: [],
    nextBatchSize: firstBatchSize(),
    resumeRequested: false,
    cancelRequested: false,
    cancelling: null,
    pauseTimeoutMs: DEFAULT_PAUSE_TIMEOUT_MS,
    pendingGate: null,
    retryQuarantinedRequested: false,
    todoPrepare: [],
    hops: null,
  };
}
