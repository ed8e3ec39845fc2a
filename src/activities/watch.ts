/**
 * Follows one Kubernetes object by name through a watch, so long waits wake when it changes
 * instead of polling the API server every second. A broken or expired watch (410 Gone arrives as
 * an ERROR event, then the stream ends) is restarted without a resourceVersion, which replays the
 * object's current state; restarts back off from 2 s to 10 s while the API server is away.
 * Callers still re-read on a slow timer, so a lost watch only delays a wait, never blocks it.
 */
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

/** Pause before restarting a watch that ended or failed, in ms; it doubles up to {@link MAX_RESTART_MS} while restarts keep failing. */
const RESTART_MS = 2_000;
const MAX_RESTART_MS = 10_000;

/** Watches the object `name` in the collection at `listPath` (e.g. '/api/v1/nodes'). */
export class ObjectWatch<T extends KubernetesObject> {
  /** The newest version seen; undefined before the first event. */
  current: T | undefined;
  /** True after a DELETED event, until the object shows up again. */
  deleted = false;
  private wake: Array<() => void> = [];
  private controller?: AbortController;
  private restart?: NodeJS.Timeout;
  private stopped = false;
  private restartDelay = RESTART_MS;

  constructor(
    private readonly kc: KubeConfig,
    private readonly listPath: string,
    private readonly name: string,
    /** Counts each watch request (the worker's request counter). */
    private readonly countRequest?: (method: string, url: string) => void,
  ) {}

  /** Opens the watch. Without a resourceVersion the server first replays the object's current state. */
  async start(): Promise<void> {
    if (this.stopped) return;
    try {
      this.countRequest?.('GET', `${this.listPath}?watch=true`);
      this.controller = await new Watch(this.kc).watch(
        this.listPath,
        { fieldSelector: `metadata.name=${this.name}`, allowWatchBookmarks: true },
        (type: string, obj: T) => {
          if (type === 'BOOKMARK' || type === 'ERROR') return;
          this.restartDelay = RESTART_MS;
          this.deleted = type === 'DELETED';
          this.current = this.deleted ? undefined : obj;
          this.notify();
        },
        () => this.scheduleRestart(),
      );
    } catch {
      this.scheduleRestart();
    }
  }

  /** Resolves at the next change, or after `ms` milliseconds, whichever comes first. */
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

  /** Closes the watch for good. */
  stop(): void {
    this.stopped = true;
    if (this.restart) clearTimeout(this.restart);
    this.controller?.abort();
    this.notify();
  }

  private notify(): void {
    const waiting = this.wake;
    this.wake = [];
    for (const w of waiting) w();
  }

  private scheduleRestart(): void {
    if (this.stopped || this.restart) return;
    const delay = this.restartDelay;
    this.restartDelay = Math.min(delay * 2, MAX_RESTART_MS);
    this.restart = setTimeout(() => {
      this.restart = undefined;
      void this.start();
    }, delay);
  }
}

/** Resolves when any of `watches` changes, or after `ms` milliseconds. */
export function nextChange(watches: Array<ObjectWatch<KubernetesObject>>, ms: number): Promise<void> {
  return Promise.race(watches.map((w) => w.next(ms)));
}
