/**
 * The upgrade's state: one small class whose `snapshot()` feeds continue-as-new and whose `progress`
 * answers the `progress` query (samples-typescript message-passing/safe-message-handlers style). It
 * composes one part per concern, each owning its data and its slice of `progress`:
 * - control (./state/control.ts): state, phase, pause, the rule book for commands;
 * - the master queue and the worker queue (./state/master-queue.ts, ./state/worker-queue.ts);
 * - the prepare queue (./state/prepare-queue.ts) and the hops (./state/hops.ts).
 * `progress` is built from them on each read. This class holds what spans parts (a hop loads both
 * queues; a resume reopens batches). It is pure: no Temporal APIs and no clock (callers pass `now`
 * as an ISO string), so it is unit-tested directly.
 */
import type { HopStep } from '../planning/hops.js';
import type { PlannedMaster } from '../planning/plan.js';
import type { CancelReason, GateCheckState, GateState, LastError, Phase, Progress, UpgradeStatus } from '../planning/types.js';
import { Control, type Command } from './state/control.js';
import { Hops } from './state/hops.js';
import { MasterQueue } from './state/master-queue.js';
import { PrepareQueue, type PrepareOutcome } from './state/prepare-queue.js';
import { WorkerQueue } from './state/worker-queue.js';
import {
  initialSnapshot,
  migrateSnapshot,
  SNAPSHOT_VERSION,
  type PendingGate,
  type StoredSnapshot,
  type UpgradeSnapshot,
} from './upgrade-snapshot.js';

export type { Command };

/** Holds and changes the upgrade's state. Methods never throw; `refusal()` says whether a command applies. */
export class UpgradeState {
  private readonly control: Control;
  /** The masters still to upgrade and `progress.masters`. */
  readonly masters: MasterQueue;
  /** The workers still to upgrade, the batch, deferred and quarantined workers, and `progress.workers`. */
  readonly workers: WorkerQueue;
  private readonly preparing: PrepareQueue;
  private readonly hops: Hops;
  private isPlanned: boolean;
  private gate: PendingGate | null;

  /** Starts from a snapshot of any version in the support window (./upgrade-snapshot.ts). */
  constructor(stored: StoredSnapshot) {
    const s = migrateSnapshot(stored);
    const { masters, workers, prepare, hop: _builtFromHops, ...control } = s.progress;
    this.control = new Control(control, {
      resumeRequested: s.resumeRequested,
      cancelRequested: s.cancelRequested,
      cancelling: s.cancelling,
      pauseTimeoutMs: s.pauseTimeoutMs,
      retryQuarantinedRequested: s.retryQuarantinedRequested,
    });
    this.masters = new MasterQueue(masters, s.todoMasters);
    this.workers = new WorkerQueue(workers, s.todoWorkers, s.nextBatchSize);
    this.preparing = new PrepareQueue(prepare, s.todoPrepare);
    this.hops = new Hops(s.hops);
    this.isPlanned = s.planned;
    this.gate = s.pendingGate;
  }

  /** The state of a fresh upgrade, before validation. */
  static initial(clusterId: string, targetVersion: string): UpgradeSnapshot {
    return initialSnapshot(clusterId, targetVersion);
  }

  /** The `progress` query's answer, built from the parts (Temporal serialises it; callers only read it). */
  get progress(): Progress {
    const { clusterId, targetVersion, phase, state, pause, precheck, partial, ...rest } = this.control.view;
    const prepare = this.preparing.view;
    const hop = this.hops.view;
    return {
      ...{ clusterId, targetVersion, phase, state, pause, precheck },
      ...{ masters: this.masters.view, workers: this.workers.view },
      ...rest,
      ...(prepare ? { prepare } : {}),
      ...(hop ? { hop } : {}),
      ...(partial !== undefined ? { partial } : {}),
    };
  }

  /** A deep copy of everything, for continue-as-new. */
  snapshot(): UpgradeSnapshot {
    const f = this.control.flags;
    const snapshot: UpgradeSnapshot = {
      version: SNAPSHOT_VERSION,
      progress: this.progress,
      planned: this.isPlanned,
      todoMasters: [...this.masters.todo],
      todoWorkers: [...this.workers.todo],
      nextBatchSize: this.workers.nextBatchSize,
      resumeRequested: f.resumeRequested,
      cancelRequested: f.cancelRequested,
      cancelling: f.cancelling,
      pauseTimeoutMs: f.pauseTimeoutMs,
      pendingGate: this.gate,
      retryQuarantinedRequested: f.retryQuarantinedRequested,
      todoPrepare: [...this.preparing.todo],
      hops: this.hops.record,
    };
    return JSON.parse(JSON.stringify(snapshot)) as UpgradeSnapshot;
  }

  get phase(): Phase {
    return this.control.phase;
  }
  get state(): UpgradeStatus {
    return this.control.state;
  }
  get planned(): boolean {
    return this.isPlanned;
  }
  get todoMasters(): readonly PlannedMaster[] {
    return this.masters.todo;
  }
  get todoWorkers(): readonly string[] {
    return this.workers.todo;
  }
  get nextBatchSize(): number {
    return this.workers.nextBatchSize;
  }
  get resumeRequested(): boolean {
    return this.control.flags.resumeRequested;
  }
  get cancelRequested(): boolean {
    return this.control.flags.cancelRequested;
  }
  /** True while paused only because the maintenance window is closed. */
  get waitingForWindow(): boolean {
    return this.control.waitingForWindow;
  }
  /** True in 'succeeded', 'cancelled' and 'failed'. */
  get finished(): boolean {
    return this.control.finished;
  }

  /** Why `command` does not apply now, or null when it does (./state/control.ts). Used by signal handlers and Update validators alike. */
  refusal(command: Command): string | null {
    return this.control.refusal(command, this.workers.quarantined.length);
  }

  /** Records a refused command (newest last, at most a few). */
  refuse(command: Command, reason: string, now: string): void {
    this.control.refuse(command, reason, now);
  }

  /** Sets the fixed plan once inventory and checks have passed. Masters and workers not in `todo` were already at the target. */
  plan(masters: { total: number; todo: PlannedMaster[] }, workers: { total: number; todo: string[] }): void {
    this.isPlanned = true;
    this.masters.plan(masters.total, masters.todo);
    this.workers.plan(workers.total, workers.todo);
  }

  /**
   * Sets a multi-minor plan (see planning/hops.ts) and starts its first hop. `masters` and `workers`
   * are the totals, counting every master and worker of the cluster.
   */
  planHops(steps: HopStep[], masters: number, workers: number): void {
    this.hops.plan(steps);
    this.plan({ total: masters, todo: [] }, { total: workers, todo: [] });
    this.loadHop();
  }

  /** The current hop's version, or null for a single-minor upgrade (nodes go to the target). */
  get hopVersion(): string | null {
    return this.hops.step?.version ?? null;
  }

  /** Every hop's version (the versions this upgrade's pods and Events are labelled with); empty for a single-minor upgrade. */
  get hopVersions(): string[] {
    return this.hops.versions;
  }

  /** True unless this is a multi-minor upgrade whose current hop has no worker pass (workers go later). */
  get hopHasWorkers(): boolean {
    const step = this.hops.step;
    return !step || step.workers !== undefined;
  }

  /** True when a multi-minor upgrade has another hop after the current one. */
  get hasNextHop(): boolean {
    return this.hops.hasNext;
  }

  /**
   * Goes on with the next hop: its masters (and later its workers) are queued, counted per hop.
   * Removed nodes stay out; quarantined workers stay quarantined (a resume or `retryQuarantined`
   * retries them); deferred workers get a new chance in this hop's worker pass.
   */
  nextHop(): void {
    if (!this.hops.next()) return;
    this.control.setPhase('masters');
    this.loadHop();
  }

  /**
   * Workers the current hop's worker pass left behind (quarantined, or deferred and offline past
   * `deferTimeout`) while another hop follows: the control plane may not go on without them, since
   * the pass exists to keep their kubelets within the skew of the next hop.
   */
  get leftBehind(): string[] {
    const step = this.hops.step;
    if (!step?.workers || !this.hops.hasNext) return [];
    const pass = new Set(step.workers);
    return [...this.workers.quarantined, ...this.workers.expired].filter((n) => pass.has(n));
  }

  /** Left-behind deferred workers go back to the front of the queue (a resume retries them; quarantined ones are requeued by it). */
  requeueLeftBehind(): void {
    this.workers.requeueExpired();
  }

  /** Queues the current hop's nodes, leaving out removed and quarantined ones. */
  private loadHop(): void {
    const step = this.hops.step!;
    const gone = new Set([...(this.masters.view.removed ?? []), ...(this.workers.view.removed ?? []), ...this.workers.quarantined]);
    this.masters.loadHop(step.masters, gone);
    this.workers.loadHop(step.workers, gone);
  }

  setPhase(phase: Phase): void {
    this.control.setPhase(phase);
  }

  setPrecheck(report: Progress['precheck']): void {
    this.control.setPrecheck(report);
  }

  /** Sets how long a user or error pause may last before the upgrade is cancelled (ms); known once the request is validated. */
  setPauseTimeout(ms: number): void {
    this.control.flags.pauseTimeoutMs = ms;
  }

  /** Pauses now (user or error); it auto-cancels `pauseTimeoutMs` after `now`. The rules: ./state/control.ts. */
  pause(reason: 'user' | 'error', now: string, message?: string): void {
    this.control.pause(reason, now, message);
  }

  /**
   * Pauses (or keeps waiting) because the maintenance window is closed until `opensAt` (ISO). Never
   * auto-cancels. Keeps `since` when already waiting for the window.
   */
  windowPause(now: string, opensAt: string): void {
    this.control.windowPause(now, opensAt);
  }

  /** The maintenance window opened: back to running, like a resume (the next worker batch starts at 1 again). */
  windowOpened(): void {
    this.resumed();
  }

  requestResume(): void {
    this.control.flags.resumeRequested = true;
  }

  requestCancel(): void {
    this.control.flags.cancelRequested = true;
  }

  /** Cleanup for a cancel starts: from now on every command is refused with this reason. */
  beginCancel(reason: CancelReason): void {
    this.control.flags.cancelling = reason;
  }

  /** The node is gone from the cluster (deleted mid-upgrade): it is skipped and listed as removed. */
  nodeRemoved(node: string, kind: 'master' | 'worker'): void {
    if (kind === 'master') this.masters.removed(node);
    else this.workers.removed(node);
  }

  /** Back to running after a resume; the next worker batch starts at 1 again. */
  resumed(): void {
    this.control.resumed();
    this.workers.closeBatch();
  }

  /** A resume could not be carried out: still paused, the reason recorded as a refusal. */
  resumeFailed(reason: string, now: string): void {
    this.control.resumeFailed(reason, now);
  }

  get pendingGate(): PendingGate | null {
    return this.gate;
  }

  /** A health gate is due before the next node starts (or none). */
  setPendingGate(gate: PendingGate | null): void {
    this.gate = gate;
    if (!gate) {
      this.masters.view.gate = null;
      this.workers.view.gate = null;
    }
  }

  /** Shows the running gate's state in progress (under masters or workers). */
  showGate(kind: 'masters' | 'workers', gate: GateState): void {
    this.viewOf(kind).gate = gate;
  }

  /** Records the latest verdicts of the running gate; `stableSince` is null while a check fails. */
  gateChecked(kind: 'masters' | 'workers', checks: GateCheckState[], stableSince: string | null): void {
    const g = this.viewOf(kind).gate;
    if (!g) return;
    g.checks = checks;
    g.stableSince = stableSince;
  }

  private viewOf(kind: 'masters' | 'workers'): Progress['masters'] | Progress['workers'] {
    return kind === 'masters' ? this.masters.view : this.workers.view;
  }

  get quarantined(): readonly string[] {
    return this.workers.quarantined;
  }

  get retryQuarantinedRequested(): boolean {
    return this.control.flags.retryQuarantinedRequested;
  }

  requestRetryQuarantined(): void {
    this.control.flags.retryQuarantinedRequested = true;
  }

  /** A `retryQuarantined` could not be carried out (recorded as a refusal). */
  dropRetryQuarantined(): void {
    this.control.flags.retryQuarantinedRequested = false;
  }

  /**
   * The quarantined workers go to the front of the queue (retried first); the list empties. Those
   * whose prepare failed also go to the front of the prepare queue: they are prepared again first.
   */
  requeueQuarantined(): void {
    const unprepared = this.workers.requeueQuarantined();
    if (unprepared.length > 0) this.preparing.requeue(unprepared);
    this.control.flags.retryQuarantinedRequested = false;
  }

  recordError(err: LastError): void {
    this.control.recordError(err);
  }

  /** The cloud workers the prepare phase runs on, in order; with none, neither the phase nor `progress.prepare` appears. */
  planPrepare(nodes: string[]): void {
    this.preparing.plan(nodes);
  }

  get todoPrepare(): readonly string[] {
    return this.preparing.todo;
  }

  /** Takes up to `n` nodes to prepare now, shown in `prepare.current`. */
  takePrepare(n: number): string[] {
    return this.preparing.take(n);
  }

  /**
   * How one node's preparation ended: prepared, skipped (offline with 'defer', or removed) with why,
   * failed (queued first again), or quarantined under a failure budget (its upgrade is skipped too).
   */
  prepareEnded(node: string, outcome: PrepareOutcome): void {
    this.preparing.ended(node, outcome);
    if (outcome === 'quarantined') this.workers.drop(node);
  }

  /** All nodes are done (partial when deferred workers were left out or workers are quarantined). */
  succeeded(): void {
    const partial = this.workers.leftOut > 0;
    this.workers.setWaiting(null);
    this.control.succeeded(partial);
    this.masters.view.current = null;
  }

  cancelled(reason: CancelReason): void {
    this.control.cancelled(reason);
    this.masters.view.current = null;
  }

  failed(message: string): void {
    this.control.failed(message);
  }
}
