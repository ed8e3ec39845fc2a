/**
 * Kubernetes clients per cluster and the error rules every activity shares: an unknown cluster is
 * non-retryable, transient API errors are rethrown as they are (Temporal retries them), and node
 * step failures carry {@link NodeStepFailureDetails}.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { CoreV1Api, PatchStrategy, PolicyV1Api, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { ConfigError, type ClusterRegistry } from '../config.js';
import { ErrorType } from '../planning/errors.js';
import type { NodeStep } from '../planning/types.js';
import type { NodeStepFailureDetails } from './types.js';

/** The clients of one cluster. */
export interface Kube {
  kc: KubeConfig;
  core: CoreV1Api;
  policy: PolicyV1Api;
}

/** Options for client-node calls that send a JSON merge patch (the default content type is JSON Patch). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Resolves clusterIds to clients, once per cluster. */
export class KubeClients {
  private readonly cache = new Map<string, Kube>();
  constructor(private readonly clusters: ClusterRegistry) {}

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
    const kube = { kc, core: kc.makeApiClient(CoreV1Api), policy: kc.makeApiClient(PolicyV1Api) };
    this.cache.set(clusterId, kube);
    return kube;
  }
}

/** HTTP status of a client-node ApiException, if any. */
export function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The API server's message from an ApiException body (a Status object), else the error's message. */
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

/** The activity context when running inside an activity, else undefined (direct calls in tests). */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Heartbeats `details` when inside an activity. */
export function heartbeat(details?: unknown): void {
  activityContext()?.heartbeat(details);
}

/** The last heartbeat details of a previous attempt, when inside an activity. */
export function previousHeartbeat<T>(): T | undefined {
  return activityContext()?.info.heartbeatDetails as T | undefined;
}

/** Sleeps `ms`, rejecting with a CancelledFailure when the activity is cancelled. */
export async function sleep(ms: number): Promise<void> {
  const ctx = activityContext();
  if (ctx) await ctx.sleep(ms);
  else await new Promise((r) => setTimeout(r, ms));
}
