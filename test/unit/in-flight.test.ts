/**
 * What `edge-upgrade status` says a node step in flight waits on, from its heartbeat details
 * (../../src/in-flight.ts), and the line it prints for it.
 */
import { waitingOn } from '../../src/in-flight.js';
import { renderInFlight } from '../../src/cli/render.js';

test('a drain: the refused evictions with their reason, the pods still terminating, the rest to evict', () => {
  const line = waitingOn('drain', {
    pending: ['shop/pos-0', 'shop/pos-1', 'shop/cache-0', 'shop/web-1'],
    refused: [{ pod: 'shop/pos-0', refusal: "Cannot evict pod as it would violate the pod's disruption budget." }],
    terminating: ['shop/cache-0 (finalizers: example.com/block)'],
  });
  expect(line).toBe(
    "eviction of shop/pos-0 refused: Cannot evict pod as it would violate the pod's disruption budget.; " +
      '1 pod(s) still terminating: shop/cache-0 (finalizers: example.com/block); 2 pod(s) to evict',
  );
});

test('a drain before its first eviction, and one during an API outage', () => {
  expect(waitingOn('drain', {})).toBe('listing the pods to evict');
  expect(waitingOn('drain', { apiOutage: 'API server unreachable for 12 s', pending: ['a/b'] })).toBe(
    'the API server unreachable for 12 s; 1 pod(s) to evict',
  );
});

test('an upgrade: what the step said it waits on, else the pod and its phase', () => {
  expect(
    waitingOn('upgrade-pod', { pod: 'upgrade-edge-7', phase: 'Running', waiting: 'pod kube-upgrade/upgrade-edge-7 is still Running' }),
  ).toBe('pod kube-upgrade/upgrade-edge-7 is still Running');
  expect(waitingOn('prepare', { pod: 'prepare-cloud-1', phase: 'Pending' })).toBe('pod prepare-cloud-1 Pending');
});

test('one line per node in flight, naming the attempt after the first', () => {
  const since = '2026-12-07T10:00:00.000Z';
  expect(
    renderInFlight([
      { node: 'edge-3', step: 'drain', since, attempt: 1, waitingOn: '2 pod(s) to evict' },
      { node: 'edge-4', step: 'upgrade-pod', since, attempt: 3, waitingOn: 'pod kube-upgrade/upgrade-edge-4 is still Pending' },
    ]),
  ).toEqual([
    `In flight: edge-3 drain since ${since}: 2 pod(s) to evict`,
    `In flight: edge-4 upgrade-pod since ${since} (attempt 3): pod kube-upgrade/upgrade-edge-4 is still Pending`,
  ]);
});
