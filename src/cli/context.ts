/** What every command gets: the global options, where to write, a lazily connected client, and the exit code. */
import type { Client } from '@temporalio/client';
import { stringify as stringifyYaml } from 'yaml';
import type { ConnectOptions } from './connect.js';

/** Exit code for a refusal or a failure (an upgrade failed, cancelled or terminated). */
export const EXIT_FAILED = 1;
/** Exit code for bad usage (unknown command or option, a malformed option value). */
export const EXIT_USAGE = 2;
/** Exit code of `start --wait` and `status --watch` when the upgrade paused (not for the maintenance window). */
export const EXIT_PAUSED = 3;
/** Exit code of `start --wait` and `status --watch` when the upgrade succeeded with workers deferred or quarantined. */
export const EXIT_PARTIAL = 4;
/** Exit code of `start --wait` and `status --watch` when their `--timeout` ran out first. */
export const EXIT_TIMEOUT = 5;

/**
 * The exit code for where a watch ended (../cli/watch.ts `Ended`): 0 succeeded with every node
 * upgraded, 3 paused, 4 succeeded partially, 5 timed out, 1 anything else (failed, cancelled, terminated).
 */
export function exitCodeFor(ended: { progress: { partial?: boolean }; as: string }): number {
  if (ended.as === 'succeeded') return ended.progress.partial ? EXIT_PARTIAL : 0;
  if (ended.as === 'paused') return EXIT_PAUSED;
  if (ended.as === 'timeout') return EXIT_TIMEOUT;
  return EXIT_FAILED;
}

/** What `-o/--output` takes: text for people, json or yaml for scripts (the same document). */
export const OUTPUT_FORMATS = ['text', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The program's own options (before the command name). */
export interface Globals extends ConnectOptions {
  /** `-o/--output`; `--json` is `-o json`. */
  output?: OutputFormat;
  /** True for machine output (`-o json` or `-o yaml`): commands then keep stdout for the document alone. */
  json?: boolean;
}

/** Shared by all commands of one CLI run; `main()` returns `exitCode` once the command is done. */
export interface CliContext {
  /** Filled from the program's options just before a command's action runs. */
  globals: Globals;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Connects on first use, so usage errors never touch the network. */
  client(): Promise<Client>;
  exitCode: number;
}

/** Prints `json` (the stable document for scripts) as JSON or YAML with `-o json|yaml` (or `--json`), else `text`. */
export function print(ctx: CliContext, json: unknown, text: string): void {
  const out = ctx.globals.output === 'yaml' ? stringifyYaml(json) : ctx.globals.json ? JSON.stringify(json, null, 2) + '\n' : text + '\n';
  ctx.stdout.write(out);
}
