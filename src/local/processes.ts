/**
 * Small process helpers for the local stack (control plane, dev server): child processes logged
 * to files and stopped by PID, and readiness polling. Ports come from ./ports.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A child process whose output goes to `logFile`. */
export interface Managed {
  name: string;
  child: ChildProcess;
  logFile: string;
}

/**
 * Starts `command args` with stdout and stderr appended to `logFile` (the child writes it itself,
 * so its log does not depend on this process reading a pipe), as `user` when given. If this process exits without
 * stopping it, the child is killed too, so no server outlives its test or script.
 */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
  user?: { uid: number; gid: number },
): Managed {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, { stdio: ['ignore', fd, fd], env: env ?? process.env, ...user });
  } finally {
    closeSync(fd);
  }
  live.add(child);
  child.on('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  return { name, child, logFile };
}

/** Stops a managed process by its PID: `signal` (SIGTERM by default), then SIGKILL after `graceMs`. */
export async function stopProcess(p: Managed, graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const { child } = p;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Last `lines` lines of a log file, for error messages. */
export function tailFile(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `probe` every `intervalMs` until it returns true. Fails early if `process` exits, and after
 * `timeoutMs` (milliseconds) with the process's log tail.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; process?: Managed },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const p = opts.process;
    if (p && (p.child.exitCode !== null || p.child.signalCode !== null)) {
      throw new Error(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) before ${what}:\n${tailFile(p.logFile)}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${p ? `:\n${tailFile(p.logFile)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}
