/**
 * A jest run's folder ($TMPDIR/edge-upgrade-test-run-*): an `owner` file with the jest process's
 * PID, and per jest worker a shared control plane's folder and a state file with its PIDs
 * (test/helpers/shared-control-plane.ts). Stopping a run stops those processes by PID, each only if
 * its command line still names the run folder (so a reused PID is never signalled), then removes it.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const RUN_FOLDER_PREFIX = 'edge-upgrade-test-run-';

function ours(pid, run) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(run);
  } catch {
    return false;
  }
}

function signal(pids, sig) {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  }
}

/** Stops the shared control planes recorded in `run` (SIGTERM, then SIGKILL after 10 s) and removes the folder. */
export async function stopRun(run) {
  if (!existsSync(run)) return;
  const pids = readdirSync(run)
    .filter((f) => /^control-plane-.*\.json$/.test(f))
    .flatMap((f) => {
      try {
        return JSON.parse(readFileSync(join(run, f), 'utf8')).pids ?? [];
      } catch {
        return [];
      }
    })
    .filter((pid) => ours(pid, run));
  signal(pids, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (pids.some((pid) => ours(pid, run)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  signal(
    pids.filter((pid) => ours(pid, run)),
    'SIGKILL',
  );
  rmSync(run, { recursive: true, force: true });
}

/** Stops what earlier runs left behind when their jest process died before its teardown. */
export async function sweepDeadRuns() {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(RUN_FOLDER_PREFIX))) {
    const run = join(tmpdir(), name);
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(run, 'owner'), 'utf8'));
    } catch {
      // No owner file: a run that died while starting.
    }
    let alive = false;
    try {
      alive = Number.isInteger(owner) && owner > 0 && (process.kill(owner, 0), true);
    } catch {
      alive = false;
    }
    if (!alive) await stopRun(run);
  }
}
