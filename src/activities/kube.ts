/**
 * Kubernetes clients per cluster and the error policy every activity shares, in one place:
 *
 * - {@link classifyKubeError} says whether a failed API call is transient (connection refused or
 *   reset, timeouts, 5xx, 429 from API priority and fairness, 410 watch expiry), a 409 conflict
 *   (re-read and re-apply), or permanent;
 * - {@link ApiOutage} tracks how long the API server has been failing, for "keep waiting until the
 *   step's own deadline" loops, and {@link withApiRetry} retries one idempotent operation for a
 *   bounded time;
 * - {@link apiUnavailable} is the one failure (and message) for an API server that stayed
 *   unreachable: "API server https://127.0.0.1:6443 unreachable for 75 s: connection refused";
 * - an unknown cluster is non-retryable, and node step failures carry {@link NodeStepFailureDetails};
 * - {@link listAll} reads every page of a paginated list, and {@link mergePatch} sends a JSON merge patch;
 * - {@link classifyKubeRequest} names each request's verb and resource, for the worker's request counter.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  createConfiguration,
  PatchStrategy,
  PolicyV1Api,
  ServerConfiguration,
  setHeaderOptions,
  type KubeConfig,
  type Middleware,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import type { ClusterRegistry } from '../cluster-registry.js';
import { ConfigError } from '../config.js';
import { ErrorType } from '../planning/errors.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, UPGRADE_NAMESPACE } from '../planning/labels.js';
import type { NodeStep } from '../planning/types.js';
import { ConnectionPool, DispatcherHttpLibrary } from './connections.js';
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

/** Counts one API request the worker sends to a cluster, by verb and resource (see {@link classifyKubeRequest}). */
export type KubeRequestCounter = (clusterId: string, verb: string, resource: string) => void;

/** A request's Kubernetes verb ('get', 'list', 'watch', 'create', …) and resource ('nodes', 'pods/eviction', 'version'). */
export interface KubeRequestKind {
  verb: string;
  resource: string;
}

// Subresources of a namespace, so /api/v1/namespaces/x/status is not read as resource 'status' in namespace x.
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/**
 * The verb and resource of a request, as the API server's audit log names them: GET of a named
 * object is `get`, of a collection `list` (or `watch` with ?watch=true or the legacy /watch/
 * prefix); POST `create`, PUT `update`, PATCH `patch`, DELETE `delete` (`deletecollection` without
 * a name). Subresources join with a slash ('pods/eviction', 'nodes/status'). Paths outside /api
 * and /apis ('/version', '/readyz') are their own resource.
 */
export function classifyKubeRequest(method: string, url: string): KubeRequestKind {
  const parsed = new URL(url, 'http://x');
  const segments = parsed.pathname.split('/').filter(Boolean);
  const m = method.toUpperCase();
  let rest: string[];
  if (segments[0] === 'api') rest = segments.slice(2);
  else if (segments[0] === 'apis') rest = segments.slice(3);
  else return { verb: m === 'GET' ? 'get' : m.toLowerCase(), resource: segments.join('/') || '/' };
  let watch = ['true', '1'].includes(parsed.searchParams.get('watch') ?? '');
  if (rest[0] === 'watch') {
    watch = true;
    rest = rest.slice(1);
  }
  if (rest[0] === 'namespaces' && rest.length >= 3 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
  const [type = '', name, sub] = rest;
  const resource = sub ? `${type}/${sub}` : type;
  const verbs: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch' };
  let verb: string;
  if (m === 'GET') verb = watch ? 'watch' : name ? 'get' : 'list';
  else if (m === 'DELETE') verb = name ? 'delete' : 'deletecollection';
  else verb = verbs[m] ?? m.toLowerCase();
  return { verb, resource };
}

/**
 * Longest a single API request may take, in ms. Without it a request to an API server that went
 * silent (not refusing, just gone) would hang for minutes and starve the activity's heartbeats.
 */
export const REQUEST_TIMEOUT_MS = 15_000;

/** Field manager of every write, so managedFields tell our changes from an operator's. */
export const FIELD_MANAGER = 'edge-upgrade';

/** Options for client-node calls that send a JSON merge patch (the default content type is JSON Patch). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Every item of a paginated list call. */
export async function listAll<T>(
  page: (cont: string | undefined) => Promise<{ items: T[]; metadata?: { _continue?: string } }>,
): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const res = await page(cont);
    out.push(...res.items);
    cont = res.metadata?._continue || undefined;
  } while (cont);
  return out;
}

// Each request gets its own timeout signal.
const requestTimeout: Middleware = {
  pre: async (ctx) => {
    ctx.setSignal(AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    return ctx;
  },
  post: async (res) => res,
};

/** What {@link makeClient} adds to each request besides the timeout. */
export interface ClientOptions {
  /** Counts each request by its HTTP method and URL. */
  count?: (method: string, url: string) => void;
  /** Shares connections between requests (see connections.ts). */
  pool?: ConnectionPool;
}

/** The HTTP library of every pooled client (it holds no state of its own). */
const DISPATCHER_HTTP = new DispatcherHttpLibrary();

/** Builds an API client of `type` for `kc` whose requests time out after {@link REQUEST_TIMEOUT_MS}. */
export function makeClient<T>(
  kc: KubeConfig,
  type: new (config: ReturnType<typeof createConfiguration>) => T,
  opts: ClientOptions = {},
): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const { count, pool } = opts;
  const counting: Middleware = {
    pre: async (ctx) => {
      count?.(ctx.getHttpMethod(), ctx.getUrl());
      return ctx;
    },
    post: async (res) => res,
  };
  return new type(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: pool ? pool.authentication(kc) : kc },
      ...(pool ? { httpApi: DISPATCHER_HTTP } : {}),
      promiseMiddleware: [requestTimeout, ...(count ? [counting] : []), ...(pool ? [pool.middleware] : [])],
    }),
  );
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

/** HTTP status of a client-node ApiException, if any (a DOMException's numeric `code` is not one). */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof DOMException) return undefined;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

/** The API server's message from an ApiException body (a Status object), else the error's first line. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const status = JSON.parse(body) as { message?: string };
      if (status.message) return status.message;
    } catch {
      // not JSON: fall through
    }
  } else if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
    return (body as { message: string }).message;
  }
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** What a failed API call means for the step that made it. */
export interface KubeFault {
  /**
   * transient: retry (the API server is restarting, overloaded or unreachable); conflict: a 409,
   * re-read and re-apply; permanent: retrying the same request cannot help.
   */
  kind: 'transient' | 'conflict' | 'permanent';
  /** True when the API server could not be reached at all (no HTTP answer). */
  unreachable: boolean;
  /** One line for operators, e.g. 'connection refused' or '503 Service Unavailable: etcd leader changed'. */
  reason: string;
}

// System error codes (node:net, undici) of a connection that failed or broke, with the words we show.
const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ECONNABORTED: 'connection aborted',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host down',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network down',
  EAI_AGAIN: 'name lookup failed temporarily',
  ENOTFOUND: 'name not found',
  UND_ERR_SOCKET: 'connection closed by the other side',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
};

const STATUS_TEXT: Record<number, string> = {
  408: 'Request Timeout',
  410: 'Gone (watch expired)',
  429: 'Too Many Requests (API priority and fairness)',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The error and its causes, outermost first (undici wraps the socket error in `cause`). */
function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && out.length < 6; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

/**
 * Classifies a failed Kubernetes API call. Transient: no connection or a broken one, a request
 * timeout, 408, 410 (watch expired), 429 (API priority and fairness), 500, 502, 503, 504.
 * Conflict: 409. Everything else (400, 401, 403, 404, 422, TLS and programming errors) is
 * permanent; callers handle the 404s they expect before asking.
 */
export function classifyKubeError(err: unknown): KubeFault {
  const status = statusOf(err);
  if (status !== undefined) {
    const detail = apiMessage(err);
    const text = STATUS_TEXT[status] ? ` ${STATUS_TEXT[status]}` : '';
    const reason = `${status}${text}${detail && !/^HTTP-Code/.test(detail) ? `: ${detail}` : ''}`;
    if (status === 409) return { kind: 'conflict', unreachable: false, reason };
    if ([408, 410, 429, 500, 502, 503, 504].includes(status)) return { kind: 'transient', unreachable: false, reason };
    return { kind: 'permanent', unreachable: false, reason };
  }
  for (const e of causes(err)) {
    const name = (e as { name?: unknown }).name;
    if (name === 'TimeoutError') return { kind: 'transient', unreachable: true, reason: `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` };
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES[code]) return { kind: 'transient', unreachable: true, reason: NETWORK_CODES[code] };
    if (typeof code === 'string' && /CERT|TLS|SSL|SIGNATURE|SELF_SIGNED/.test(code)) {
      return { kind: 'permanent', unreachable: true, reason: `TLS failure (${code}): ${(e as Error).message}` };
    }
  }
  if (err instanceof Error && err.name === 'AbortError') return { kind: 'transient', unreachable: true, reason: 'request aborted' };
  const last = causes(err).at(-1);
  const message = last instanceof Error ? last.message.split('\n')[0] : String(last);
  return { kind: 'permanent', unreachable: false, reason: message || 'unknown error' };
}

/** True for errors worth retrying: transient faults and conflicts. */
export function isRetryableKubeError(err: unknown): boolean {
  return classifyKubeError(err).kind !== 'permanent';
}

/** 'unreachable for 75 s: connection refused' (or 'failing for …' when it answered with an error). */
export function outageMessage(server: string, forMs: number, fault: KubeFault): string {
  return `API server ${server} ${fault.unreachable ? 'unreachable' : 'failing'} for ${Math.round(forMs / 1000)} s: ${fault.reason}`;
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

/** Runs `fn`, treating a 404 as done (delete and evict of something already gone). */
export async function ignoreNotFound<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
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

const lastHeartbeat = new WeakMap<Context, { at: number; details: string }>();

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
  lastHeartbeat.set(ctx, { at: now, details: json });
  ctx.heartbeat(details);
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
