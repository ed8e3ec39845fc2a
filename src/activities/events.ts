/**
 * Kubernetes Events that tell an upgrade's story (`kubectl get events`): on each Node (in
 * namespace default, as the kubelet does) and on each upgrade pod (in kube-upgrade). Each Event is
 * labelled with the upgrade ID, so cleanup deletes exactly this upgrade's Events. Writing an Event
 * is best effort: it never fails a step.
 */
import type { CoreV1Api, CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { EVENT_COMPONENT, MANAGED_BY_LABEL, MANAGED_BY_VALUE, NODE_EVENT_NAMESPACE, NODE_NAME_LABEL, TARGET_VERSION_LABEL, UPGRADE_ID_LABEL, UPGRADE_NAMESPACE } from '../planning/labels.js';
import { labelValue } from '../planning/names.js';

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

/** Writes an Event on Node `node`; errors are swallowed (an Event is a record, not a step). */
export async function nodeEvent(core: CoreV1Api, a: { node: string; upgradeId: string; targetVersion: string; type?: EventType; reason: string; message: string }): Promise<void> {
  const body = eventBody({
    namespace: NODE_EVENT_NAMESPACE,
    involved: { apiVersion: 'v1', kind: 'Node', name: a.node, uid: a.node },
    upgradeId: a.upgradeId,
    targetVersion: a.targetVersion,
    node: a.node,
    type: a.type ?? 'Normal',
    reason: a.reason,
    message: a.message,
  });
  await core.createNamespacedEvent({ namespace: NODE_EVENT_NAMESPACE, body }).catch(() => undefined);
}

/** Writes an Event on an upgrade pod in kube-upgrade; errors are swallowed. */
export async function podEvent(core: CoreV1Api, a: { pod: V1Pod; node: string; upgradeId: string; targetVersion: string; type?: EventType; reason: string; message: string }): Promise<void> {
  const body = eventBody({
    namespace: UPGRADE_NAMESPACE,
    involved: { apiVersion: 'v1', kind: 'Pod', namespace: UPGRADE_NAMESPACE, name: a.pod.metadata?.name, uid: a.pod.metadata?.uid },
    upgradeId: a.upgradeId,
    targetVersion: a.targetVersion,
    node: a.node,
    type: a.type ?? 'Normal',
    reason: a.reason,
    message: a.message,
  });
  await core.createNamespacedEvent({ namespace: UPGRADE_NAMESPACE, body }).catch(() => undefined);
}
