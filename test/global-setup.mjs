/**
 * Jest's global setup, once per jest run before any test file starts:
 * - brings dist/ (what bin/edge-upgrade.js and the worker's prebuilt workflow bundle are) up to
 *   date with the sources, so test files that run the real bin neither rebuild it each nor race one
 *   another's builds. Up to date: dist/workflow-bundle.js, the build's last output, is newer than
 *   every file it is built from. The build itself is package.json's `build` script;
 * - makes the run folder where each jest worker keeps its shared control plane
 *   (test/helpers/shared-control-plane.ts), named in EDGE_UPGRADE_TEST_RUN for the workers, and
 *   stops what an earlier run that died left in its folder (test/run-folders.mjs);
 * - sets how the Go servers the tests start (kube-apiserver, etcd, the controllers, Temporal dev servers and
 *   Temporal Server) use the CPU, unless the environment says otherwise: GOGC=400 (a garbage collection when
 *   the heap has grown fivefold instead of twofold; memory is plentiful, CPU is not) and GOMAXPROCS=1 (one
 *   thread running Go code each: with dozens of servers on two cores, more only adds scheduler spinning). A
 *   control plane with 30 simulated nodes used 4.1 CPU-seconds a minute instead of 6.0; a Temporal dev server
 *   under test/workflow/upgrade-cluster.test.ts 26.6 CPU-seconds instead of 32 (bench/RESULTS.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RUN_FOLDER_PREFIX, sweepDeadRuns } from './run-folders.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const INPUTS = [
  'src',
  'tsconfig.json',
  'tsconfig.build.json',
  'package-lock.json',
  'scripts/transpile.mjs',
  'scripts/bundle-workflows.mjs',
];

/** The newest modification time under `path` (a file or a folder), in ms. */
function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

function builtAt() {
  try {
    return statSync(join(root, 'dist/workflow-bundle.js')).mtimeMs;
  } catch {
    return 0;
  }
}

export default async function globalSetup() {
  process.env.GOGC ??= '400';
  process.env.GOMAXPROCS ??= '1';
  if (builtAt() <= Math.max(...INPUTS.map((p) => newest(join(root, p))))) {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  }
  await sweepDeadRuns();
  const run = mkdtempSync(join(tmpdir(), RUN_FOLDER_PREFIX));
  writeFileSync(join(run, 'owner'), String(process.pid));
  process.env.EDGE_UPGRADE_TEST_RUN = run;
}
