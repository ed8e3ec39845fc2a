/**
 * Benchmark (not a test): can the simulator keep 1,000 nodes' heartbeats on this machine?
 * Starts a real control plane, creates N nodes (default 1000; BENCH_NODES overrides), lets them run
 * for BENCH_SECONDS (default 120), and prints creation time, renewals per second, the worst renewal
 * lag, API errors, and how many nodes kube-controller-manager saw as not Ready.
 * Run: scripts/bench.sh simulator-heartbeats
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { LocalControlPlane } from '../src/local/control-plane.js';
import { nodeReady } from '../src/planning/cluster.js';
import { EdgeSimulator } from '../src/simulator/index.js';

const sh = (script: string) =>
  execFileSync('bash', [new URL(`../scripts/${script}`, import.meta.url).pathname], { encoding: 'utf8' }).trim();

async function main(): Promise<void> {
  const nodes = Number(process.env.BENCH_NODES ?? 1000);
  const seconds = Number(process.env.BENCH_SECONDS ?? 120);
  const cp = await LocalControlPlane.start({
    k8sBinDir: process.env.EDGE_UPGRADE_K8S_BIN ?? sh('ensure-k8s.sh'),
    etcdBinary: process.env.EDGE_UPGRADE_ETCD ?? sh('ensure-etcd.sh'),
  });
  const kubeConfig = cp.kubeConfig();
  const sim = await EdgeSimulator.start({ kubeConfig });
  try {
    const t0 = Date.now();
    await sim.createCluster({ controlPlanes: 3, edgeWorkers: nodes - 3, version: 'v1.33.7' });
    const created = (Date.now() - t0) / 1000;
    console.log(`created ${nodes} nodes with leases and status in ${created.toFixed(1)} s`);
    sim.resetLag();
    const before = sim.stats();
    const worstNotReady = await mostNotReady(kubeConfig.makeApiClient(CoreV1Api), seconds);
    const after = sim.stats();
    const renewals = after.leaseRenewals - before.leaseRenewals;
    console.log(
      `over ${seconds} s: ${renewals} lease renewals (${(renewals / seconds).toFixed(1)}/s, needed ${(nodes / 10).toFixed(0)}/s)`,
    );
    console.log(
      `worst renewal lag ${Math.round(after.maxRenewLagMs)} ms (lease 40 s, controller grace 40 s); ` +
        `status updates ${after.statusUpdates - before.statusUpdates}; API errors ${after.apiErrors}`,
    );
    console.log(`most nodes seen not Ready at once: ${worstNotReady}`);
  } finally {
    await sim.stop();
    await cp.stop();
  }
}

/** The most nodes seen not Ready at once, listing them every 10 s for `seconds`. */
async function mostNotReady(core: CoreV1Api, seconds: number): Promise<number> {
  let worstNotReady = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10_000));
    const list = (await core.listNode()).items;
    worstNotReady = Math.max(worstNotReady, list.filter((n) => !nodeReady(n)).length);
  }
  return worstNotReady;
}

await main();
