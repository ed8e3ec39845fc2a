/**
 * Kubernetes clients per cluster and the error policy every activity shares, in one place. The
 * Temporal-free parts live in ../kube/ (clients, connections, what a failure means, request kinds),
 * imported from there; this file adds what needs Temporal:
 *
 * - {@link ApiOutage} tracks how long the API server has been failing, for "keep waiting until the
 *   step's own deadline" loops, and {@link withApiRetry} retries one idempotent operation for a
 *   bounded time;
 * - {@link apiUnavailable} is the one failure (and message) for an API server that stayed
 *   unreachable: "API server https://127.0.0.1:6443 unreachable for 75 s: connection refused";
 * - an unknown cluster is non-retryable, and node step failures carry {@link NodeStepFailureDetails};
 * - the activity context: heartbeats, cancellation and sleep that ends on cancel.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { AppsV1Api, CoordinationV1Api, CoreV1Api, PolicyV1Api, type KubeConfig, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { ClusterRegistry } from '../cluster-registry.js';
import { ConfigError } from '../config.js';
import { ErrorType } from '../planning/errors.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, UPGRADE_NAMESPACE } from '../planning/labels.js';
import type { NodeStep } from '../planning/types.js';
import { makeClient, type ClientOptions } from '../kube/clients.js';
import { ConnectionPool } from '../kube/connections.js';
import { apiMessage, classifyKubeError, outageMessage, statusOf, type KubeFault } from '../kube/errors.js';
import { classifyKubeRequest, type KubeRequestCounter } from '../kube/requests.js';
import { SharedWatch } from './shared-watch.js';
import type { NodeStepFailureDetails } from './types.js';

/** The clients of one cluster. */
export interface Kube {
  kc: KubeConfig;
  /** The API server's URL, for messages. */
  server: string;
  core: CoreV1Api;
  policy: PolicyV1Api;
  coordination: CoordinationV1Api;
  /** Deployments, StatefulSets and ReplicaSets, read by the health gate and drain (evicted pods' controllers). */
  apps: AppsV1Api;
  /** The worker's shared watches on this cluster's upgrade pods and nodes (see shared-watch.ts). */
  watches: { pods: SharedWatch<V1Pod>; nodes: SharedWatch<V1Node> };
  /** When kube-upgrade was last found admissible (ms), so pods are not preceded by a namespace read each. */
  namespaceCheckedAt?: number;
  /**
   * The options the clients were made with: for other clients of this cluster (inventory's
   * VersionApi), and `count` for requests sent outside them (watches, /readyz).
   */
  clientOptions: ClientOptions;
  /**
   * How long a cordon or uncordon attempt keeps retrying transient API errors (ms): CORDON_RETRY_MS
   * (cordon.ts), unless the KubeClients were made with another (a test of the give-up message).
   */
  stepRetryMs?: number;
}

/** Resolves clusterIds to clients, once per cluster. */
export class KubeClients {
  private readonly cache = new Map<string, Kube>();
  /** `onRequest` counts every API request sent to a cluster (the worker's `edge_upgrade_kube_requests`). */
  constructor(
    private readonly clusters: ClusterRegistry,
    private readonly onRequest?: KubeRequestCounter,
    /** Overrides of the retry budgets, see {@link Kube.stepRetryMs}. */
    private readonly retry: { stepRetryMs?: number } = {},
  ) {}

  /** Clients for `clusterId`; throws non-retryable 'UnknownCluster' (naming the known clusters) when it is not configured. */
  for(clusterId: string): Kube {
    const hit = this.cache.get(clusterId);
    if (hit) return hit;
    let kc: KubeConfig;
    try {
      kc = this.clusters.kubeConfig(clusterId);
    } catch (err) {
      if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, ErrorType.UnknownCluster);
      throw err;
    }
    const onRequest = this.onRequest;
    const countRequest = (method: string, url: string) => {
      if (!onRequest) return;
      const { verb, resource } = classifyKubeRequest(method, url);
      onRequest(clusterId, verb, resource);
    };
    const opts: ClientOptions = { count: countRequest, pool: new ConnectionPool() };
    const core = makeClient(kc, CoreV1Api, opts);
    const kube: Kube = {
      kc,
      server: kc.getCurrentCluster()?.server ?? 'the API server',
      core,
      policy: makeClient(kc, PolicyV1Api, opts),
      coordination: makeClient(kc, CoordinationV1Api, opts),
      apps: makeClient(kc, AppsV1Api, opts),
      clientOptions: opts,
      watches: sharedWatches(kc, core, countRequest),
      stepRetryMs: this.retry.stepRetryMs,
    };
    this.cache.set(clusterId, kube);
    return kube;
  }
}

/** The shared watches of one cluster: upgrade pods (by our label) and nodes. Each opens on first use. */
function sharedWatches(kc: KubeConfig, core: CoreV1Api, countRequest: ClientOptions['count']): Kube['watches'] {
  const labelSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  return {
    pods: new SharedWatch<V1Pod>(kc, {
      countRequest,
      path: `/api/v1/namespaces/${UPGRADE_NAMESPACE}/pods`,
      labelSelector,
      currentVersion: async () =>
        (await core.listNamespacedPod({ namespace: UPGRADE_NAMESPACE, labelSelector, limit: 1 })).metadata?.resourceVersion,
    }),
    nodes: new SharedWatch<V1Node>(kc, {
      countRequest,
      path: '/api/v1/nodes',
      currentVersion: async () => (await core.listNode({ limit: 1 })).metadata?.resourceVersion,
    }),
  };
}

/** The (retryable) failure of a step whose API server stayed unavailable: Temporal retries the activity. */
export function apiUnavailable(server: string, forMs: number, fault: KubeFault): ApplicationFailure {
  return ApplicationFailure.create({ message: outageMessage(server, forMs, fault), type: ErrorType.KubeApiUnavailable });
}

/**
 * Tracks an API server that fails, for loops that keep waiting until their own deadline: call
 * {@link ApiOutage.failed} in the catch (it rethrows permanent errors) and {@link ApiOutage.ok}
 * after a round that worked.
 */
export class ApiOutage {
  private since: number | undefined;
  private fault: KubeFault | undefined;

  constructor(private readonly server: string) {}

  /** Records a failed call; rethrows `err` unless it is transient or a conflict. */
  failed(err: unknown): void {
    if (err instanceof CancelledFailure) throw err;
    const fault = classifyKubeError(err);
    if (fault.kind === 'permanent') throw err;
    this.since ??= Date.now();
    this.fault = fault;
  }

  /** The API server answered: the outage is over. */
  ok(): void {
    this.since = undefined;
    this.fault = undefined;
  }

  /** True while calls keep failing. */
  get active(): boolean {
    return this.since !== undefined;
  }

  /** Milliseconds since the first failure of this outage, 0 when there is none. */
  get durationMs(): number {
    return this.since === undefined ? 0 : Date.now() - this.since;
  }

  /** 'API server … unreachable for 75 s: connection refused', or undefined when there is no outage. */
  describe(): string | undefined {
    return this.fault ? outageMessage(this.server, this.durationMs, this.fault) : undefined;
  }

  /** The failure to throw when the step gives up during this outage. */
  failure(): ApplicationFailure {
    return apiUnavailable(this.server, this.durationMs, this.fault ?? { kind: 'transient', unreachable: true, reason: 'unknown' });
  }
}

/** Retry settings of {@link withApiRetry}; durations in ms. */
export interface ApiRetryOptions {
  /** Give up this long after the first failure. */
  forMs: number;
  /** First pause between tries; it doubles up to 5 s. Default 500. */
  initialDelayMs?: number;
}

/**
 * Runs the idempotent `op` (which re-reads what it needs), retrying transient errors and 409
 * conflicts with backoff for up to `forMs`; permanent errors are rethrown as they are. When the
 * time is up it throws {@link apiUnavailable} (or the last error, if that was a conflict).
 */
export async function withApiRetry<T>(kube: Pick<Kube, 'server'>, op: () => Promise<T>, opts: ApiRetryOptions): Promise<T> {
  const outage = new ApiOutage(kube.server);
  const started = Date.now();
  const initial = opts.initialDelayMs ?? 500;
  let delay = initial;
  for (;;) {
    let conflict: unknown;
    try {
      return await op();
    } catch (err) {
      if (statusOf(err) === 409) conflict = err;
      else outage.failed(err);
    }
    if (conflict) {
      // Someone else wrote in between: re-read and re-apply soon (a little jitter spreads racing writers).
      if (Date.now() - started > opts.forMs) throw conflict;
      await sleep(Math.random() * 100);
      continue;
    }
    if (outage.durationMs + delay > opts.forMs) throw outage.failure();
    await sleep(delay);
    delay = Math.min(delay * 2, 5_000);
  }
}

/** The non-retryable 'NodeStepFailed' failure the workflow records as `lastError`. */
export function nodeStepFailed(details: NodeStepFailureDetails): ApplicationFailure {
  return ApplicationFailure.create({ message: details.message, type: ErrorType.NodeStepFailed, nonRetryable: true, details: [details] });
}

/** A non-retryable failure for a request Kubernetes refuses as invalid (400/403/422): retrying cannot help. */
export function rethrowInvalid(err: unknown, node: string, step: NodeStep, what: string): never {
  const code = statusOf(err);
  if (code === 400 || code === 403 || code === 422) {
    throw nodeStepFailed({ node, step, message: `${what} on ${node} was refused by the API server (${code}): ${apiMessage(err)}` });
  }
  throw err;
}

/**
 * The one-line message of any error an activity throws: ApplicationFailures keep theirs; API
 * errors say what failed and why (never a bare "fetch failed" or a multi-line ApiException).
 */
export function activityErrorMessage(err: unknown, server?: string): string {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err.message;
  const fault = classifyKubeError(err);
  if (fault.unreachable) return `API server ${server ?? ''} unreachable: ${fault.reason}`.replace('  ', ' ');
  if (statusOf(err) !== undefined) return `API server ${server ? `${server} ` : ''}answered ${fault.reason}`;
  return fault.reason;
}

/** The activity context when running inside an activity, else undefined (direct calls in tests). */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * Shortest gap between two heartbeats with the same details from one activity, in ms. A waiting
 * upgrade pod wakes on every change of its pod or node; each heartbeat is a call into the Temporal
 * runtime, which sends at most one per throttle interval (seconds) anyway.
 */
export const SAME_HEARTBEAT_GAP_MS = 1_000;

/**
 * How long a running activity with a heartbeat timeout may go without a heartbeat before one is sent
 * for it with its last details (ms): see {@link keepHeartbeating}.
 */
export const KEEPALIVE_HEARTBEAT_MS = 2_500;

const lastHeartbeat = new WeakMap<Context, { at: number; details: string; raw: unknown }>();

/**
 * Heartbeats `details` when inside an activity; skips a heartbeat whose details equal the last one
 * this activity sent less than {@link SAME_HEARTBEAT_GAP_MS} ago.
 */
export function heartbeat(details?: unknown): void {
  const ctx = activityContext();
  if (!ctx) return;
  const now = Date.now();
  const json = JSON.stringify(details ?? null);
  const last = lastHeartbeat.get(ctx);
  if (last && last.details === json && now - last.at < SAME_HEARTBEAT_GAP_MS) return;
  send(ctx, details, json, now);
}

/** Sends `details` as the heartbeat of the activity in `ctx`, and records it as its last. */
function send(ctx: Context, details: unknown, json: string, now: number): void {
  lastHeartbeat.set(ctx, { at: now, details: json, raw: details });
  ctx.heartbeat(details);
}

/**
 * Keeps the heartbeat of the activity in `ctx` going while it waits on anything (an API call takes up
 * to REQUEST_TIMEOUT_MS, longer than the node steps' heartbeat timeout): after
 * {@link KEEPALIVE_HEARTBEAT_MS} without one, sends its last details again, or before its first the
 * previous attempt's, so what a retry resumes from is never lost. The heartbeat timeout then measures
 * one thing, whether the worker process still runs. Activities without a heartbeat timeout are left
 * alone. Returns what stops it (the interceptor calls it when the attempt ends).
 */
export function keepHeartbeating(ctx: Context): () => void {
  if (!ctx.info.heartbeatTimeoutMs) return () => undefined;
  const timer = setInterval(() => {
    const now = Date.now();
    const last = lastHeartbeat.get(ctx);
    if (last && now - last.at < KEEPALIVE_HEARTBEAT_MS) return;
    if (last) send(ctx, last.raw, last.details, now);
    else send(ctx, ctx.info.heartbeatDetails, JSON.stringify(ctx.info.heartbeatDetails ?? null), now);
  }, KEEPALIVE_HEARTBEAT_MS);
  return () => clearInterval(timer);
}

/** The last heartbeat details of a previous attempt, when inside an activity. */
export function previousHeartbeat<T>(): T | undefined {
  return activityContext()?.info.heartbeatDetails as T | undefined;
}

/** Throws the activity's CancelledFailure if it has been cancelled (workflow cancelled, terminated or gone). */
export function throwIfCancelled(): void {
  const ctx = activityContext();
  if (ctx?.cancellationSignal.aborted)
    throw ctx.cancellationSignal.reason instanceof Error ? ctx.cancellationSignal.reason : new CancelledFailure('activity cancelled');
}

/** Rejects with the activity's CancelledFailure once it is cancelled; never settles outside an activity. */
export function cancelled(): Promise<never> {
  const ctx = activityContext();
  return ctx ? ctx.cancelled : new Promise<never>(() => {});
}

/** Sleeps `ms`, rejecting with a CancelledFailure when the activity is cancelled. */
export async function sleep(ms: number): Promise<void> {
  const ctx = activityContext();
  if (ctx) await ctx.sleep(ms);
  else await new Promise((r) => setTimeout(r, ms));
}
