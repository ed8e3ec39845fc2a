/**
 * The `probeNodes` activity: the node-level pre-check items. On each Ready node still to upgrade it
 * runs the agent in its read-only check mode (`upgrade-node.sh --check`, a short-lived pod in
 * kube-upgrade labelled agent-mode=check, at most `concurrency` at a time; named and labelled for the workflow that
 * made it, so a `precheck` and the upgrade probing the same node never share one), reads the JSON result
 * from the pod's termination message (or the last line of its log), and deletes the pod: none is
 * left after the activity, whatever happens (finished, timed out, failed, cancelled). It also reads
 * kube-apiserver's /metrics for deprecated APIs in use. The rules are in planning/probe-items.ts and
 * planning/deprecated-apis.ts; only the judged items leave the activity, so history holds a few aggregated items.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import pLimit from 'p-limit';
import { nodeReady, toClusterNode } from '../planning/cluster.js';
import { UPGRADE_CONTAINER, UPGRADE_NAMESPACE } from '../planning/labels.js';
import { probePodName } from '../planning/names.js';
import { nodesToUpgrade } from '../planning/precheck-items.js';
import { deprecatedApisItem, parseDeprecatedApis, type DeprecatedApi } from '../planning/deprecated-apis.js';
import { evaluateProbes } from '../planning/probe-items.js';
import { probeResultSchema, type NodeProbe } from '../planning/probe-result.js';
import type { NodeRole, PrecheckItem } from '../planning/types.js';
import { buildUpgradePod } from '../planning/upgrade-pod.js';
import { listNodes } from './inventory.js';
import { apiMessage, ignoreNotFound, statusOf } from '../kube/errors.js';
import { activityContext, heartbeat, sleep, throwIfCancelled, withApiRetry, type Kube, type KubeClients } from './kube.js';
import { ensureUpgradeNamespace } from './namespace.js';
import type { ProbeArgs } from './types.js';

/** How often a probe pod is re-read while it runs, in ms (the shared watch wakes the wait earlier). */
const PROBE_RECHECK_MS = 2_000;
/** How long reading /metrics may take, in ms. */
const METRICS_TIMEOUT_MS = 20_000;

/** Implements `probeNodes`. */
export async function probeNodes(clients: KubeClients, image: string, args: ProbeArgs): Promise<PrecheckItem[]> {
  const kube = clients.for(args.clusterId);
  const nodes = await withApiRetry(kube, () => listNodes(kube), { forMs: 60_000 });
  const todo = new Set(nodesToUpgrade(nodes, args.targetVersion));
  const targets = nodes.filter((n) => todo.has(n.metadata!.name!));
  const offline = targets.filter((n) => !nodeReady(n)).map(toClusterNode);
  const online = targets.filter((n) => nodeReady(n));
  const deprecated = readDeprecatedApis(kube);
  if (online.length > 0) await withApiRetry(kube, () => ensureUpgradeNamespace(kube), { forMs: 60_000 });
  const limit = pLimit(args.concurrency);
  let finished = 0;
  const probes = await Promise.all(
    online.map((n) =>
      limit(async () => {
        const p = await probeNode(kube, image, args, n);
        heartbeat({ probed: ++finished, of: online.length });
        return p;
      }),
    ),
  );
  const { apis, error } = await deprecated;
  return [
    ...evaluateProbes({
      targetVersion: args.targetVersion,
      probes,
      offline: offline.map((n) => n.name),
      deferred: args.deferOffline ? offline.filter((n) => n.kind === 'worker').map((n) => n.name) : [],
    }),
    deprecatedApisItem(args.targetVersion, apis, error),
  ];
}

/**
 * Who makes the probe pods: the ID of the workflow whose activity this is (the upgrade's, or a `precheck`
 * command's own inspectCluster run, which probes for the same upgrade ID); outside Temporal, the upgrade ID.
 * Stable across the activity's retries, so a retry finds its own pods and never another maker's.
 */
function probeMaker(args: ProbeArgs): string {
  return activityContext()?.info.workflowExecution?.workflowId ?? args.upgradeId;
}

function roleOf(node: V1Node): NodeRole {
  return toClusterNode(node).kind === 'control-plane' ? 'control-plane' : 'worker';
}

/** Runs one node's check pod to its end (or the timeout), reads its result, and deletes it. Never throws but for cancellation. */
async function probeNode(kube: Kube, image: string, args: ProbeArgs, node: V1Node): Promise<NodeProbe> {
  const name = node.metadata!.name!;
  const madeBy = probeMaker(args);
  const podName = probePodName(name, args.targetVersion, madeBy);
  const body = buildUpgradePod({
    node: name,
    role: roleOf(node),
    targetVersion: args.targetVersion,
    upgradeId: args.upgradeId,
    image,
    nodeTimeoutMs: args.timeoutMs,
    mode: 'check',
    madeBy,
    ...(args.hops ? { hops: args.hops } : {}),
  });
  const sub = kube.watches.pods.subscribe(podName);
  try {
    // A pod of that name is this maker's, left by an earlier attempt: start afresh.
    await deletePod(kube, podName);
    const created = await createPod(kube, body);
    const pod = await waitFinished(kube, created, sub, Date.now() + args.timeoutMs);
    if (!pod) return { node: name, outcome: 'timeout', message: `no result within ${Math.round(args.timeoutMs / 1000)} s` };
    return await resultOf(kube, pod, name);
  } catch (err) {
    throwIfCancelled();
    return { node: name, outcome: 'failed', message: `probe pod ${UPGRADE_NAMESPACE}/${podName}: ${apiMessage(err)}` };
  } finally {
    sub.close();
    await deletePod(kube, podName).catch(() => undefined);
  }
}

async function createPod(kube: Kube, body: V1Pod): Promise<V1Pod> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await withApiRetry(kube, () => kube.core.createNamespacedPod({ namespace: UPGRADE_NAMESPACE, body }), { forMs: 30_000 });
    } catch (err) {
      // A namespace just created has no default ServiceAccount for a moment; admission refuses pods until it does.
      if (statusOf(err) === 403 && /serviceaccount/i.test(apiMessage(err)) && attempt < 60) {
        await sleep(500);
        continue;
      }
      // The old pod of that name is still being deleted.
      if (statusOf(err) === 409 && attempt < 60) {
        await sleep(500);
        continue;
      }
      throw err;
    }
  }
}

/** Deletes the pod at once (grace 0: the check only reads), treating 404 as done. */
async function deletePod(kube: Kube, name: string): Promise<void> {
  await withApiRetry(
    kube,
    () => ignoreNotFound(() => kube.core.deleteNamespacedPod({ name, namespace: UPGRADE_NAMESPACE, gracePeriodSeconds: 0 })),
    { forMs: 30_000 },
  );
}

const terminated = (pod: V1Pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/** The pod once Succeeded or Failed, or undefined at `deadline` (ms). */
async function waitFinished(
  kube: Kube,
  pod: V1Pod,
  sub: ReturnType<Kube['watches']['pods']['subscribe']>,
  deadline: number,
): Promise<V1Pod | undefined> {
  let current = pod;
  let lastRead = Date.now();
  for (;;) {
    if (terminated(current)) return current;
    if (Date.now() >= deadline) return undefined;
    throwIfCancelled();
    heartbeat();
    await sub.next(Math.min(PROBE_RECHECK_MS, Math.max(0, deadline - Date.now())));
    const seen = sub.current;
    if (seen && seen.metadata?.uid === pod.metadata?.uid) current = seen;
    else if (sub.stale || Date.now() - lastRead >= PROBE_RECHECK_MS) {
      sub.stale = false;
      lastRead = Date.now();
      const read = await ignoreNotFound(() => kube.core.readNamespacedPod({ name: pod.metadata!.name!, namespace: UPGRADE_NAMESPACE }));
      if (!read || read.metadata?.uid !== pod.metadata?.uid) throw new Error('deleted before it finished');
      current = read;
    }
  }
}

/** When the API server last wrote the pod (its status), by the API server's clock: the latest managedFields time. */
function lastWrite(pod: V1Pod): string {
  const times = (pod.metadata?.managedFields ?? []).map((f) => (f.time ? new Date(f.time).getTime() : NaN)).filter(Number.isFinite);
  return new Date(times.length ? Math.max(...times) : Date.now()).toISOString();
}

/** The node's probe result from the finished pod: its termination message, else the last line of its log. */
async function resultOf(kube: Kube, pod: V1Pod, node: string): Promise<NodeProbe> {
  const state = pod.status?.containerStatuses?.find((c) => c.name === UPGRADE_CONTAINER)?.state?.terminated;
  let parsed = parseResult(state?.message);
  if (!parsed) {
    const log = await kube.core
      .readNamespacedPodLog({ name: pod.metadata!.name!, namespace: UPGRADE_NAMESPACE, container: UPGRADE_CONTAINER, tailLines: 5 })
      .catch(() => '');
    parsed = parseResult(String(log).trimEnd().split('\n').pop());
  }
  if (!parsed) {
    const why = pod.status?.phase === 'Failed' ? `failed (exit ${state?.exitCode ?? '?'})` : 'finished';
    const last = (state?.message ?? '').trim().split('\n').pop()?.slice(0, 200);
    return { node, outcome: 'failed', message: `the check ${why} without a readable result${last ? `: ${last}` : ''}` };
  }
  const from = new Date(pod.metadata?.creationTimestamp ?? Date.now()).toISOString();
  return { node, outcome: 'done', result: parsed, window: { from, to: lastWrite(pod) } };
}

function parseResult(text: string | undefined): ReturnType<typeof probeResultSchema.parse> | undefined {
  if (!text?.trim().startsWith('{')) return undefined;
  try {
    const r = probeResultSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** GETs the API server's /metrics with the cluster's credentials and parses the deprecated APIs requested. */
async function readDeprecatedApis(kube: Kube): Promise<{ apis?: DeprecatedApi[]; error?: string }> {
  try {
    kube.clientOptions.count?.('GET', '/metrics');
    const text = await getRaw(kube, '/metrics');
    return { apis: parseDeprecatedApis(text) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/** GET `path` on the API server as text; non-2xx answers throw "HTTP <code>". */
export async function getRaw(kube: Pick<Kube, 'kc' | 'server'>, path: string): Promise<string> {
  const url = new URL(path, kube.server);
  const opts: RequestOptions = { method: 'GET', headers: { accept: 'text/plain' }, timeout: METRICS_TIMEOUT_MS };
  await kube.kc.applyToHTTPSOptions(opts);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        if (code >= 200 && code < 300) resolve(Buffer.concat(chunks).toString('utf8'));
        else reject(new Error(`GET ${path} answered HTTP ${code}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${METRICS_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}
