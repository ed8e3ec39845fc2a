/**
 * Loopback ports for the servers this project starts: the control plane, the dev server, a test's
 * proxy. A port found free with `listen(0)` is in the kernel's ephemeral range: between closing it
 * and a child process binding it, or while a server is down for a restart on it, any `listen(0)` or
 * outgoing connection on the machine can take it. Ports from here lie outside that range (the
 * kernel never hands them out), and a lock file per port under `$TMPDIR/edge-upgrade-ports` keeps
 * two processes from picking the same one. A reservation lasts until {@link releasePort}, or until
 * its process is gone (a lock whose process no longer runs is taken over).
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Lowest port handed out: well above the registered services' usual ports. */
const LOWEST = 10_000;
/** At least this many ports must lie outside the ephemeral range on one side. */
const ENOUGH = 1_000;
const TRIES = 500;

const lockDir = join(tmpdir(), 'edge-upgrade-ports');
const held = new Set<number>();
let exitHook = false;

/** The kernel's ephemeral port range (`/proc/sys/net/ipv4/ip_local_port_range`), or Linux's default. */
export function ephemeralRange(text?: string): [number, number] {
  try {
    const [lo, hi] = (text ?? readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi) && lo! <= hi!) return [lo!, hi!];
  } catch {
    // Not Linux, or /proc is hidden: assume the default.
  }
  return [32_768, 60_999];
}

/** The ports {@link reservePort} picks from: below the ephemeral range, or above it when there is too little room below. */
export function reservableRange(ephemeral: [number, number] = ephemeralRange()): [number, number] {
  const [lo, hi] = ephemeral;
  if (lo - 1 - LOWEST >= ENOUGH) return [LOWEST, lo - 1];
  if (65_535 - (hi + 1) >= ENOUGH) return [hi + 1, 65_535];
  throw new Error(`the ephemeral port range ${lo}-${hi} leaves fewer than ${ENOUGH} ports outside it for test servers`);
}

/**
 * Reserves a port on 127.0.0.1 that is free now, lies outside the ephemeral range (or within
 * `range`, for tests of this module) and is held by no other process's reservation. The caller
 * binds it (itself or through a child process) and may rebind it after an outage;
 * {@link releasePort} gives it back.
 */
export async function reservePort(range: [number, number] = reservableRange()): Promise<number> {
  const [from, to] = range;
  mkdirSync(lockDir, { recursive: true });
  for (let i = 0; i < TRIES; i++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    if (held.has(port) || !lock(port)) continue;
    if (await bindable(port)) {
      held.add(port);
      installExitHook();
      return port;
    }
    unlock(port);
  }
  throw new Error(`no free loopback port in ${from}-${to} after ${TRIES} tries`);
}

/** Gives back a port from {@link reservePort}; a port this process does not hold is ignored. */
export function releasePort(port: number): void {
  if (!held.delete(port)) return;
  unlock(port);
}

/** Who holds a lock: the PID and its start time (so a reused PID does not keep a stale lock). */
function owner(pid: number): string {
  try {
    // Field 22 of /proc/PID/stat, counted after the command name (which may contain spaces).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return `${pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
  } catch {
    return String(pid);
  }
}

function alive(recorded: string): boolean {
  const pid = Number(recorded.split(' ')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  return owner(pid) === recorded || (recorded === String(pid) && pidExists(pid));
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the port's lock file, or a stale one; false when a live process holds it. */
function lock(port: number): boolean {
  const file = join(lockDir, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, owner(process.pid));
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let recorded = '';
      try {
        recorded = readFileSync(file, 'utf8').trim();
      } catch {
        continue; // released meanwhile: try again
      }
      // An empty file is a lock being written right now.
      if (recorded === '' || alive(recorded)) return false;
      try {
        unlinkSync(file);
      } catch {
        // Another process took the stale lock over first; the next openSync says who won.
      }
    }
  }
  return false;
}

function unlock(port: number): void {
  try {
    unlinkSync(join(lockDir, String(port)));
  } catch {
    // Already gone.
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Removes this process's locks when it exits normally (a killed process's locks are stale and taken over). */
function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const port of held) unlock(port);
  });
}
