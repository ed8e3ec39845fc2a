/**
 * Quiet test output: the Temporal SDK's logger (worker lines, the workflow bundler's webpack stats)
 * prints only errors unless EDGE_UPGRADE_TEST_LOGS=1, so a failing test stands out. Lines are
 * formatted as the real worker formats them (src/worker.ts), and a test can read them.
 */
import { DefaultLogger, Runtime, type RuntimeOptions } from '@temporalio/worker';
import { formatLogEntry } from '../../src/worker.js';

/** True when EDGE_UPGRADE_TEST_LOGS=1: print every worker log line and the tests' own notes. */
export const SHOW_TEST_LOGS = process.env.EDGE_UPGRADE_TEST_LOGS === '1';

const lines: string[] = [];
let installed = false;

/**
 * Installs the SDK runtime of this test file with the quiet logger, plus `options` (a benchmark's
 * telemetry filter); call it before anything creates the runtime (startDevServer does). Later
 * calls do nothing.
 */
export function installTestRuntime(options: Omit<RuntimeOptions, 'logger'> = {}): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    ...options,
    logger: new DefaultLogger('INFO', (entry) => {
      const line = formatLogEntry(entry, 'INFO');
      lines.push(line);
      if (SHOW_TEST_LOGS || entry.level === 'ERROR') process.stderr.write(line + '\n');
    }),
  });
}

/** Every worker log line of this test file so far (the live array), at INFO and above. */
export function workerLogLines(): readonly string[] {
  installTestRuntime();
  return lines;
}

/** Prints a test's own note (a duration, what it saw) only when EDGE_UPGRADE_TEST_LOGS=1. */
export function note(message: string): void {
  if (SHOW_TEST_LOGS) process.stderr.write(message + '\n');
}
