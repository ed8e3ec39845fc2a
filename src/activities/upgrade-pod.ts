/**
 * The node's upgrade pod: ensure kube-upgrade exists, create (or find) the pod named from
 * (node, target), and wait until it Succeeded, the node reports the target kubeletVersion, is
 * Ready, and its kubelet has reported (Lease renewal or Ready heartbeat) since the pod finished.
 * A Failed pod is reported with its log tail, and a pod that disappears after this step made or
 * found it is a node failure: neither is ever silently recreated (the seed wants the operator, or
 * a resume, to decide). API server outages mean "keep waiting" until nodeTimeout; the activity
 * stops as soon as it is cancelled (its workflow cancelled, terminated or gone).
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { nodeReady, offlineReason } from '../planning/cluster.js';
import { UPGRADE_CONTAINER, UPGRADE_NAMESPACE } from '../planning/labels.js';
import { upgradePodName } from '../planning/names.js';
import { buildUpgradePod } from '../planning/upgrade-pod.js';
import { parseVersion, sameVersion } from '../planning/versions.js';
import { createAgentPod, logTail, readPod } from './agent-pod.js';
import { offlineNow } from './cordon.js';
import { EventRecorder } from './events.js';
import { KubeletHeartbeat } from './kubelet-heartbeat.js';
import { Deliveries, type Subscription } from './shared-watch.js';
import {
  ApiOutage,
  cancelled,
  heartbeat,
  nodeStepFailed,
  previousHeartbeat,
  sleep,
  throwIfCancelled,
  type Kube,
  type KubeClients,
} from './kube.js';
import type { NodeStepArgs } from './types.js';

/**
 * While waiting, the activity heartbeats this often (in ms) when nothing changes; it re-reads the
 * pod and the node this often too while the worker's shared watches are down.
 */
export const UPGRADE_RECHECK_MS = 5_000;
/**
 * While the shared watches are healthy (open, and not silent: see SILENT_MS), the pod and the node
 * are re-read only this often without a change (in ms), a last safety net. A real five-minute
 * upgrade then costs no re-reads at all, instead of two every 5 s.
 */
export const WATCHED_REREAD_MS = 600_000;

/** Re-check interval once only a fresh kubelet heartbeat is missing (Leases are not watched), in ms. */
const HEARTBEAT_RECHECK_MS = 1_000;

/** While the pod has not finished, the node's Lease is read at most this often (in ms): Leases are not watched. */
const LEASE_RECHECK_MS = 10_000;

/** Heartbeat details: a retried attempt keeps the deadline and knows the pod existed. */
interface WaitProgress {
  startedAt: number;
  /** The node upgraded: `edge-upgrade status` names the node of each step in flight from it. */
  node?: string;
  pod: string;
  /** What the step waits on now, e.g. "pod kube-upgrade/upgrade-edge-012 is still Running". */
  waiting?: string;
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

type CreateArgs = NodeStepArgs & { image: string; nodeTimeoutMs: number };

/** Creates the pod, or reads it when it exists already (a 409: an earlier attempt, or a racing one, made it). */
async function findOrCreate(kube: Kube, args: CreateArgs): Promise<{ pod: V1Pod | undefined; created: boolean }> {
  const created = await createPod(kube, args);
  if (created) return { pod: created, created: true };
  return { pod: await readPod(kube, upgradePodName(args.node, args.targetVersion)), created: false };
}

/** The new pod, or undefined when one of that name exists already. */
function createPod(kube: Kube, args: CreateArgs): Promise<V1Pod | undefined> {
  const body = buildUpgradePod({
    node: args.node,
    role: args.role,
    targetVersion: args.targetVersion,
    upgradeId: args.upgradeId,
    image: args.image,
    nodeTimeoutMs: args.nodeTimeoutMs,
  });
  return createAgentPod(kube, body, args.node, 'upgrade-pod');
}

/** When the pod's upgrade container finished (ms), if it says. */
function finishedAt(pod: V1Pod): number | undefined {
  const t = pod.status?.containerStatuses?.find((c) => c.name === UPGRADE_CONTAINER)?.state?.terminated?.finishedAt;
  const ms = t ? new Date(t).getTime() : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

const clock = (ms: number | undefined) => (ms === undefined ? 'never' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

type UpgradePodArgs = NodeStepArgs & { upgradeImage?: string; nodeTimeoutMs: number };

/** Implements `runUpgradePod`. */
export async function runUpgradePod(clients: KubeClients, defaultImage: string, args: UpgradePodArgs): Promise<{ pod: string }> {
  const kube = clients.for(args.clusterId);
  const step = new UpgradePodStep(kube, args, args.upgradeImage ?? defaultImage);
  // Subscribed before the pod is made: when the shared watch is already open, every change of the
  // new pod reaches us, and the pod need not be read again.
  const watching = { pod: kube.watches.pods.subscribe(step.name), node: kube.watches.nodes.subscribe(args.node) };
  const podWatchedThroughout = kube.watches.pods.healthy;
  try {
    const { pod, created } = await step.start();
    return await step.waitUntilUpgraded(pod, created, watching, podWatchedThroughout && !watching.pod.stale);
  } finally {
    watching.pod.close();
    watching.node.close();
  }
}

/** Whether the wait is over: `done`, or why not yet (`heartbeat`: only a fresh kubelet report is missing). */
type Check = 'done' | 'heartbeat' | 'waiting';

/** One attempt of the step: what it knows (deadline, pod, outage) and how it reports. */
class UpgradePodStep {
  private readonly prev = previousHeartbeat<WaitProgress>();
  private readonly startedAt = this.prev?.startedAt ?? Date.now();
  private readonly deadline: number;
  readonly name: string;
  private readonly outage: ApiOutage;
  private readonly events: EventRecorder;
  private readonly kubelet: KubeletHeartbeat;
  private succeededSeenAt: number | undefined;
  private leaseReadAt = 0;

  constructor(
    private readonly kube: Kube,
    private readonly args: UpgradePodArgs,
    private readonly image: string,
  ) {
    this.deadline = this.startedAt + args.nodeTimeoutMs;
    this.name = upgradePodName(args.node, args.targetVersion);
    this.outage = new ApiOutage(kube.server);
    this.events = new EventRecorder(kube.core, args);
    this.kubelet = new KubeletHeartbeat(kube, args.node);
  }

  /** Finds or creates the pod, riding out API server outages until nodeTimeout. */
  async start(): Promise<{ pod: V1Pod; created: boolean }> {
    let found: { pod: V1Pod | undefined; created: boolean };
    for (;;) {
      throwIfCancelled();
      try {
        // A retried attempt: the pod existed before, so a missing one was deleted by someone.
        found = this.prev?.uid ? { pod: await readPod(this.kube, this.name), created: false } : await this.findOrCreate();
        this.outage.ok();
        break;
      } catch (err) {
        this.outage.failed(err);
      }
      heartbeat(this.progress());
      if (Date.now() >= this.deadline) throw await this.timedOut(`its upgrade pod could not be created: the ${this.outage.describe()}`);
      await sleep(2_000);
    }
    const { pod, created } = found;
    if (!pod) throw this.vanished(this.prev?.uid);
    heartbeat(this.progress(pod.status?.phase, pod.metadata?.uid));
    if (pod.status?.phase === 'Failed') throw await failed(this.kube, this.args, pod);
    if (created) {
      const { upgradeId, node, role, targetVersion } = this.args;
      const podRef = `${UPGRADE_NAMESPACE}/${this.name}`;
      const message = `edge-upgrade ${upgradeId}: upgrading ${node} (${role}) to ${targetVersion} with pod ${podRef}`;
      await this.events.normal('UpgradeStarted', message);
    }
    return { pod, created };
  }

  private findOrCreate(): Promise<{ pod: V1Pod | undefined; created: boolean }> {
    return findOrCreate(this.kube, { ...this.args, image: this.image });
  }

  /**
   * Waits until the pod Succeeded and the node runs the target kubelet, is Ready and has reported
   * since. The worker's shared watches wake the wait on every change of the pod or the node; while
   * they are healthy the two are re-read only every {@link WATCHED_REREAD_MS}, else every
   * {@link UPGRADE_RECHECK_MS}.
   */
  async waitUntilUpgraded(
    first: V1Pod,
    created: boolean,
    subs: { pod: Subscription<V1Pod>; node: Subscription<V1Node> },
    podUpToDate: boolean,
  ): Promise<{ pod: string }> {
    const uid = first.metadata?.uid;
    const seen = new Deliveries(subs, uid);
    let pod = first;
    let node: V1Node | undefined;
    // What must be read before the next check: at first only the node when the pod is known to be current.
    let read: 'both' | 'node' | null = podUpToDate ? 'node' : 'both';
    let readAt = 0;
    for (;;) {
      throwIfCancelled();
      // Whatever the watches delivered since last time, also while this loop was awaiting something else.
      const taken = seen.take();
      if (taken.node) node = taken.node;
      if (taken.pod) pod = taken.pod;
      if (taken.reread) read = 'both';
      let check: Check = 'waiting';
      try {
        if (read || subs.pod.stale || subs.node.stale) {
          seen.skip();
          if (read === 'node' && !subs.pod.stale) node = await this.readNode();
          else ({ pod, node } = await this.read(uid));
          subs.pod.stale = subs.node.stale = false;
          read = null;
          readAt = Date.now();
        }
        check = await this.check(pod, node, uid);
        if (check === 'done') return await this.succeeded(pod, created);
        this.outage.ok();
      } catch (err) {
        this.outage.failed(err);
        read = 'both';
      }
      if (Date.now() >= this.deadline) throw await this.timedOut(this.stillWaitingFor(pod, node), pod);
      heartbeat({ ...this.progress(pod.status?.phase, uid), waiting: this.stillWaitingFor(pod, node) });
      if (this.outage.active) {
        await sleep(2_000);
        continue;
      }
      if (seen.pending) continue;
      const ms = check === 'heartbeat' ? HEARTBEAT_RECHECK_MS : UPGRADE_RECHECK_MS;
      await Promise.race([subs.pod.next(ms), subs.node.next(ms), cancelled()]);
      // Nothing arrived for a while: read both, in case a watch went silent without breaking.
      if (!seen.pending && Date.now() - readAt >= this.rereadMs()) read = 'both';
    }
  }

  private rereadMs(): number {
    return this.kube.watches.pods.healthy && this.kube.watches.nodes.healthy ? WATCHED_REREAD_MS : UPGRADE_RECHECK_MS;
  }

  private readNode(): Promise<V1Node> {
    return this.kube.core.readNode({ name: this.args.node });
  }

  /** Reads the pod (which must still be ours) and the node. */
  private async read(uid: string | undefined): Promise<{ pod: V1Pod; node: V1Node }> {
    const pod = await readPod(this.kube, this.name);
    if (!pod || pod.metadata?.uid !== uid) throw this.vanished(uid);
    return { pod, node: await this.readNode() };
  }

  /** Throws when the pod failed or was deleted; says whether the node is done. */
  private async check(pod: V1Pod, node: V1Node | undefined, uid: string | undefined): Promise<Check> {
    const phase = pod.status?.phase;
    if (phase === 'Failed') throw await failed(this.kube, this.args, pod);
    // Deleted mid-run: its kubelet is killing the agent, so it will never succeed.
    if (pod.metadata?.deletionTimestamp && phase !== 'Succeeded') throw this.vanished(uid);
    if (phase !== 'Succeeded') {
      await this.failIfOffline(node);
      return 'waiting';
    }
    this.succeededSeenAt ??= Date.now();
    if (!node || !nodeAtTarget(node, this.args.targetVersion) || !nodeReady(node)) return 'waiting';
    const end = finishedAt(pod);
    const finished = end !== undefined ? { at: end, wholeSeconds: true } : { at: this.succeededSeenAt, wholeSeconds: false };
    return (await this.kubelet.since(node, finished)) ? 'done' : 'heartbeat';
  }

  /**
   * Fails the step (step 'offline') when the node stopped reporting while its pod has not finished:
   * a kubelet that stops between the offline check and the pod would otherwise hold the step for the
   * whole nodeTimeout. Offline is Ready Unknown (the node lifecycle controller's verdict) or a Lease
   * expired past its duration; Ready False from a kubelet that still reports (one restarting during
   * the upgrade) is not. The pod stays: resume retries the node and finds it, a cancel keeps the node cordoned.
   * Workers only: a master's `kubeadm upgrade` restarts the API server, which holds back every kubelet's
   * Lease renewals for a while; a master keeps the whole nodeTimeout.
   */
  private async failIfOffline(node: V1Node | undefined): Promise<void> {
    if (!node || this.args.role !== 'worker') return;
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    let reason: string | null = null;
    if (ready?.status === 'Unknown') reason = offlineReason(node, undefined, Date.now());
    else if (ready?.status === 'True' && Date.now() - this.leaseReadAt >= LEASE_RECHECK_MS) {
      this.leaseReadAt = Date.now();
      reason = await offlineNow(this.kube, node);
    }
    if (reason === null) return;
    const message =
      `${this.args.node} went offline (${reason}) before its upgrade pod ${UPGRADE_NAMESPACE}/${this.name} finished; ` +
      'the pod stays: resume retries the node once it is back, a cancel keeps it cordoned';
    await this.events.warning('UpgradeNodeOffline', message);
    throw nodeStepFailed({ node: this.args.node, step: 'offline', message });
  }

  private async succeeded(pod: V1Pod, created: boolean): Promise<{ pod: string }> {
    if (created || this.prev) {
      const message = `edge-upgrade ${this.args.upgradeId}: ${this.args.node} runs kubelet ${this.args.targetVersion} and is Ready`;
      await this.events.normal('UpgradeSucceeded', message);
    }
    return { pod: pod.metadata?.name ?? this.name };
  }

  /** Why the node is not done yet, for the timeout message. */
  private stillWaitingFor(pod: V1Pod, node: V1Node | undefined): string {
    const pod_ = `pod ${UPGRADE_NAMESPACE}/${this.name}`;
    const phase = pod.status?.phase;
    if (this.outage.active) return `the ${this.outage.describe()}`;
    if (phase !== 'Succeeded') {
      return `${pod_} is still ${phase ?? 'Pending'}${node && nodeReady(node) ? '' : ' and the node is not Ready (offline edge site?)'}`;
    }
    if (!node || !nodeAtTarget(node, this.args.targetVersion)) {
      return `${pod_} Succeeded but the node still reports kubelet ${node?.status?.nodeInfo?.kubeletVersion ?? '?'}`;
    }
    if (!nodeReady(node)) return 'the node has not become Ready since its kubelet restarted';
    return (
      `${pod_} Succeeded at ${clock(finishedAt(pod) ?? this.succeededSeenAt)} and the node reports kubelet ${this.args.targetVersion}, ` +
      `but its kubelet has not reported since (last heartbeat ${clock(this.kubelet.last)}): ` +
      'its Ready status is stale, the new kubelet may not be running'
    );
  }

  private progress(phase?: string, uid?: string): WaitProgress {
    return {
      startedAt: this.startedAt,
      node: this.args.node,
      pod: this.name,
      ...(uid ? { uid } : {}),
      ...(phase ? { phase } : {}),
      ...(this.outage.active ? { apiOutage: this.outage.describe() } : {}),
    };
  }

  private async timedOut(why: string, pod?: V1Pod): Promise<Error> {
    const { node, targetVersion, nodeTimeoutMs } = this.args;
    const message =
      `${node} did not finish its upgrade to ${targetVersion} within ${Math.round(nodeTimeoutMs / 1000)}s: ${why}. ` +
      'Check the node, or raise nodeTimeout, then resume';
    await this.events.warning('UpgradeTimedOut', message);
    const phase = pod?.status?.phase;
    const tail = pod && (phase === 'Running' || phase === 'Succeeded') ? await logTail(this.kube, pod) : '';
    return nodeStepFailed({ node, step: 'wait', message, ...(tail ? { logTail: tail } : {}) });
  }

  private vanished(uid: string | undefined): Error {
    const message =
      `upgrade pod ${UPGRADE_NAMESPACE}/${this.name} (uid ${uid ?? '?'}) was deleted while upgrading ${this.args.node}, ` +
      'not by this upgrade. It is not recreated behind your back: the node may be half-upgraded; ' +
      'check it, then resume to run a new upgrade pod';
    void this.events.warning('UpgradeFailed', message);
    return nodeStepFailed({ node: this.args.node, step: 'upgrade-pod', message });
  }
}
