/**
 * The upgrade's state: one small class whose `snapshot()` feeds both the `progress` query and
 * continue-as-new (samples-typescript message-passing/safe-message-handlers style). It is pure:
 * no Temporal APIs and no clock (callers pass `now` as an ISO string), so it is unit-tested directly.
 */
import { firstBatchSize } from '../planning/batches.js';
import type { HopStep } from '../planning/hops.js';
import type { PlannedMaster } from '../planning/plan.js';
import {
  isFinal,
  type CancelReason,
  type GateCheckState,
  type GateState,
  type LastError,
  type Phase,
  type Progress,
  type UpgradeStatus,
} from '../planning/types.js';
import { initialSnapshot, migrateSnapshot, type PendingGate, type StoredSnapshot, type UpgradeSnapshot } from './upgrade-snapshot.js';

/** Commands an operator can send; used in refusals. */
export type Command = 'pause' | 'resume' | 'cancel' | 'retryQuarantined';

const MAX_REFUSALS = 10;

/** Holds and changes the upgrade's state. Methods never throw; `refusal()` says whether a command applies. */
export class UpgradeState {
  private s: UpgradeSnapshot;

  /** Starts from a snapshot of any version in the support window (./upgrade-snapshot.ts). */
  constructor(snapshot: StoredSnapshot) {
    this.s = migrateSnapshot(snapshot);
  }

  /** The state of a fresh upgrade, before validation. */
  static initial(clusterId: string, targetVersion: string): UpgradeSnapshot {
    return initialSnapshot(clusterId, targetVersion);
  }

  /** The `progress` query's answer (the live object; Temporal serialises it). */
  get progress(): Progress {
    return this.s.progress;
  }

  /** A deep copy of everything, for continue-as-new. */
  snapshot(): UpgradeSnapshot {
    return JSON.parse(JSON.stringify(this.s)) as UpgradeSnapshot;
  }

  get phase(): Phase {
    return this.s.progress.phase;
  }
  get state(): UpgradeStatus {
    return this.s.progress.state;
  }
  get planned(): boolean {
    return this.s.planned;
  }
  get todoMasters(): readonly PlannedMaster[] {
    return this.s.todoMasters;
  }
  get todoWorkers(): readonly string[] {
    return this.s.todoWorkers;
  }
  get nextBatchSize(): number {
    return this.s.nextBatchSize;
  }
  get resumeRequested(): boolean {
    return this.s.resumeRequested;
  }
  get cancelRequested(): boolean {
    return this.s.cancelRequested;
  }
  /** True while paused only because the maintenance window is closed. */
  get waitingForWindow(): boolean {
    return this.state === 'paused' && this.s.progress.pause?.reason === 'window';
  }
  /** True in 'succeeded', 'cancelled' and 'failed'. */
  get finished(): boolean {
    return isFinal(this.state);
  }

  /**
   * Why `command` does not apply now, or null when it does. Used by signal handlers and Update validators alike.
   *
   * During a window pause: `pause` is accepted and turns it into a user pause (with its own
   * timeout; a later resume outside the window goes back to waiting for the window); `resume` is
   * refused, because the window is the policy the upgrade was started with and it resumes by itself
   * when the window opens; `cancel` is accepted (the upgrade is paused).
   */
  refusal(command: Command): string | null {
    if (this.finished) {
      const ended = this.state === 'succeeded' ? 'succeeded' : `been ${this.state === 'failed' ? 'marked failed' : 'cancelled'}`;
      return `the upgrade has already ${ended}`;
    }
    if (this.s.cancelling) {
      const why = this.s.cancelling === 'pause-timeout' ? 'the pause timeout was reached' : 'a cancel was accepted';
      const again = command === 'cancel' ? 'cancelled again' : `${command}d`;
      return `the upgrade is being cancelled (${why}); cordons are being restored and it cannot be ${again}`;
    }
    switch (command) {
      case 'pause':
        // A pause while a resume is still being carried out wins: the upgrade stays paused.
        return this.state === 'paused' && !this.waitingForWindow && !this.s.resumeRequested ? 'the upgrade is already paused' : null;
      case 'resume':
        if (this.state !== 'paused') return 'the upgrade is running, not paused; there is nothing to resume';
        if (this.waitingForWindow) {
          return (
            `the upgrade is waiting for its maintenance window, which opens at ${this.s.progress.pause?.opensAt ?? 'its next start'}; ` +
            'it resumes by itself then. To upgrade outside the window, cancel it and start again without a window'
          );
        }
        if (this.s.cancelRequested) return 'a cancel was already accepted; the upgrade cannot be resumed';
        return null;
      case 'cancel':
        if (this.state !== 'paused') return 'cancel is accepted only while the upgrade is paused; pause it first';
        if (this.s.resumeRequested) return 'a resume was already accepted; pause again before cancelling';
        return null;
      case 'retryQuarantined':
        if ((this.s.progress.workers.quarantined ?? []).length === 0) return 'no worker is quarantined';
        if (this.state === 'paused') return 'the upgrade is paused; resume retries the quarantined workers first';
        if (this.s.retryQuarantinedRequested) return 'a retry of the quarantined workers was already accepted';
        return null;
    }
  }

  /** Records a refused command (newest last, at most a few). */
  refuse(command: Command, reason: string, now: string): void {
    const list = (this.s.progress.refusals ??= []);
    list.push({ command, reason, at: now });
    if (list.length > MAX_REFUSALS) list.splice(0, list.length - MAX_REFUSALS);
  }

  /** Sets the fixed plan once inventory and checks have passed. `doneMasters`/`doneWorkers` were already at the target. */
  plan(masters: { total: number; todo: PlannedMaster[] }, workers: { total: number; todo: string[] }): void {
    this.s.planned = true;
    this.s.todoMasters = masters.todo;
    this.s.todoWorkers = workers.todo;
    this.s.progress.masters = { total: masters.total, upgraded: masters.total - masters.todo.length, current: null };
    this.s.progress.workers = { total: workers.total, upgraded: workers.total - workers.todo.length, batch: null };
  }

  /**
   * Sets a multi-minor plan (see planning/hops.ts) and starts its first hop. `masters` and `workers`
   * are the totals, counting every master and worker of the cluster.
   */
  planHops(steps: HopStep[], masters: number, workers: number): void {
    this.s.hops = { steps, index: 0 };
    this.plan({ total: masters, todo: [] }, { total: workers, todo: [] });
    this.loadHop();
  }

  /** The current hop's version, or null for a single-minor upgrade (nodes go to the target). */
  get hopVersion(): string | null {
    const h = this.s.hops;
    return h ? h.steps[h.index]!.version : null;
  }

  /** Every hop's version (the versions this upgrade's pods and Events are labelled with); empty for a single-minor upgrade. */
  get hopVersions(): string[] {
    return this.s.hops?.steps.map((h) => h.version) ?? [];
  }

  /** True unless this is a multi-minor upgrade whose current hop has no worker pass (workers go later). */
  get hopHasWorkers(): boolean {
    const h = this.s.hops;
    return !h || h.steps[h.index]!.workers !== undefined;
  }

  /** True when a multi-minor upgrade has another hop after the current one. */
  get hasNextHop(): boolean {
    const h = this.s.hops;
    return !!h && h.index < h.steps.length - 1;
  }

  /**
   * Goes on with the next hop: its masters (and later its workers) are queued, counted per hop.
   * Removed nodes stay out; quarantined workers stay quarantined (a resume or `retryQuarantined`
   * retries them); deferred workers get a new chance in this hop's worker pass.
   */
  nextHop(): void {
    if (!this.s.hops || !this.hasNextHop) return;
    this.s.hops.index++;
    this.s.progress.phase = 'masters';
    this.loadHop();
  }

  /**
   * Workers the current hop's worker pass left behind (quarantined, or deferred and offline past
   * `deferTimeout`) while another hop follows: the control plane may not go on without them, since
   * the pass exists to keep their kubelets within the skew of the next hop.
   */
  get leftBehind(): string[] {
    const h = this.s.hops;
    if (!h || !this.hasNextHop || !this.hopHasWorkers) return [];
    const pass = new Set(h.steps[h.index]!.workers);
    const w = this.s.progress.workers;
    const expired = (w.deferred ?? []).filter((d) => d.expired).map((d) => d.node);
    return [...this.quarantined, ...expired].filter((n) => pass.has(n));
  }

  /** Left-behind deferred workers go back to the front of the queue (a resume retries them; quarantined ones are requeued by it). */
  requeueLeftBehind(): void {
    const w = this.s.progress.workers;
    const expired = (w.deferred ?? []).filter((d) => d.expired).map((d) => d.node);
    w.deferred = (w.deferred ?? []).filter((d) => !d.expired);
    this.s.todoWorkers.unshift(...expired.filter((n) => !this.s.todoWorkers.includes(n)));
  }

  private loadHop(): void {
    const h = this.s.hops!;
    const step = h.steps[h.index]!;
    const p = this.s.progress;
    const gone = new Set([...(p.masters.removed ?? []), ...(p.workers.removed ?? []), ...this.quarantined]);
    this.s.todoMasters = step.masters.filter((m) => !gone.has(m.name)).map((m) => ({ ...m }));
    // A removed first master hands `kubeadm upgrade apply` over, as in nodeRemoved.
    if (step.masters[0]?.role === 'first-control-plane' && this.s.todoMasters[0]) this.s.todoMasters[0].role = 'first-control-plane';
    this.s.todoWorkers = (step.workers ?? []).filter((n) => !gone.has(n));
    p.hop = { number: h.index + 1, of: h.steps.length, version: step.version };
    // As in plan(): nodes already at the hop's version count as upgraded; removed ones stay listed under `removed`.
    p.masters.upgraded = p.masters.total - step.masters.length;
    p.masters.current = null;
    if (step.workers) p.workers.upgraded = p.workers.total - step.workers.length;
    p.workers.batch = null;
    p.workers.deferred = (p.workers.deferred ?? []).filter((d) => !this.s.todoWorkers.includes(d.node));
    this.s.nextBatchSize = firstBatchSize();
  }

  setPhase(phase: Phase): void {
    this.s.progress.phase = phase;
  }

  setPrecheck(report: Progress['precheck']): void {
    this.s.progress.precheck = report;
  }

  /** Sets how long a user or error pause may last before the upgrade is cancelled (ms); known once the request is validated. */
  setPauseTimeout(ms: number): void {
    this.s.pauseTimeoutMs = ms;
  }

  /**
   * Pauses now (user or error); it auto-cancels `pauseTimeoutMs` after `now`. Rules, in order:
   * - a pause that arrives while a resume is still being carried out wins: the resume is dropped
   *   (recorded as refused, so a waiting resume Update fails) and the pause starts afresh;
   * - an error while already paused keeps the timer running from the first pause, shows the error,
   *   and drops a pending resume (which fails with the error), so the evidence stays until the next resume;
   * - a user or error pause replaces a window pause (with its own timeout from `now`).
   */
  pause(reason: 'user' | 'error', now: string, message?: string): void {
    const p = this.s.progress;
    const pendingResume = this.s.resumeRequested;
    if (pendingResume) {
      this.s.resumeRequested = false;
      const why =
        reason === 'error'
          ? `the upgrade paused on an error before the resume took effect: ${message ?? 'node failed'}`
          : 'a pause arrived before the resume took effect';
      this.refuse('resume', `${why}; still paused, resume again`, now);
    }
    if (p.state === 'paused' && p.pause && p.pause.reason !== 'window' && !(pendingResume && reason === 'user')) {
      if (reason === 'error') {
        p.pause.reason = 'error';
        if (message) p.pause.message = message;
      }
      return;
    }
    const timeout = this.s.pauseTimeoutMs;
    p.state = 'paused';
    p.pause = { reason, since: now, autoCancelAt: new Date(Date.parse(now) + timeout).toISOString(), ...(message ? { message } : {}) };
  }

  /**
   * Pauses (or keeps waiting) because the maintenance window is closed until `opensAt` (ISO). Never
   * auto-cancels. Keeps `since` when already waiting for the window.
   */
  windowPause(now: string, opensAt: string): void {
    const p = this.s.progress;
    const since = this.waitingForWindow && p.pause ? p.pause.since : now;
    p.state = 'paused';
    p.pause = {
      reason: 'window',
      since,
      autoCancelAt: null,
      opensAt,
      message: 'outside the maintenance window; no new node starts until it opens',
    };
  }

  /** The maintenance window opened: back to running, like a resume (the next worker batch starts at 1 again). */
  windowOpened(): void {
    this.resumed();
  }

  requestResume(): void {
    this.s.resumeRequested = true;
  }

  requestCancel(): void {
    this.s.cancelRequested = true;
  }

  /** Cleanup for a cancel starts: from now on every command is refused with this reason. */
  beginCancel(reason: CancelReason): void {
    this.s.cancelling = reason;
  }

  /** The node is gone from the cluster (deleted mid-upgrade): it is skipped and listed as removed. */
  nodeRemoved(node: string, kind: 'master' | 'worker'): void {
    const part = kind === 'master' ? this.s.progress.masters : this.s.progress.workers;
    (part.removed ??= []).push(node);
    if (kind === 'master') {
      const i = this.s.todoMasters.findIndex((m) => m.name === node);
      const [gone] = i >= 0 ? this.s.todoMasters.splice(i, 1) : [];
      // `kubeadm upgrade apply` still has to run once: the next master takes it over.
      if (gone?.role === 'first-control-plane' && this.s.todoMasters[0]) this.s.todoMasters[0].role = 'first-control-plane';
      this.s.progress.masters.current = null;
    }
  }

  /** Back to running after a resume; the next worker batch starts at 1 again. */
  resumed(): void {
    const p = this.s.progress;
    p.state = 'running';
    p.pause = null;
    this.s.resumeRequested = false;
    this.s.nextBatchSize = firstBatchSize();
    this.closeBatch();
  }

  /** A resume could not be carried out: still paused, the reason recorded as a refusal. */
  resumeFailed(reason: string, now: string): void {
    this.s.resumeRequested = false;
    this.refuse('resume', reason, now);
  }

  startMaster(m: PlannedMaster): void {
    this.s.progress.masters.current = { serial: m.serial, node: m.name };
  }

  /** The first master in the queue is done. */
  masterDone(): void {
    this.s.todoMasters.shift();
    this.s.progress.masters.upgraded++;
    this.s.progress.masters.current = null;
  }

  /**
   * Takes the next worker batch's nodes off the queue: `nextBatchSize` of them, as the batch in
   * progress. Returns its nodes.
   */
  takeBatch(): string[] {
    const w = this.s.progress.workers;
    const nodes = this.s.todoWorkers.splice(0, this.s.nextBatchSize);
    w.batch = { number: (w.batch?.number ?? 0) + 1, size: nodes.length, nodes };
    return [...nodes];
  }

  workerDone(): void {
    this.s.progress.workers.upgraded++;
  }

  /** A worker failed: it goes back to the front of the queue, so a resume retries it first. */
  workerFailed(node: string): void {
    this.s.todoWorkers.unshift(node);
  }

  /** The batch finished; the next one doubles up to `cap`. */
  batchFinished(nextSize: number): void {
    this.s.nextBatchSize = nextSize;
  }

  /** The batch ended in a pause or an error: the next batch starts at 1. */
  closeBatch(): void {
    this.s.nextBatchSize = firstBatchSize();
  }

  get pendingGate(): PendingGate | null {
    return this.s.pendingGate;
  }

  /** A health gate is due before the next node starts (or none). */
  setPendingGate(gate: PendingGate | null): void {
    this.s.pendingGate = gate;
    if (!gate) {
      this.s.progress.masters.gate = null;
      this.s.progress.workers.gate = null;
    }
  }

  /** Shows the running gate's state in progress (under masters or workers). */
  showGate(kind: 'masters' | 'workers', gate: GateState): void {
    this.s.progress[kind].gate = gate;
  }

  /** Records the latest verdicts of the running gate; `stableSince` is null while a check fails. */
  gateChecked(kind: 'masters' | 'workers', checks: GateCheckState[], stableSince: string | null): void {
    const g = this.s.progress[kind].gate;
    if (!g) return;
    g.checks = checks;
    g.stableSince = stableSince;
  }

  /** Deferred workers still waiting to come back (not expired). */
  get waitingDeferred(): string[] {
    return (this.s.progress.workers.deferred ?? []).filter((d) => !d.expired).map((d) => d.node);
  }

  /**
   * Defers an offline worker: it leaves the open batch (not counted in it) and waits in
   * `workers.deferred`. A node deferred before keeps its first `since`, so `deferTimeout` bounds it.
   */
  defer(node: string, now: string, reason: string): void {
    const w = this.s.progress.workers;
    const list = (w.deferred ??= []);
    const known = list.find((d) => d.node === node);
    if (known) {
      known.reason = reason;
      delete known.expired;
    } else {
      list.push({ node, since: now, reason });
    }
    this.s.todoWorkers = this.s.todoWorkers.filter((n) => n !== node);
    if (w.batch?.nodes.includes(node)) {
      w.batch.nodes = w.batch.nodes.filter((n) => n !== node);
      w.batch.size = w.batch.nodes.length;
    }
  }

  /** Deferred workers that are online again go to the front of the queue, in the order given. */
  deferredBack(nodes: string[]): void {
    const w = this.s.progress.workers;
    w.deferred = (w.deferred ?? []).filter((d) => !nodes.includes(d.node));
    this.s.todoWorkers.unshift(...nodes);
    w.waiting = null;
  }

  /** A deferred worker stayed offline past `deferTimeout`: it is left out, and the upgrade ends partial. */
  deferExpired(node: string): void {
    const d = (this.s.progress.workers.deferred ?? []).find((x) => x.node === node);
    if (d) d.expired = true;
  }

  /** A deferred worker left out stays cordoned by this upgrade: its upgrade pod failed or has not finished. */
  deferKept(node: string, reason: string): void {
    const d = (this.s.progress.workers.deferred ?? []).find((x) => x.node === node);
    if (d) d.kept = reason;
  }

  /** A deferred worker was deleted from the cluster while it waited. */
  deferredRemoved(node: string): void {
    const w = this.s.progress.workers;
    w.deferred = (w.deferred ?? []).filter((d) => d.node !== node);
    (w.removed ??= []).push(node);
  }

  /** Shows that every other worker is done and the upgrade waits for deferred workers (or no longer does). */
  setWaiting(waiting: 'deferred' | null): void {
    this.s.progress.workers.waiting = waiting;
  }

  /** A worker failed under a failure budget: quarantined, not queued again until a resume or `retryQuarantined`. */
  quarantine(err: LastError): void {
    const list = (this.s.progress.workers.quarantined ??= []);
    const entry = { node: err.node, step: err.step, message: err.message, at: err.at ?? '' };
    const i = list.findIndex((q) => q.node === err.node);
    if (i >= 0) list[i] = entry;
    else list.push(entry);
  }

  get quarantined(): readonly string[] {
    return (this.s.progress.workers.quarantined ?? []).map((q) => q.node);
  }

  get retryQuarantinedRequested(): boolean {
    return this.s.retryQuarantinedRequested;
  }

  requestRetryQuarantined(): void {
    this.s.retryQuarantinedRequested = true;
  }

  /** A `retryQuarantined` could not be carried out (recorded as a refusal). */
  dropRetryQuarantined(): void {
    this.s.retryQuarantinedRequested = false;
  }

  /**
   * The quarantined workers go to the front of the queue (retried first); the list empties. Those
   * whose prepare failed also go to the front of the prepare queue: they are prepared again first.
   */
  requeueQuarantined(): void {
    const nodes = this.quarantined.filter((n) => !this.s.todoWorkers.includes(n));
    this.s.todoWorkers.unshift(...nodes);
    const unprepared = (this.s.progress.workers.quarantined ?? []).filter((q) => q.step === 'prepare').map((q) => q.node);
    if (unprepared.length > 0) {
      const todo = this.s.todoPrepare;
      todo.unshift(...unprepared.filter((n) => !todo.includes(n)));
    }
    this.s.progress.workers.quarantined = [];
    this.s.retryQuarantinedRequested = false;
  }

  recordError(err: LastError): void {
    this.s.progress.lastError = err;
  }

  /** The cloud workers the prepare phase runs on, in order; with none, neither the phase nor `progress.prepare` appears. */
  planPrepare(nodes: string[]): void {
    if (nodes.length === 0) return;
    this.s.todoPrepare = [...nodes];
    this.s.progress.prepare = { total: nodes.length, done: 0, current: [] };
  }

  get todoPrepare(): readonly string[] {
    return this.s.todoPrepare;
  }

  /** Takes up to `n` nodes to prepare now, shown in `prepare.current`. */
  takePrepare(n: number): string[] {
    const nodes = this.s.todoPrepare.splice(0, n);
    this.s.progress.prepare!.current = [...nodes];
    return nodes;
  }

  /**
   * How one node's preparation ended: prepared, skipped (offline with 'defer', or removed) with why,
   * failed (queued first again), or quarantined under a failure budget (its upgrade is skipped too).
   */
  prepareEnded(node: string, outcome: 'prepared' | 'failed' | 'quarantined' | { skipped: string }): void {
    const p = this.s.progress.prepare!;
    p.current = p.current.filter((n) => n !== node);
    if (outcome === 'prepared') p.done++;
    else if (outcome === 'failed') this.s.todoPrepare.unshift(node);
    else if (outcome === 'quarantined') this.s.todoWorkers = this.s.todoWorkers.filter((n) => n !== node);
    else (p.skipped ??= []).push({ node, reason: outcome.skipped });
  }

  /** All nodes are done (partial when deferred workers were left out or workers are quarantined). */
  succeeded(): void {
    const p = this.s.progress;
    const left = (p.workers.deferred ?? []).length + (p.workers.quarantined ?? []).length;
    if (left > 0) p.partial = true;
    p.workers.waiting = null;
    p.phase = 'done';
    p.state = 'succeeded';
    p.pause = null;
    p.masters.current = null;
  }

  cancelled(reason: CancelReason): void {
    const p = this.s.progress;
    p.state = 'cancelled';
    p.cancelReason = reason;
    p.pause = null;
    p.masters.current = null;
  }

  failed(message: string): void {
    const p = this.s.progress;
    p.state = 'failed';
    p.failure = message;
    p.pause = null;
  }
}
