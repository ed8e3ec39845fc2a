/**
 * One watch per collection and cluster, shared by every activity of the worker process, in the
 * manner of client-go's shared informers: a hundred upgrade pods in flight cost the API server one
 * watch on kube-upgrade pods and one on nodes, not two hundred. Activities subscribe to the
 * objects they wait for, by name; events for other objects are dropped at once, so memory grows
 * with what is in flight, not with the size of the cluster.
 *
 * The watch starts from the collection's current resourceVersion (a list with limit 1), so it
 * replays nothing; subscribers read their object once themselves after subscribing. When the watch
 * breaks it restarts from the last resourceVersion seen (bookmarks keep it fresh); when that is too
 * old (410 Gone) it starts afresh and marks every subscriber `stale`, so they read again. It stops
 * a while after the last subscriber left.
 */
import { Watch, type KubeConfig, type KubernetesObject, type V1Node, type V1Pod } from '@kubernetes/client-node';

/** Pause before restarting a watch that ended or failed, in ms; doubles up to {@link MAX_RESTART_MS} while restarts keep failing. */
const RESTART_MS = 1_000;
const MAX_RESTART_MS = 10_000;
/** How long a watch stays open without subscribers, in ms (the next batch usually subscribes well within it). */
export const IDLE_STOP_MS = 60_000;
/**
 * How long an open watch may stay silent (no event, no bookmark) and still count as healthy, in ms.
 * The API server sends a bookmark about every minute to watchers that ask for them, so a longer
 * silence means a connection that died without closing.
 */
export const SILENT_MS = 150_000;

/** What the watch needs besides the path: the current resourceVersion of the collection (a cheap list). */
export interface CollectionSource {
  /** The collection's path, e.g. '/api/v1/nodes'. */
  path: string;
  labelSelector?: string;
  /** Lists at most one object and returns the list's resourceVersion. */
  currentVersion(): Promise<string | undefined>;
  /** Counts each watch request (the worker's request counter). */
  countRequest?: (method: string, url: string) => void;
}

/** One subscriber's view of one object. */
export class Subscription<T extends KubernetesObject> {
  /** The newest version the watch delivered; undefined until the first event after subscribing. */
  current: T | undefined;
  /** True after a DELETED event, until the object shows up again. */
  deleted = false;
  /** True when the watch may have missed events (it restarted afresh or is down): read the object again. */
  stale = false;
  /** Counts deliveries, so a waiter can tell whether anything arrived. */
  changes = 0;
  private wake: Array<() => void> = [];

  constructor(
    readonly name: string,
    private readonly leave: (s: Subscription<T>) => void,
  ) {}

  /** Resolves at the next delivery (or stale mark), or after `ms` milliseconds, whichever comes first. */
  next(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.wake = this.wake.filter((w) => w !== wake);
        resolve();
      }, ms);
      this.wake.push(wake);
    });
  }

  /** Stops receiving; the shared watch closes later if nobody else subscribes. */
  close(): void {
    this.leave(this);
    this.notify();
  }

  /** Called by the shared watch for each event of this object (and by tests). */
  deliver(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void {
    this.deleted = type === 'DELETED';
    this.current = this.deleted ? undefined : obj;
    this.changes++;
    this.notify();
  }

  /** Called by the shared watch when it may have missed events. */
  markStale(): void {
    this.stale = true;
    this.notify();
  }

  private notify(): void {
    const waiting = this.wake;
    this.wake = [];
    for (const w of waiting) w();
  }
}

/** A shared watch on one collection. Counters are for tests and benchmarks. */
export class SharedWatch<T extends KubernetesObject> {
  /** How many watch requests were opened, and how many times it started afresh. */
  readonly stats = { opened: 0, relisted: 0 };
  private readonly subscribers = new Map<string, Set<Subscription<T>>>();
  private resourceVersion: string | undefined;
  private controller: AbortController | undefined;
  private running = false;
  /** True while a watch request is open and delivering. */
  private live = false;
  /** When the open watch last delivered anything, bookmarks included (ms). */
  private heardAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private restartDelay = RESTART_MS;
  /** Bumped by every open, close and stop: callbacks of an older watch request are ignored. */
  private generation = 0;

  constructor(
    private readonly kc: KubeConfig,
    private readonly source: CollectionSource,
    private readonly idleStopMs = IDLE_STOP_MS,
    private readonly silentMs = SILENT_MS,
  ) {}

  /** True while the watch is open and not silent for long: subscribers may then rely on it and re-read rarely. */
  get healthy(): boolean {
    return this.live && Date.now() - this.heardAt < this.silentMs;
  }

  /** Subscribes to the object `name`, starting the watch when it is not running. Read the object once after this. */
  subscribe(name: string): Subscription<T> {
    const sub = new Subscription<T>(name, (s) => this.leave(s));
    let set = this.subscribers.get(name);
    if (!set) this.subscribers.set(name, (set = new Set()));
    set.add(sub);
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    if (!this.running) {
      this.running = true;
      void this.open();
    }
    return sub;
  }

  /** Closes the watch now, whoever is subscribed (worker shutdown, tests). */
  stop(): void {
    this.running = false;
    this.generation++;
    this.live = false;
    clearTimeout(this.restartTimer);
    clearTimeout(this.idleTimer);
    this.restartTimer = this.idleTimer = undefined;
    this.controller?.abort();
    this.controller = undefined;
  }

  private leave(sub: Subscription<T>): void {
    const set = this.subscribers.get(sub.name);
    set?.delete(sub);
    if (set && set.size === 0) this.subscribers.delete(sub.name);
    if (this.subscribers.size === 0 && this.running && !this.idleTimer) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        if (this.subscribers.size === 0) this.stop();
      }, this.idleStopMs);
      this.idleTimer.unref();
    }
  }

  private async open(): Promise<void> {
    if (!this.running) return;
    const generation = ++this.generation;
    try {
      if (this.resourceVersion === undefined) {
        this.resourceVersion = await this.source.currentVersion();
        if (this.stats.opened > 0) this.stats.relisted++;
        // Events between the old watch and this version were missed: every subscriber reads again.
        this.markAllStale();
      }
      this.stats.opened++;
      this.source.countRequest?.('GET', `${this.source.path}?watch=true`);
      const query = {
        allowWatchBookmarks: true,
        ...(this.resourceVersion ? { resourceVersion: this.resourceVersion } : {}),
        ...(this.source.labelSelector ? { labelSelector: this.source.labelSelector } : {}),
      };
      const controller = await new Watch(this.kc).watch(
        this.source.path,
        query,
        (type: string, obj: T & { code?: number }) => {
          if (generation === this.generation) this.onEvent(type, obj);
        },
        () => this.closed(generation),
      );
      if (generation !== this.generation) {
        controller.abort();
        return;
      }
      this.controller = controller;
      this.live = true;
      this.heardAt = Date.now();
    } catch {
      this.closed(generation);
    }
  }

  private onEvent(type: string, obj: T & { code?: number }): void {
    this.heardAt = Date.now();
    if (type === 'ERROR') {
      // 410 Gone: our resourceVersion is too old; start afresh on restart.
      if (obj.code === 410) this.resourceVersion = undefined;
      return;
    }
    this.restartDelay = RESTART_MS;
    const version = obj.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
    if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
    const set = this.subscribers.get(obj.metadata?.name ?? '');
    if (set) for (const sub of set) sub.deliver(type, obj);
  }

  private closed(generation: number): void {
    if (generation !== this.generation) return;
    this.generation++;
    this.controller = undefined;
    this.live = false;
    if (!this.running || this.restartTimer) return;
    // Down: subscribers fall back to reading on their own timer until it is back.
    this.markAllStale();
    const delay = this.restartDelay;
    this.restartDelay = Math.min(delay * 2, MAX_RESTART_MS);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.open();
    }, delay);
    this.restartTimer.unref();
  }

  private markAllStale(): void {
    for (const set of this.subscribers.values()) for (const sub of set) sub.markStale();
  }
}

/**
 * What the shared watches delivered for one pod and one node that the wait has not taken yet.
 * Counting deliveries (not only waking on them) means an event that arrives while the wait is busy
 * elsewhere (reading a Lease, writing an Event) is still taken at the next turn, not lost.
 */
export class Deliveries {
  private pod = 0;
  private node = 0;

  constructor(
    private readonly subs: { pod: Subscription<V1Pod>; node: Subscription<V1Node> },
    /** The UID of the pod being waited for. */
    private readonly uid: string | undefined,
  ) {}

  /** True when something arrived that was not taken. */
  get pending(): boolean {
    return this.subs.pod.changes !== this.pod || this.subs.node.changes !== this.node;
  }

  /** The newest pod and node delivered since the last take; `reread` when the pod was deleted or replaced (a read confirms it). */
  take(): { pod?: V1Pod; node?: V1Node; reread?: boolean } {
    const out: { pod?: V1Pod; node?: V1Node; reread?: boolean } = {};
    const { pod, node } = this.subs;
    if (node.changes !== this.node && node.current) out.node = node.current;
    if (pod.changes !== this.pod) {
      // A replayed old event must not fail the node: a deletion or a new UID is confirmed by a read.
      if (pod.deleted || pod.current?.metadata?.uid !== this.uid) out.reread = true;
      else if (pod.current) out.pod = pod.current;
    }
    this.skip();
    return out;
  }

  /** Marks everything delivered so far as taken (a read is about to fetch newer state anyway). */
  skip(): void {
    this.pod = this.subs.pod.changes;
    this.node = this.subs.node.changes;
  }
}
