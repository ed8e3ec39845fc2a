/**
 * The worker queue, one part of the upgrade's state (../upgrade-state.ts): the workers still to
 * upgrade, the batch in progress and the next one's size, offline workers deferred, failed ones
 * quarantined, and `progress.workers`, which shows them.
 */
import { firstBatchSize } from '../../planning/batches.js';
import type { LastError, Progress } from '../../planning/types.js';

export type WorkersView = Progress['workers'];

export class WorkerQueue {
  constructor(
    public view: WorkersView,
    private queue: string[],
    private batchSize: number,
  ) {}

  /** Workers still to upgrade, in order; failed workers are put back at the front (retried first). */
  get todo(): readonly string[] {
    return this.queue;
  }

  /** Size of the next worker batch. */
  get nextBatchSize(): number {
    return this.batchSize;
  }

  /** The fixed plan: `total` workers, of which those not in `todo` were already at the target. */
  plan(total: number, todo: string[]): void {
    this.queue = todo;
    this.view = { total, upgraded: total - todo.length, batch: null };
  }

  /**
   * A multi-minor hop's worker pass (planning/hops.ts; `workers` undefined when the hop has none): its
   * list without the nodes in `gone`; those not in it were already at the hop's version. Deferred
   * workers queued again get a new chance; the first batch is small again.
   */
  loadHop(workers: string[] | undefined, gone: ReadonlySet<string>): void {
    const v = this.view;
    this.queue = (workers ?? []).filter((n) => !gone.has(n));
    if (workers) v.upgraded = v.total - workers.length;
    v.batch = null;
    v.deferred = (v.deferred ?? []).filter((d) => !this.queue.includes(d.node));
    this.batchSize = firstBatchSize();
  }

  /** Takes the next batch's nodes off the queue (`nextBatchSize` of them) as the batch in progress, and returns them. */
  takeBatch(): string[] {
    const v = this.view;
    const nodes = this.queue.splice(0, this.batchSize);
    v.batch = { number: (v.batch?.number ?? 0) + 1, size: nodes.length, nodes };
    return [...nodes];
  }

  done(): void {
    this.view.upgraded++;
  }

  /** A worker failed: it goes back to the front of the queue, so a resume retries it first. */
  failed(node: string): void {
    this.queue.unshift(node);
  }

  /** The batch finished; the next one has `nextSize` nodes. */
  batchFinished(nextSize: number): void {
    this.batchSize = nextSize;
  }

  /** The batch ended in a pause or an error, or the upgrade resumed: the next batch starts small. */
  closeBatch(): void {
    this.batchSize = firstBatchSize();
  }

  /** The worker is no longer to be upgraded (its preparation was quarantined). */
  drop(node: string): void {
    this.queue = this.queue.filter((n) => n !== node);
  }

  /** The worker is gone from the cluster: listed as removed. */
  removed(node: string): void {
    (this.view.removed ??= []).push(node);
  }

  /** Deferred workers still waiting to come back (not expired). */
  get waitingDeferred(): string[] {
    return (this.view.deferred ?? []).filter((d) => !d.expired).map((d) => d.node);
  }

  /** Deferred workers that stayed offline past `deferTimeout`. */
  get expired(): string[] {
    return (this.view.deferred ?? []).filter((d) => d.expired).map((d) => d.node);
  }

  /**
   * Defers an offline worker: it leaves the open batch (not counted in it) and waits in
   * `workers.deferred`. A node deferred before keeps its first `since`, so `deferTimeout` bounds it.
   */
  defer(node: string, now: string, reason: string): void {
    const v = this.view;
    const list = (v.deferred ??= []);
    const known = list.find((d) => d.node === node);
    if (known) {
      known.reason = reason;
      delete known.expired;
    } else {
      list.push({ node, since: now, reason });
    }
    this.queue = this.queue.filter((n) => n !== node);
    if (v.batch?.nodes.includes(node)) {
      v.batch.nodes = v.batch.nodes.filter((n) => n !== node);
      v.batch.size = v.batch.nodes.length;
    }
  }

  /** Deferred workers that are online again go to the front of the queue, in the order given. */
  deferredBack(nodes: string[]): void {
    const v = this.view;
    v.deferred = (v.deferred ?? []).filter((d) => !nodes.includes(d.node));
    this.queue.unshift(...nodes);
    v.waiting = null;
  }

  /** A deferred worker stayed offline past `deferTimeout`: it is left out, and the upgrade ends partial. */
  deferExpired(node: string): void {
    const d = (this.view.deferred ?? []).find((x) => x.node === node);
    if (d) d.expired = true;
  }

  /** A deferred worker left out stays cordoned by this upgrade: its upgrade pod failed or has not finished. */
  deferKept(node: string, reason: string): void {
    const d = (this.view.deferred ?? []).find((x) => x.node === node);
    if (d) d.kept = reason;
  }

  /** A deferred worker was deleted from the cluster while it waited. */
  deferredRemoved(node: string): void {
    const v = this.view;
    v.deferred = (v.deferred ?? []).filter((d) => d.node !== node);
    (v.removed ??= []).push(node);
  }

  /** Left-behind (expired) deferred workers go back to the front of the queue. */
  requeueExpired(): void {
    const v = this.view;
    const expired = this.expired;
    v.deferred = (v.deferred ?? []).filter((d) => !d.expired);
    this.queue.unshift(...expired.filter((n) => !this.queue.includes(n)));
  }

  /** Shows that every other worker is done and the upgrade waits for deferred workers (or no longer does). */
  setWaiting(waiting: 'deferred' | null): void {
    this.view.waiting = waiting;
  }

  /** A worker failed under a failure budget: quarantined, not queued again until a resume or `retryQuarantined`. */
  quarantine(err: LastError): void {
    const list = (this.view.quarantined ??= []);
    const entry = { node: err.node, step: err.step, message: err.message, at: err.at ?? '' };
    const i = list.findIndex((q) => q.node === err.node);
    if (i >= 0) list[i] = entry;
    else list.push(entry);
  }

  get quarantined(): readonly string[] {
    return (this.view.quarantined ?? []).map((q) => q.node);
  }

  /**
   * The quarantined workers go to the front of the queue (retried first) and the list empties.
   * Returns those whose prepare failed, to be prepared again first.
   */
  requeueQuarantined(): string[] {
    const nodes = this.quarantined.filter((n) => !this.queue.includes(n));
    this.queue.unshift(...nodes);
    const unprepared = (this.view.quarantined ?? []).filter((q) => q.step === 'prepare').map((q) => q.node);
    this.view.quarantined = [];
    return unprepared;
  }

  /** How many workers the upgrade leaves out: deferred ones still listed and quarantined ones. */
  get leftOut(): number {
    return (this.view.deferred ?? []).length + (this.view.quarantined ?? []).length;
  }
}
