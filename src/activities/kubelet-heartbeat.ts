/**
 * Whether a node's kubelet has reported since a given time (the end of its upgrade pod): the
 * Ready condition's heartbeat, or a renewal of its Lease. The upgrade-pod step waits for it, so a
 * node whose status is stale (the new kubelet not running) is not taken for upgraded.
 */
import type { V1Lease, V1Node } from '@kubernetes/client-node';
import { statusOf } from '../kube/errors.js';
import type { Kube } from './kube.js';

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
export class KubeletHeartbeat {
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
