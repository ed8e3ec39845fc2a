/**
 * ObjectWatch against a real API server: a wait wakes as soon as the watched object changes (not
 * at the re-check timer), sees the newest version, and notices deletion.
 */
import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { ObjectWatch } from '../../src/activities/watch.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'watched' }, spec: { containers: [{ name: 'c', image: 'example.invalid/c:1' }] } } });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

test('a wait wakes on change with the newest object, and sees deletion', async () => {
  const w = new ObjectWatch<V1Pod>(cluster.kubeConfig, '/api/v1/namespaces/default/pods', 'watched');
  try {
    await w.start();
    // The watch first replays the current state.
    if (!w.current) await w.next(10_000);
    expect(w.current?.metadata?.name).toBe('watched');

    const woke = w.next(30_000);
    const t0 = Date.now();
    await cluster.core.patchNamespacedPod(
      { name: 'watched', namespace: 'default', body: { metadata: { labels: { step: 'two' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await woke;
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(w.current?.metadata?.labels?.step).toBe('two');

    const gone = w.next(30_000);
    await cluster.core.deleteNamespacedPod({ name: 'watched', namespace: 'default', gracePeriodSeconds: 0 });
    await gone;
    expect(w.deleted).toBe(true);
    expect(w.current).toBeUndefined();
  } finally {
    w.stop();
  }
});
