/**
 * Small process helpers for the local stack (control plane, dev server): free loopback ports,
 * child processes logged to files and stopped by PID, and readiness polling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Returns a port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A child process whose output goes to `logFile`. */
export interface Managed {
  name: string;
  child: ChildProcess;
  logFile: string;
}

/**
 * Starts `command args` with stdout and stderr appended to `logFile`. If this process exits
 * without stopping it, the child is killed too, so no server outlives its test or script.
 */
export function startProcess(name: string, command: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): Managed {
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
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

/** Stops a managed process by its PID: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(p: Managed, graceMs = 10_000): Promise<void> {
  const { child } = p;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
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
