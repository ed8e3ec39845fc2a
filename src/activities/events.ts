/**
 * Kubernetes Events that tell an upgrade's story (`kubectl get events`): on each Node (in
 * namespace default, as the kubelet does) and on each upgrade pod (in kube-upgrade). Each Event is
 * labelled with the upgrade ID, so cleanup deletes exactly this upgrade's Events. Writing an Event
 * is best effort: it never fails a step.
 */
import type { CoreV1Api, CoreV1Event, V1Pod } from '@kubernetes/client-node';
import {
  EVENT_COMPONENT,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  NODE_EVENT_NAMESPACE,
  NODE_NAME_LABEL,
  TARGET_VERSION_LABEL,
  UPGRADE_ID_LABEL,
  UPGRADE_NAMESPACE,
} from '../planning/labels.js';
import { batchCancelIgnoredMessage } from '../planning/batches.js';
import { labelValue } from '../planning/names.js';
import type { KubeClients } from './kube.js';
import type { UpgradeRef } from './types.js';

/** Normal or Warning, as Kubernetes Events are. */
export type EventType = 'Normal' | 'Warning';

/** An Event about one object, labelled with the upgrade. */
function eventBody(args: {
  namespace: string;
  involved: CoreV1Event['involvedObject'];
  upgradeId: string;
  targetVersion: string;
  node: string;
  type: EventType;
  reason: string;
  message: string;
}): CoreV1Event {
  const now = new Date();
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      generateName: `${args.involved.name ?? 'edge-upgrade'}.`,
      namespace: args.namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
        [UPGRADE_ID_LABEL]: labelValue(args.upgradeId),
        [TARGET_VERSION_LABEL]: labelValue(args.targetVersion),
        [NODE_NAME_LABEL]: labelValue(args.node),
      },
    },
    involvedObject: args.involved,
    type: args.type,
    reason: args.reason,
    // Event messages are capped at 1 KiB by the API server.
    message: args.message.slice(0, 1000),
    source: { component: EVENT_COMPONENT },
    reportingComponent: EVENT_COMPONENT,
    reportingInstance: EVENT_COMPONENT,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

/** Whom a recorder's Events are about: the upgrade, and the node it is upgrading. */
export interface EventSubject {
  upgradeId: string;
  targetVersion: string;
  node: string;
}

/**
 * Records Events for one (upgrade, node), in the manner of client-go's EventRecorder: call sites
 * give only the reason and the message. Each Event goes on the Node (in namespace default); a
 * recorder made with {@link EventRecorder.withPod} writes the same Event on the upgrade pod first.
 * Writing is best effort: errors are swallowed (an Event is a record, not a step).
 */
export class EventRecorder {
  constructor(
    private readonly core: CoreV1Api,
    private readonly subject: EventSubject,
    private readonly pod?: V1Pod,
  ) {}

  /** The same recorder, also writing each Event on `pod` (in kube-upgrade). */
  withPod(pod: V1Pod): EventRecorder {
    return new EventRecorder(this.core, this.subject, pod);
  }

  /** Records a Normal Event. */
  normal(reason: string, message: string): Promise<void> {
    return this.record('Normal', reason, message);
  }

  /** Records a Warning Event. */
  warning(reason: string, message: string): Promise<void> {
    return this.record('Warning', reason, message);
  }

  private async record(type: EventType, reason: string, message: string): Promise<void> {
    const { upgradeId, targetVersion, node } = this.subject;
    const common = { upgradeId, targetVersion, node, type, reason, message };
    if (this.pod) {
      const { name, uid } = this.pod.metadata ?? {};
      const involved = { apiVersion: 'v1', kind: 'Pod', namespace: UPGRADE_NAMESPACE, name, uid };
      await this.create(eventBody({ ...common, namespace: UPGRADE_NAMESPACE, involved }));
    }
    const involved = { apiVersion: 'v1', kind: 'Node', name: node, uid: node };
    await this.create(eventBody({ ...common, namespace: NODE_EVENT_NAMESPACE, involved }));
  }

  private async create(body: CoreV1Event): Promise<void> {
    await this.core.createNamespacedEvent({ namespace: body.metadata!.namespace!, body }).catch(() => undefined);
  }
}

/** Implements `recordBatchCancelIgnored`: a Warning Event on each node of the batch. */
export async function recordBatchCancelIgnored(
  clients: KubeClients,
  args: UpgradeRef & { nodes: string[]; workflowId: string; at: string },
): Promise<void> {
  const core = clients.for(args.clusterId).core;
  const message = `edge-upgrade ${args.upgradeId}: ${batchCancelIgnoredMessage(args.workflowId, args.upgradeId)} (cancelled at ${args.at})`;
  await Promise.all(args.nodes.map((node) => new EventRecorder(core, { ...args, node }).warning('UpgradeBatchCancelIgnored', message)));
}
