/**
 * The `edge-upgrade` CLI's entry point: bin/edge-upgrade.js calls {@link main}. The program and its
 * commands are in ./cli. Errors print one line (no stack traces) and give a non-zero exit code.
 */
import { CommanderError } from 'commander';
import { closest, distance } from 'fastest-levenshtein';
import type { Client } from '@temporalio/client';
import { connectClient } from './cli/connect.js';
import { EXIT_FAILED, EXIT_USAGE, type CliContext } from './cli/context.js';
import { buildProgram, READ_ONLY_COMMANDS } from './cli/program.js';

/** Where {@link main} writes; tests pass their own streams. */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/**
 * Runs the CLI with `argv` (as in `process.argv`: node, script, then the arguments) and resolves
 * with the exit code: 0 done, 1 refused or failed, 2 bad usage. Closes the Temporal connection it opened.
 */
export async function main(argv: string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let client: Client | undefined;
  const ctx: CliContext = {
    globals: {},
    ...io,
    client: async () => (client ??= await connectClient(ctx.globals)),
    exitCode: 0,
  };
  try {
    await buildProgram(ctx).parseAsync(argv);
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      // Commander puts its suggestion on a second line ("(Did you mean start?)"): keep it, on the same line.
      let message = err.message
        .replace(/^error: /, '')
        .replace(/\s*\n\s*/g, ' ')
        .trim();
      if (err.code === 'commander.unknownCommand') message = withSafeSuggestion(message);
      io.stderr.write(`edge-upgrade: ${message} (see edge-upgrade --help)\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`edge-upgrade: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
    return EXIT_FAILED;
  } finally {
    await client?.connection.close().catch(() => {});
  }
}

/**
 * An unknown command's message with a suggestion that changes nothing: commander suggests the
 * closest command, and for `stat` that is `start`. Keep its suggestion when it only reads; else
 * suggest the closest read-only command (within two edits, or one the typed name begins), or none.
 */
function withSafeSuggestion(message: string): string {
  const m = /^unknown command '([^']*)'(?: \(Did you mean ([^?]+)\?\))?/.exec(message);
  if (!m) return message;
  const [, typed, suggested] = m;
  if (suggested && READ_ONLY_COMMANDS.includes(suggested)) return message;
  const near = READ_ONLY_COMMANDS.filter((c) => (typed!.length >= 2 && c.startsWith(typed!)) || distance(typed!, c) <= 2);
  const best = near.length ? closest(typed!, near) : undefined;
  return `unknown command '${typed}'${best ? ` (Did you mean ${best}?)` : ''}`;
}

/** The first line of `message` (the CLI never prints more than one line per error). */
function oneLine(message: string): string {
  return message.split('\n')[0]!.trim() || 'unknown error';
}
