/**
 * Runs the real `edge-upgrade` bin (bin/edge-upgrade.js → dist/) as a child process. Jest's global
 * setup (test/global-setup.mjs) brings dist/ up to date first, so the bin never runs stale code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/edge-upgrade.js', import.meta.url));

/**
 * The agent image the CLI's workers are configured with (EDGE_UPGRADE_IMAGE) unless a test says
 * otherwise: the allow-list wants one, pinned by digest. The simulator runs any image.
 */
export const TEST_UPGRADE_IMAGE = `example.invalid/edge-upgrade/agent@sha256:${'0'.repeat(64)}`;

/** The result of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `edge-upgrade ...args` with `env` added; resolves when it exits (or kills it after `timeoutMs`). */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, EDGE_UPGRADE_IMAGE: TEST_UPGRADE_IMAGE, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/**
 * Starts a long-running CLI command (e.g. `worker`); stop it with `child.kill('SIGTERM')`. With
 * `viaShebang`, runs the bin itself, as `edge-upgrade` and the image run it, so the settings of its
 * #! line apply (with this Node first on PATH); otherwise `node bin/edge-upgrade.js`.
 */
export function spawnCli(
  args: string[],
  env: Record<string, string> = {},
  opts: { viaShebang?: boolean } = {},
): { child: ChildProcess; output: () => string } {
  const path = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
  const [cmd, argv] = opts.viaShebang ? [bin, args] : [process.execPath, [bin, ...args]];
  const child = spawn(cmd, argv, {
    cwd: root,
    env: { ...process.env, PATH: path, EDGE_UPGRADE_IMAGE: TEST_UPGRADE_IMAGE, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

/** A spawned `edge-upgrade worker`; see {@link spawnWorker}. */
export interface SpawnedWorker {
  output(): string;
  /** Stops it by its PID (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `edge-upgrade worker` with `env` added. A worker that dies before `stop()` would make every
 * later test time out, so its exit is reported at once, with the end of its output.
 */
export function spawnWorker(env: Record<string, string>): SpawnedWorker {
  const { child, output } = spawnCli(['worker'], env);
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`edge-upgrade worker exited (${code ?? signal}):\n${output().slice(-3000)}`);
  });
  return {
    output,
    async stop() {
      stopping = true;
      await stopCli(child);
    },
  };
}

/** Stops a spawned CLI process by its PID and waits for it to exit. */
export async function stopCli(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

/** A refusal: non-zero exit, exactly one line on stderr matching `pattern`, no stack trace. */
export function expectRefusal(r: CliResult, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^edge-upgrade: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr + r.stdout).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
}
