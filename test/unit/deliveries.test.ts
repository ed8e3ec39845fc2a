/**
 * The upgrade wait takes what the shared watches delivered by counting deliveries, so a change that
 * arrives while the wait is busy elsewhere (reading a Lease, writing an Event) is taken at the next
 * turn. Waking on `next()` alone lost such a change: in the 1,000-node benchmark a few nodes then
 * waited up to 25 s for their kubelet's next Lease renewal although their Ready status had arrived.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { Deliveries, Subscription } from '../../src/activities/shared-watch.js';

const pod = (uid: string, phase: string): V1Pod => ({ metadata: { name: 'p', uid }, status: { phase } });
const node = (ready: string): V1Node => ({ metadata: { name: 'n' }, status: { conditions: [{ type: 'Ready', status: ready }] } });

function subscriptions() {
  return { pod: new Subscription<V1Pod>('p', () => undefined), node: new Subscription<V1Node>('n', () => undefined) };
}

describe('Deliveries', () => {
  it('takes a change that arrived while nobody was waiting on next()', async () => {
    const subs = subscriptions();
    const seen = new Deliveries(subs, 'uid-1');
    expect(seen.take()).toEqual({});
    // Busy elsewhere (no next() pending) when the node turns Ready and the pod succeeds.
    subs.node.deliver('MODIFIED', node('True'));
    subs.pod.deliver('MODIFIED', pod('uid-1', 'Succeeded'));
    expect(seen.pending).toBe(true);
    const taken = seen.take();
    expect(taken.node?.status?.conditions?.[0]?.status).toBe('True');
    expect(taken.pod?.status?.phase).toBe('Succeeded');
    expect(seen.pending).toBe(false);
    expect(seen.take()).toEqual({});
  });

  it('asks for a read when the pod was deleted or replaced, instead of trusting the event', () => {
    const subs = subscriptions();
    const seen = new Deliveries(subs, 'uid-1');
    subs.pod.deliver('MODIFIED', pod('uid-2', 'Pending'));
    expect(seen.take()).toEqual({ reread: true });
    subs.pod.deliver('DELETED', pod('uid-1', 'Running'));
    expect(seen.take()).toEqual({ reread: true });
  });

  it('skip() drops what arrived before a read (the read is newer); later changes are still taken', () => {
    const subs = subscriptions();
    const seen = new Deliveries(subs, 'uid-1');
    subs.node.deliver('MODIFIED', node('False'));
    seen.skip();
    expect(seen.pending).toBe(false);
    subs.node.deliver('MODIFIED', node('True'));
    expect(seen.take().node?.status?.conditions?.[0]?.status).toBe('True');
  });
});
