/** What every command gets: the global options, where to write, a lazily connected client, and the exit code. */
import type { Client } from '@temporalio/client';
import type { ConnectOptions } from './connect.js';

/** Exit code for a refusal or a failure. */
export const EXIT_FAILED = 1;
/** Exit code for bad usage (unknown command or option, a malformed option value). */
export const EXIT_USAGE = 2;

/** The program's own options (before the command name). */
export interface Globals extends ConnectOptions {
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

/** Prints `json` (pretty, stable for scripts) with `--json`, else `text`. */
export function print(ctx: CliContext, json: unknown, text: string): void {
  ctx.stdout.write(ctx.globals.json ? JSON.stringify(json, null, 2) + '\n' : text + '\n');
}
