/**
 * SharedWatch against a real API server: one watch request serves every subscriber, a wait wakes
 * as soon as its object changes (not at the re-check timer) with the newest version, deletion is
 * seen, an API outage (through a TCP proxy) marks subscribers stale and the watch comes back by
 * itself, and it closes once nobody subscribes.
 */
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mergePatch } from '../../src/kube/clients.js';
import { SharedWatch, type Subscription } from '../../src/activities/shared-watch.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/poll.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

let cluster: TestCluster;
let proxy: TcpProxy;
let kc: KubeConfig;
let core: CoreV1Api;

const pod = (name: string): V1Pod => ({
  metadata: { name, labels: { app: 'watched' } },
  spec: { containers: [{ name: 'c', image: 'example.invalid/c:1' }] },
});

beforeAll(async () => {
  cluster = await startCluster();
  proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(cluster.controlPlane.server).port) });
  const path = join(cluster.controlPlane.dir, 'kubeconfig-watch-proxied');
  writeFileSync(path, readFileSync(cluster.controlPlane.kubeconfigPath, 'utf8').replace(cluster.controlPlane.server, proxy.url), {
    mode: 0o600,
  });
  kc = new KubeConfig();
  kc.loadFromFile(path);
  core = kc.makeApiClient(CoreV1Api);
  for (const name of ['a', 'b']) await cluster.core.createNamespacedPod({ namespace: 'default', body: pod(name) });
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await cluster?.stop();
});

function podsWatch(idleStopMs?: number, silentMs?: number): SharedWatch<V1Pod> {
  return new SharedWatch<V1Pod>(
    kc,
    {
      path: '/api/v1/namespaces/default/pods',
      labelSelector: 'app=watched',
      currentVersion: async () =>
        (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=watched', limit: 1 })).metadata?.resourceVersion,
    },
    idleStopMs,
    silentMs,
  );
}

/** Waits (each wait would last 30 s if the watch did not wake it) until `done`; returns how long it took. */
async function until(sub: Subscription<V1Pod>, what: string, done: () => boolean): Promise<number> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > 10_000) throw new Error(`the watch did not show ${what} within 10 s`);
    await sub.next(30_000);
  }
  return Date.now() - t0;
}

const label = (name: string, step: string) =>
  cluster.core.patchNamespacedPod({ name, namespace: 'default', body: { metadata: { labels: { step } } } }, mergePatch);

test('one watch request serves every subscriber; each wakes on its own object with the newest version, and sees deletion', async () => {
  const watch = podsWatch();
  const a = watch.subscribe('a');
  const b = watch.subscribe('b');
  try {
    await eventually('the watch is open', async () => watch.healthy);
    const changed = until(a, 'the new label on a', () => a.current?.metadata?.labels?.step === 'two');
    await label('a', 'two');
    expect(await changed).toBeLessThan(10_000);
    // b heard nothing of a's change (the scheduler may have touched b, never with a's label).
    expect(b.current?.metadata?.labels?.step).toBeUndefined();
    const changedB = until(b, 'the new label on b', () => b.current?.metadata?.labels?.step === 'three');
    await label('b', 'three');
    expect(await changedB).toBeLessThan(10_000);
    expect(watch.stats.opened).toBe(1);

    const gone = until(a, 'the deletion', () => a.deleted);
    await cluster.core.deleteNamespacedPod({ name: 'a', namespace: 'default', gracePeriodSeconds: 0 });
    expect(await gone).toBeLessThan(10_000);
    expect(a.current).toBeUndefined();
  } finally {
    a.close();
    b.close();
    watch.stop();
  }
});

test('an API outage marks subscribers stale; the watch comes back by itself and delivers again', async () => {
  const watch = podsWatch();
  const b = watch.subscribe('b');
  try {
    await eventually('the watch is open', async () => watch.healthy);
    // A first open marks subscribers stale too (they read once); clear that to see the outage's mark.
    b.stale = false;
    await proxy.outage(3_000);
    await eventually('the subscriber is marked stale', async () => b.stale);
    expect(watch.healthy).toBe(false);
    await proxy.restored();
    await eventually('the watch is open again', async () => watch.healthy, 30_000);
    expect(watch.stats.opened).toBeGreaterThanOrEqual(2);
    const changed = until(b, 'the label set after the outage', () => b.current?.metadata?.labels?.step === 'after');
    await label('b', 'after');
    expect(await changed).toBeLessThan(10_000);
  } finally {
    b.close();
    watch.stop();
  }
}, 60_000);

test('the watch closes a while after the last subscriber left, and opens again for the next one', async () => {
  const watch = podsWatch(500);
  const b = watch.subscribe('b');
  await eventually('the watch is open', async () => watch.healthy);
  b.close();
  await eventually('the idle watch is closed', async () => !watch.healthy);
  const again = watch.subscribe('b');
  try {
    await eventually('the watch is open again', async () => watch.healthy);
    expect(watch.stats.opened).toBe(2);
  } finally {
    again.close();
    watch.stop();
  }
});

test('a watch that stays silent longer than allowed stops counting as healthy, and is healthy again once it delivers', async () => {
  const watch = podsWatch(60_000, 1_000);
  const b = watch.subscribe('b');
  try {
    await eventually('the watch is open', async () => watch.healthy);
    // Nothing changes for a while (bookmarks come about once a minute): the subscriber must not trust it.
    await eventually('the silent watch is unhealthy', async () => !watch.healthy, 5_000);
    await label('b', 'heard');
    await eventually('the watch is healthy again', async () => watch.healthy, 10_000);
  } finally {
    b.close();
    watch.stop();
  }
});
