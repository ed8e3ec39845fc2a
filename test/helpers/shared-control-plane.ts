/**
 * One control plane per jest worker, shared by the test files that worker runs one after another.
 * The first file that asks starts it (in the run folder that test/global-setup.mjs makes and names
 * in EDGE_UPGRADE_TEST_RUN) and records it in a state file; each later file adopts it, and empties
 * it first (./reset-cluster.ts), so it starts from a cluster as new as a fresh one. Nothing here
 * stops it: test/global-teardown.mjs stops every shared control plane by the PIDs in the state
 * files when the run ends. Outside a jest run (benchmarks) there is no run folder and no sharing.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalControlPlane } from '../../src/local/control-plane.js';
import { resetCluster } from './reset-cluster.js';
import { etcdBinary, k8sBinDir } from './tools.js';

/** The environment variable naming the run folder (set by test/global-setup.mjs). */
export const TEST_RUN_ENV = 'EDGE_UPGRADE_TEST_RUN';
/**
 * The node-monitor grace period (seconds) of the shared control plane, and of a private one unless a
 * file sets another: a node whose simulated kubelet stops is NotReady 20 s later. Long enough that
 * a busy machine never reads as offline: simulated kubelets renew their Leases every quarter of
 * the Lease duration (8 s in the harness, so ten renewals must all be late), short enough that a
 * test of an offline node waits 20 s. A file that needs another figure gets a private control plane.
 */
export const SHARED_NODE_MONITOR_GRACE_SECONDS = 20;

/** What a state file records: where the control plane is, and the PIDs that globalTeardown stops. */
interface SharedState {
  dir: string;
  server: string;
  kubeconfigPath: string;
  adminToken: string;
  pids: number[];
}

/** The worker's shared control plane, emptied for this file; undefined outside a jest run. */
export async function sharedControlPlane(): Promise<LocalControlPlane | undefined> {
  const run = process.env[TEST_RUN_ENV];
  if (!run || !existsSync(run)) return undefined;
  const worker = process.env.JEST_WORKER_ID ?? '1';
  const stateFile = join(run, `control-plane-${worker}.json`);
  if (existsSync(stateFile)) {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as SharedState;
    const adopted = LocalControlPlane.adopt(state);
    if (await adopted.ready()) {
      await resetCluster(adopted.kubeConfig());
      return adopted;
    }
    // It died (a crashed file, a killed process): stop what is left of it and start anew.
    for (const pid of state.pids) killIfOurs(pid, state.dir);
    rmSync(state.dir, { recursive: true, force: true });
    rmSync(stateFile, { force: true });
  }
  const dir = join(run, `control-plane-${worker}`);
  const cp = await LocalControlPlane.start({
    k8sBinDir: k8sBinDir(),
    etcdBinary: etcdBinary(),
    dir,
    keepDir: true,
    nodeMonitorGracePeriodSeconds: SHARED_NODE_MONITOR_GRACE_SECONDS,
  });
  const state: SharedState = { dir, server: cp.server, kubeconfigPath: cp.kubeconfigPath, adminToken: cp.adminToken, pids: cp.pids };
  writeFileSync(stateFile, JSON.stringify(state));
  return LocalControlPlane.adopt(state);
}

/** SIGKILLs `pid` if it is still a process of the control plane in `dir` (its command line names the folder). */
function killIfOurs(pid: number, dir: string): void {
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
