#!/usr/bin/env node
/**
 * The simulator as a command: plays simulated edge nodes against the cluster of a kubeconfig until
 * interrupted. Example: node dist/simulator/cli.js --kubeconfig K --masters 3 --edge 50 --from v1.33.7
 * With --timeline FILE it writes one JSON line per upgrade pod step ({node, pod, step, at}) and, when
 * stopped, one line with its counters ({stats}), for benchmarks.
 */
import { createWriteStream } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { Command, InvalidArgumentError } from 'commander';
import { EdgeSimulator } from './simulator.js';

const count = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
};

const program = new Command('edge-upgrade-simulator')
  .description('simulate edge nodes (kubelets) against a real API server')
  .requiredOption('--kubeconfig <path>', 'kubeconfig of the cluster')
  .option('--masters <n>', 'control-plane nodes to create', count, 0)
  .option('--cloud <n>', 'cloud workers to create', count, 0)
  .option('--edge <n>', 'edge workers to create', count, 0)
  .option('--from <version>', 'starting kubelet version of created nodes', 'v1.33.7')
  .option('--upgrade-seconds <n>', 'how long an upgrade pod runs', count, 2)
  .option('--lease-seconds <n>', 'node lease duration (renewed every quarter of it)', count, 40)
  .option('--status-seconds <n>', 'how often an unchanged node re-posts its status', count, 60)
  .option('--concurrency <n>', 'most API requests in flight at once', count, 32)
  .option('--timeline <file>', 'write each upgrade pod step (and, when stopped, the counters) as JSON lines to this file')
  .option('--quiet', 'print nothing but errors')
  .showHelpAfterError();

async function main(): Promise<void> {
  const o = program.parse().opts<{
    kubeconfig: string;
    masters: number;
    cloud: number;
    edge: number;
    from: string;
    upgradeSeconds: number;
    leaseSeconds: number;
    statusSeconds: number;
    concurrency: number;
    timeline?: string;
    quiet?: boolean;
  }>();
  const timeline = o.timeline ? createWriteStream(o.timeline) : undefined;
  const kc = new KubeConfig();
  kc.loadFromFile(o.kubeconfig);
  const log = o.quiet ? undefined : (m: string) => console.log(m);
  const sim = await EdgeSimulator.start({
    kubeConfig: kc,
    upgradeSeconds: o.upgradeSeconds,
    leaseDurationSeconds: o.leaseSeconds,
    statusIntervalSeconds: o.statusSeconds,
    concurrency: o.concurrency,
    log,
    ...(timeline ? { onUpgradeStep: (e) => timeline.write(JSON.stringify(e) + '\n') } : {}),
  });
  if (o.masters + o.cloud + o.edge > 0) {
    const names = await sim.createCluster({ controlPlanes: o.masters, cloudWorkers: o.cloud, edgeWorkers: o.edge, version: o.from });
    log?.(`simulating ${names.length} nodes at ${o.from}`);
  }
  const stop = () =>
    void sim.stop().then(() => {
      if (!timeline) process.exit(0);
      timeline.end(JSON.stringify({ stats: sim.stats() }) + '\n', () => process.exit(0));
    });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`edge-upgrade-simulator: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
