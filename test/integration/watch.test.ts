/**
 * ObjectWatch against a real API server: a wait wakes as soon as the watched object changes (not
 * at the re-check timer), sees the newest version, and notices deletion.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { mergePatch } from '../../src/activities/kube.js';
import { ObjectWatch } from '../../src/activities/watch.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.core.createNamespacedPod({
    namespace: 'default',
    body: { metadata: { name: 'watched' }, spec: { containers: [{ name: 'c', image: 'example.invalid/c:1' }] } },
  });
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

    // Other writers (the scheduler) may change the pod too, so wait for our change in particular;
    // each wait would last 30 s if the watch did not wake it.
    const until = async (what: string, done: () => boolean) => {
      const t0 = Date.now();
      while (!done()) {
        if (Date.now() - t0 > 10_000) throw new Error(`the watch did not show ${what} within 10 s`);
        await w.next(30_000);
      }
      return Date.now() - t0;
    };
    const changed = until('the new label', () => w.current?.metadata?.labels?.step === 'two');
    await cluster.core.patchNamespacedPod(
      { name: 'watched', namespace: 'default', body: { metadata: { labels: { step: 'two' } } } },
      mergePatch,
    );
    expect(await changed).toBeLessThan(10_000);

    const gone = until('the deletion', () => w.deleted);
    await cluster.core.deleteNamespacedPod({ name: 'watched', namespace: 'default', gracePeriodSeconds: 0 });
    expect(await gone).toBeLessThan(10_000);
    expect(w.current).toBeUndefined();
  } finally {
    w.stop();
  }
});
