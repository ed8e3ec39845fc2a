/**
 * The prepare phase's step (issue 13, the product's "node-preprocess … [Nodes in the cloud]"): on a
 * cloud node, before the masters, the agent runs in prepare mode (agent/prepare-node.sh): it checks
 * free space, switches the node's Kubernetes package repository to the target minor, downloads the
 * target's packages without installing them, and pre-pulls the target's images. It never cordons,
 * drains, installs or restarts anything, so the node keeps serving throughout.
 *
 * The prepare pod is named from (node, target) (`prepare-<node>-<v1-34-4>`), so a retried attempt
 * finds it. A Succeeded pod is deleted (prepare leaves no records but an Event on the node); a
 * Failed one is reported with its log tail and stays until a resume (which deletes failed pods of
 * the upgrade) or a cancel (whose cleanup deletes every prepare pod). An offline node is refused
 * untouched ('NodeOffline'), a deleted one is 'NodeRemoved', as in cordon.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../planning/errors.js';
import { UPGRADE_NAMESPACE } from '../planning/labels.js';
import { upgradePodName } from '../planning/names.js';
import { buildUpgradePod } from '../planning/upgrade-pod.js';
import { createAgentPod, logTail, readPod } from './agent-pod.js';
import { readNodeIfExists, refuseIfOffline } from './cordon.js';
import { EventRecorder } from './events.js';
import { ignoreNotFound } from '../kube/errors.js';
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

/** How often the wait re-reads the pod when the shared watch delivers nothing, in ms. */
export const PREPARE_RECHECK_MS = 5_000;

/** Arguments of `runPreparePod`: the node, the agent image (already allowed) and the deadline (the request's nodeTimeout). */
export type PrepareArgs = NodeStepArgs & { upgradeImage: string; nodeTimeoutMs: number };

/**
 * Implements `runPreparePod`: runs the node's prepare pod until it Succeeded (then deletes it) or
 * Failed. API server outages are ridden out (heartbeating) until the deadline, the request's nodeTimeout.
 */
export async function runPreparePod(clients: KubeClients, args: PrepareArgs): Promise<{ pod: string }> {
  const kube = clients.for(args.clusterId);
  const startedAt = previousHeartbeat<{ startedAt: number }>()?.startedAt ?? Date.now();
  const name = upgradePodName(args.node, args.targetVersion, 'prepare');
  const api = new RideOut(kube, args, startedAt, name);
  await api.call(() => refuseIfGoneOrOffline(kube, args));
  const sub = kube.watches.pods.subscribe(name);
  try {
    const body = buildUpgradePod({ ...args, image: args.upgradeImage, mode: 'prepare' });
    let pod = await api.call(async () => (await createAgentPod(kube, body, args.node, 'prepare')) ?? readPod(kube, name));
    for (;;) {
      throwIfCancelled();
      if (!pod || pod.metadata?.deletionTimestamp) throw vanished(kube, args, name);
      if (pod.status?.phase === 'Succeeded') return await prepared(kube, args, pod, api);
      if (pod.status?.phase === 'Failed') throw await failed(kube, args, pod);
      if (Date.now() >= api.deadline) throw await timedOut(kube, args, pod);
      api.beat(pod.status?.phase ?? 'Pending');
      await Promise.race([sub.next(PREPARE_RECHECK_MS), cancelled()]);
      if (sub.current && !sub.stale) pod = sub.current;
      else {
        pod = await api.call(() => readPod(kube, name));
        sub.stale = false;
      }
    }
  } finally {
    sub.close();
  }
}

/** Calls the API server until it answers, through outages, heartbeating, up to the step's deadline (nodeTimeout). */
class RideOut {
  private readonly outage: ApiOutage;
  readonly deadline: number;

  constructor(
    kube: Kube,
    private readonly args: PrepareArgs,
    private readonly startedAt: number,
    private readonly pod: string,
  ) {
    this.outage = new ApiOutage(kube.server);
    this.deadline = startedAt + args.nodeTimeoutMs;
  }

  /** Heartbeats the step's progress (a retried attempt keeps the deadline). */
  beat(phase?: string): void {
    const apiOutage = this.outage.describe();
    const { node } = this.args;
    heartbeat({ startedAt: this.startedAt, node, pod: this.pod, ...(phase ? { phase } : {}), ...(apiOutage ? { apiOutage } : {}) });
  }

  /** Runs `op`, retrying transient API errors every 2 s until the deadline; other errors are thrown at once. */
  async call<T>(op: () => Promise<T>): Promise<T> {
    for (;;) {
      throwIfCancelled();
      try {
        const result = await op();
        this.outage.ok();
        return result;
      } catch (err) {
        this.outage.failed(err);
      }
      this.beat();
      if (Date.now() >= this.deadline) {
        const { node, nodeTimeoutMs } = this.args;
        const message = `${node} was not prepared within ${Math.round(nodeTimeoutMs / 1000)}s: the ${this.outage.describe()}`;
        throw nodeStepFailed({ node, step: 'prepare', message });
      }
      await sleep(2_000);
    }
  }
}

/** Throws 'NodeRemoved' for a deleted node and 'NodeOffline' for an offline one; nothing is changed on either. */
async function refuseIfGoneOrOffline(kube: Kube, args: NodeStepArgs): Promise<void> {
  const node = await readNodeIfExists(kube.core, args.node);
  if (!node) {
    throw ApplicationFailure.nonRetryable(
      `node ${args.node} no longer exists in cluster ${args.clusterId}; it is skipped`,
      ErrorType.NodeRemoved,
    );
  }
  await refuseIfOffline(kube, node, args);
}

/** The node is prepared: an Event says so, and the pod goes (it is no record an operator needs). */
async function prepared(kube: Kube, args: PrepareArgs, pod: V1Pod, api: RideOut): Promise<{ pod: string }> {
  const name = pod.metadata!.name!;
  const message = `edge-upgrade ${args.upgradeId}: ${args.node} is prepared for ${args.targetVersion} (repository, packages, images)`;
  await new EventRecorder(kube.core, args).normal('NodePrepared', message);
  await api.call(() => ignoreNotFound(() => kube.core.deleteNamespacedPod({ name, namespace: UPGRADE_NAMESPACE, gracePeriodSeconds: 0 })));
  return { pod: name };
}

async function failed(kube: Kube, args: PrepareArgs, pod: V1Pod): Promise<Error> {
  const tail = await logTail(kube, pod);
  const lastLine = tail.split('\n').filter(Boolean).pop();
  const name = pod.metadata!.name!;
  const message =
    `prepare pod ${UPGRADE_NAMESPACE}/${name} failed on ${args.node}${lastLine ? `: ${lastLine}` : ''}. Nothing was installed ` +
    `or restarted on the node. See kubectl -n ${UPGRADE_NAMESPACE} logs ${name}; resume deletes the failed pod and prepares the node again`;
  await new EventRecorder(kube.core, args).withPod(pod).warning('PrepareFailed', message);
  return nodeStepFailed({ node: args.node, step: 'prepare', message, ...(tail ? { logTail: tail } : {}) });
}

async function timedOut(kube: Kube, args: PrepareArgs, pod: V1Pod): Promise<Error> {
  const name = `${UPGRADE_NAMESPACE}/${pod.metadata?.name}`;
  const message =
    `${args.node} was not prepared within ${Math.round(args.nodeTimeoutMs / 1000)}s: prepare pod ${name} is still ` +
    `${pod.status?.phase ?? 'Pending'}. Check the node (image pulls, package mirror), or raise nodeTimeout, then resume`;
  await new EventRecorder(kube.core, args).warning('PrepareFailed', message);
  const tail = pod.status?.phase === 'Running' ? await logTail(kube, pod) : '';
  return nodeStepFailed({ node: args.node, step: 'prepare', message, ...(tail ? { logTail: tail } : {}) });
}

function vanished(kube: Kube, args: PrepareArgs, name: string): Error {
  const message =
    `prepare pod ${UPGRADE_NAMESPACE}/${name} was deleted while preparing ${args.node}, not by this upgrade; ` + 'resume prepares it again';
  void new EventRecorder(kube.core, args).warning('PrepareFailed', message);
  return nodeStepFailed({ node: args.node, step: 'prepare', message });
}
