#!/usr/bin/env node
/**
 * Runs a local control plane in the foreground until SIGINT/SIGTERM (scripts/cluster-up.sh starts it
 * in the background). Writes <dir>/kubeconfig, then <dir>/ready; stops every process it started on exit.
 */
import { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalControlPlane } from './control-plane.js';

const program = new Command('edge-upgrade-cluster')
  .requiredOption('--dir <path>', 'directory for data, logs and the kubeconfig')
  .requiredOption('--k8s-bin <dir>', 'directory with kube-apiserver, kube-controller-manager, kube-scheduler')
  .requiredOption('--etcd <path>', 'etcd binary')
  .showHelpAfterError();

async function main(): Promise<void> {
  const o = program.parse().opts<{ dir: string; k8sBin: string; etcd: string }>();
  const cp = await LocalControlPlane.start({ dir: o.dir, k8sBinDir: o.k8sBin, etcdBinary: o.etcd, keepDir: true });
  writeFileSync(join(o.dir, 'ready'), `${cp.server}\n`);
  console.log(`control plane ready at ${cp.server}; kubeconfig ${cp.kubeconfigPath}`);
  const stop = () => void cp.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`edge-upgrade-cluster: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
