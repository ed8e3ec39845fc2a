/**
 * The node's upgrade pod: ensure kube-upgrade exists, create (or find) the pod named from
 * (node, target), and wait until it Succeeded, the node reports the target kubeletVersion, is
 * Ready, and its kubelet has reported (Lease renewal or Ready heartbeat) since the pod finished.
 * A Failed pod is reported with its log tail, and a pod that disappears after this step made or
 * found it is a node failure: neither is ever silently recreated (the seed wants the operator, or
 * a resume, to decide). API server outages mean "keep waiting" until nodeTimeout; the activity
 * stops as soon as it is cancelled (its workflow cancelled, terminated or gone).
 */
import type { V1Lease, V1Node, V1Pod } from '@kubernetes/client-node';
import { nodeReady } from '../planning/cluster.js';
import { UPGRADE_CONTAINER, UPGRADE_NAMESPACE } from '../planning/labels.js';
import { upgradePodName } from '../planning/names.js';
import { buildUpgradePod } from '../planning/upgrade-pod.js';
import { parseVersion, sameVersion } from '../planning/versions.js';
import { EventRecorder } from './events.js';
import { ensureUpgradeNamespace } from './namespace.js';
import { nextChange, ObjectWatch } from './watch.js';
import {
  ApiOutage,
  apiMessage,
  cancelled,
  heartbeat,
  nodeStepFailed,
  previousHeartbeat,
  rethrowInvalid,
  sleep,
  statusOf,
  throwIfCancelled,
  type Kube,
  type KubeClients,
} from './kube.js';
import type { NodeStepArgs } from './types.js';

/**
 * While waiting, the pod and the node are watched; without a change they are re-read (and the
 * activity heartbeats) this often, in ms.
 */
export const UPGRADE_RECHECK_MS = 5_000;
/** Lines of the pod's log kept in the failure. */
export const LOG_TAIL_LINES = 20;

/** Re-check interval once only a fresh kubelet heartbeat is missing (Leases are not watched), in ms. */
const HEARTBEAT_RECHECK_MS = 1_000;

/** Heartbeat details: a retried attempt keeps the deadline and knows the pod existed. */
interface WaitProgress {
  startedAt: number;
  pod: string;
  /** UID of the pod this step made or found; a retry that finds no pod fails instead of recreating it. */
  uid?: string;
  phase?: string;
  apiOutage?: string;
}

function nodeAtTarget(node: V1Node, target: string): boolean {
  try {
    return sameVersion(parseVersion(node.status?.nodeInfo?.kubeletVersion ?? '', 'kubeletVersion'), parseVersion(target));
  } catch {
    return false;
  }
}

/** The last lines of the pod's log, or the container's termination message when the log cannot be read. */
export async function logTail(kube: Kube, pod: V1Pod): Promise<string> {
  try {
    const log = await kube.core.readNamespacedPodLog({
      name: pod.metadata!.name!,
      namespace: UPGRADE_NAMESPACE,
      container: UPGRADE_CONTAINER,
      tailLines: LOG_TAIL_LINES,
    });
    if (typeof log === 'string' && log.trim()) return log.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    // Offline kubelet or log rotated away: fall back to the termination message.
  }
  const terminated = pod.status?.containerStatuses?.find((c) => c.name === UPGRADE_CONTAINER)?.state?.terminated;
  return terminated?.message?.trimEnd() ?? terminated?.reason ?? '';
}

async function failed(kube: Kube, args: NodeStepArgs, pod: V1Pod): Promise<Error> {
  const tail = await logTail(kube, pod);
  const lastLine = tail.split('\n').filter(Boolean).pop();
  const name = pod.metadata!.name!;
  const message =
    `upgrade pod ${UPGRADE_NAMESPACE}/${name} failed on ${args.node}${lastLine ? `: ${lastLine}` : ''}. ` +
    `See kubectl -n ${UPGRADE_NAMESPACE} logs ${name}; resume deletes the failed pod and retries the node`;
  await new EventRecorder(kube.core, args).withPod(pod).warning('UpgradeFailed', message);
  return nodeStepFailed({ node: args.node, step: 'upgrade-pod', message, ...(tail ? { logTail: tail } : {}) });
}

/** Reads the pod, or creates it when absent (a 409 from a racing attempt means it exists: reuse it). */
async function findOrCreate(
  kube: Kube,
  args: NodeStepArgs & { image: string; nodeTimeoutMs: number },
): Promise<{ pod: V1Pod | undefined; created: boolean }> {
  const name = upgradePodName(args.node, args.targetVersion);
  const existing = await readPod(kube, name);
  if (existing) return { pod: existing, created: false };
  return { pod: await createPod(kube, args), created: true };
}

async function readPod(kube: Kube, name: string): Promise<V1Pod | undefined> {
  try {
    return await kube.core.readNamespacedPod({ name, namespace: UPGRADE_NAMESPACE });
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

async function createPod(kube: Kube, args: NodeStepArgs & { image: string; nodeTimeoutMs: number }): Promise<V1Pod> {
  const name = upgradePodName(args.node, args.targetVersion);
  await ensureUpgradeNamespace(kube);
  const body = buildUpgradePod({
    node: args.node,
    role: args.role,
    targetVersion: args.targetVersion,
    upgradeId: args.upgradeId,
    image: args.image,
    nodeTimeoutMs: args.nodeTimeoutMs,
  });
  for (let attempt = 0; ; attempt++) {
    throwIfCancelled();
    try {
      return await kube.core.createNamespacedPod({ namespace: UPGRADE_NAMESPACE, body });
    } catch (err) {
      if (statusOf(err) === 409) return await kube.core.readNamespacedPod({ name, namespace: UPGRADE_NAMESPACE });
      // A namespace we just created has no default ServiceAccount for a moment; admission refuses pods until it does.
      if (statusOf(err) === 403 && /serviceaccount/i.test(apiMessage(err)) && attempt < 60) {
        await sleep(500);
        continue;
      }
      rethrowInvalid(err, args.node, 'upgrade-pod', `creating upgrade pod ${UPGRADE_NAMESPACE}/${name}`);
    }
  }
}

/** When the pod's upgrade container finished (ms), if it says. */
function finishedAt(pod: V1Pod): number | undefined {
  const t = pod.status?.containerStatuses?.find((c) => c.name === UPGRADE_CONTAINER)?.state?.terminated?.finishedAt;
  const ms = t ? new Date(t).getTime() : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/** The node's Ready condition heartbeat (ms), if any. */
function readyHeartbeat(node: V1Node): number | undefined {
  const t = node.status?.conditions?.find((c) => c.type === 'Ready')?.lastHeartbeatTime;
  const ms = t ? new Date(t).getTime() : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Tells whether the node's kubelet has reported since a given time: the Ready condition's
 * heartbeat, or a renewal of its Lease in kube-node-lease (the kubelet renews it every 10 s; node
 * status may be re-posted only every 5 minutes). Without permission to read Leases it relies on
 * the Ready heartbeat alone.
 */
class KubeletHeartbeat {
  private leaseReadable = true;
  /** The newest heartbeat seen (ms), for messages. */
  last: number | undefined;

  constructor(
    private readonly kube: Kube,
    private readonly node: string,
  ) {}

  /**
   * True once a heartbeat is surely later than `finished` (ms). Pod and condition times have whole
   * seconds (a later whole second is enough); a Lease renewal has microseconds, so it must come a
   * full second after a truncated `finished`.
   */
  async since(node: V1Node, finished: { at: number; wholeSeconds: boolean }): Promise<boolean> {
    const ready = readyHeartbeat(node);
    this.last = Math.max(this.last ?? 0, ready ?? 0) || undefined;
    if (ready !== undefined && ready > finished.at) return true;
    const after = finished.at + (finished.wholeSeconds ? 1_000 : 0);
    if (!this.leaseReadable) return false;
    let lease: V1Lease;
    try {
      lease = await this.kube.coordination.readNamespacedLease({ name: this.node, namespace: 'kube-node-lease' });
    } catch (err) {
      const code = statusOf(err);
      if (code === 403) this.leaseReadable = false;
      if (code === 403 || code === 404) return false;
      throw err;
    }
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime as unknown as string).getTime() : NaN;
    if (Number.isFinite(renewed)) this.last = Math.max(this.last ?? 0, renewed);
    return Number.isFinite(renewed) && renewed >= after;
  }
}

const clock = (ms: number | undefined) => (ms === undefined ? 'never' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

/** Implements `runUpgradePod`. */
export async function runUpgradePod(
  clients: KubeClients,
  defaultImage: string,
  args: NodeStepArgs & { upgradeImage?: string; nodeTimeoutMs: number },
): Promise<{ pod: string }> {
  const kube = clients.for(args.clusterId);
  const prev = previousHeartbeat<WaitProgress>();
  const startedAt = prev?.startedAt ?? Date.now();
  const deadline = startedAt + args.nodeTimeoutMs;
  const image = args.upgradeImage ?? defaultImage;
  const name = upgradePodName(args.node, args.targetVersion);
  const outage = new ApiOutage(kube.server);
  const events = new EventRecorder(kube.core, args);
  const progress = (phase?: string, uid?: string): WaitProgress => ({
    startedAt,
    pod: name,
    ...(uid ? { uid } : {}),
    ...(phase ? { phase } : {}),
    ...(outage.active ? { apiOutage: outage.describe() } : {}),
  });

  const timedOut = async (why: string, pod?: V1Pod): Promise<Error> => {
    const message = `${args.node} did not finish its upgrade to ${args.targetVersion} within ${Math.round(args.nodeTimeoutMs / 1000)}s: ${why}. Check the node, or raise nodeTimeout, then resume`;
    await events.warning('UpgradeTimedOut', message);
    const phase = pod?.status?.phase;
    const tail = pod && (phase === 'Running' || phase === 'Succeeded') ? await logTail(kube, pod) : '';
    return nodeStepFailed({ node: args.node, step: 'wait', message, ...(tail ? { logTail: tail } : {}) });
  };
  const vanished = (uid: string | undefined): Error => {
    const message =
      `upgrade pod ${UPGRADE_NAMESPACE}/${name} (uid ${uid ?? '?'}) was deleted while upgrading ${args.node}, not by this upgrade. ` +
      `It is not recreated behind your back: the node may be half-upgraded; check it, then resume to run a new upgrade pod`;
    void events.warning('UpgradeFailed', message);
    return nodeStepFailed({ node: args.node, step: 'upgrade-pod', message });
  };

  // Find or create the pod, riding out API server outages until nodeTimeout.
  let pod: V1Pod | undefined;
  let created = false;
  for (;;) {
    throwIfCancelled();
    try {
      if (prev?.uid) {
        // A retried attempt: the pod existed before, so a missing one was deleted by someone.
        pod = await readPod(kube, name);
        if (!pod) throw vanished(prev.uid);
      } else {
        ({ pod, created } = await findOrCreate(kube, { ...args, image }));
      }
      outage.ok();
      break;
    } catch (err) {
      outage.failed(err);
    }
    heartbeat(progress());
    if (Date.now() >= deadline) throw await timedOut(`its upgrade pod could not be created: the ${outage.describe()}`);
    await sleep(2_000);
  }
  if (!pod) throw vanished(prev?.uid);
  const uid = pod.metadata?.uid;
  heartbeat(progress(pod.status?.phase, uid));
  if (pod.status?.phase === 'Failed') throw await failed(kube, args, pod);
  if (created) {
    const message = `edge-upgrade ${args.upgradeId}: upgrading ${args.node} (${args.role}) to ${args.targetVersion} with pod ${UPGRADE_NAMESPACE}/${name}`;
    await events.withPod(pod).normal('UpgradeStarted', message);
  }

  const kubelet = new KubeletHeartbeat(kube, args.node);
  const podWatch = new ObjectWatch<V1Pod>(kube.kc, `/api/v1/namespaces/${UPGRADE_NAMESPACE}/pods`, name, kube.countRequest);
  const nodeWatch = new ObjectWatch<V1Node>(kube.kc, '/api/v1/nodes', args.node, kube.countRequest);
  await Promise.all([podWatch.start(), nodeWatch.start()]);
  let succeededSeenAt: number | undefined;
  try {
    let node: V1Node | undefined;
    let reread = true;
    for (;;) {
      throwIfCancelled();
      let waitingForHeartbeat = false;
      try {
        if (reread) {
          const current = await readPod(kube, name);
          if (!current || current.metadata?.uid !== uid) throw vanished(uid);
          pod = current;
          node = await kube.core.readNode({ name: args.node });
          reread = false;
        }
        const phase = pod.status?.phase;
        if (phase === 'Failed') throw await failed(kube, args, pod);
        // Deleted mid-run: its kubelet is killing the agent, so it will never succeed.
        if (pod.metadata?.deletionTimestamp && phase !== 'Succeeded') throw vanished(uid);
        if (phase === 'Succeeded') succeededSeenAt ??= Date.now();
        if (phase === 'Succeeded' && succeededSeenAt !== undefined && node && nodeAtTarget(node, args.targetVersion) && nodeReady(node)) {
          const end = finishedAt(pod);
          if (
            await kubelet.since(node, end !== undefined ? { at: end, wholeSeconds: true } : { at: succeededSeenAt, wholeSeconds: false })
          ) {
            if (created || prev) {
              const message = `edge-upgrade ${args.upgradeId}: ${args.node} runs kubelet ${args.targetVersion} and is Ready`;
              await events.withPod(pod).normal('UpgradeSucceeded', message);
            }
            return { pod: name };
          }
          waitingForHeartbeat = true;
        }
        outage.ok();
      } catch (err) {
        outage.failed(err);
        reread = true;
      }

      if (Date.now() >= deadline) {
        const phase = pod.status?.phase;
        let why: string;
        if (outage.active) why = `the ${outage.describe()}`;
        else if (phase !== 'Succeeded')
          why = `pod ${UPGRADE_NAMESPACE}/${name} is still ${phase ?? 'Pending'}${node && nodeReady(node) ? '' : ' and the node is not Ready (offline edge site?)'}`;
        else if (!node || !nodeAtTarget(node, args.targetVersion))
          why = `pod ${UPGRADE_NAMESPACE}/${name} Succeeded but the node still reports kubelet ${node?.status?.nodeInfo?.kubeletVersion ?? '?'}`;
        else if (!nodeReady(node)) why = 'the node has not become Ready since its kubelet restarted';
        else {
          why =
            `pod ${UPGRADE_NAMESPACE}/${name} Succeeded at ${clock(finishedAt(pod) ?? succeededSeenAt)} and the node reports kubelet ${args.targetVersion}, ` +
            `but its kubelet has not reported since (last heartbeat ${clock(kubelet.last)}): its Ready status is stale, the new kubelet may not be running`;
        }
        throw await timedOut(why, pod);
      }
      heartbeat(progress(pod.status?.phase, uid));
      if (outage.active) {
        await sleep(2_000);
        continue;
      }
      const before = { pod: podWatch.current, node: nodeWatch.current, deleted: podWatch.deleted };
      await Promise.race([nextChange([podWatch, nodeWatch], waitingForHeartbeat ? HEARTBEAT_RECHECK_MS : UPGRADE_RECHECK_MS), cancelled()]);
      const podChanged = podWatch.current !== before.pod || podWatch.deleted !== before.deleted;
      const nodeChanged = nodeWatch.current !== before.node;
      if (nodeChanged && nodeWatch.current) node = nodeWatch.current;
      if (podWatch.deleted && !before.deleted) {
        // Confirm with a read (a watch replaying an old DELETED must not fail the node), then fail: never recreate.
        reread = true;
      } else if (podChanged && podWatch.current) {
        if (podWatch.current.metadata?.uid !== uid) reread = true;
        else pod = podWatch.current;
      } else if (!podChanged && !nodeChanged) {
        // Nothing arrived: re-read both, in case the watches are down.
        reread = true;
      }
    }
  } finally {
    podWatch.stop();
    nodeWatch.stop();
  }
}
