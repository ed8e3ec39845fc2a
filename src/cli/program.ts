/**
 * The `edge-upgrade` program: global options, then one command per file in ./commands, attached with
 * `addCommand`. Every command prints one clear line on refusal or error; `--json` output is stable.
 */
import tab from '@bomb.sh/tab/commander';
import { Command, Option } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cancelCommand } from './commands/cancel.js';
import { demoCommand } from './commands/demo.js';
import { listCommand } from './commands/list.js';
import { pauseCommand } from './commands/pause.js';
import { planCommand } from './commands/plan.js';
import { precheckCommand } from './commands/precheck.js';
import { resumeCommand } from './commands/resume.js';
import { retryQuarantinedCommand } from './commands/retry-quarantined.js';
import { scheduleCommand } from './commands/schedule.js';
import { startCommand } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { workerCommand } from './commands/worker.js';
import { OUTPUT_FORMATS, type CliContext, type Globals, type OutputFormat } from './context.js';
import { examplesText } from './examples.js';

/** The commands in the order `--help` lists them. */
const COMMANDS = [
  precheckCommand,
  planCommand,
  startCommand,
  statusCommand,
  listCommand,
  pauseCommand,
  resumeCommand,
  retryQuarantinedCommand,
  cancelCommand,
  scheduleCommand,
  workerCommand,
  demoCommand,
];

/**
 * The commands that change nothing (and `help`): the only ones a mistyped command name is told it
 * may have meant, so a typo never leads to a command that starts, pauses or cancels an upgrade.
 */
export const READ_ONLY_COMMANDS: readonly string[] = ['precheck', 'plan', 'status', 'list', 'completion', 'help'];

/** Builds the program. Usage errors throw a CommanderError (exitOverride) and print nothing themselves. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('edge-upgrade')
    .description('Upgrade the Kubernetes version of edge clusters safely, as a durable Temporal workflow')
    .option('--address <host:port>', 'Temporal frontend (default $TEMPORAL_ADDRESS or 127.0.0.1:7233)')
    .option('--namespace <ns>', 'Temporal namespace (default $TEMPORAL_NAMESPACE or default)')
    .option('--config <file>', 'configuration file (default $EDGE_UPGRADE_CONFIG)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('text'))
    .option('--json', 'machine-readable output (the same as -o json)')
    .version(`edge-upgrade ${packageVersion()}`, '--version', 'print the version and exit')
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.stdout.write(s), writeErr: (s) => ctx.stderr.write(s), outputError: () => {} });
  program.hook('preAction', (cmd) => {
    const opts = cmd.opts<Globals>();
    const output: OutputFormat = opts.json ? 'json' : (opts.output ?? 'text');
    Object.assign(ctx.globals, opts, { output, json: output !== 'text' });
  });
  for (const command of COMMANDS) program.addCommand(command(ctx));
  // `completion bash|zsh|fish|powershell` prints the shell's script; it asks the hidden `complete -- …` for words.
  tab(program, { completionCommandName: 'completion' });
  program.commands.find((c) => c.name() === 'completion')?.description('print the shell completion script (bash, zsh, fish, powershell)');
  inheritSettings(program);
  return program;
}

/** The version in the package.json above this module (src/ or dist/ alike); '0.0.0' when there is none. */
export function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'edge-upgrade') return pkg.version ?? '0.0.0';
  }
  return '0.0.0';
}

/**
 * `addCommand` (unlike `.command()`) does not pass the parent's settings on: give every command in
 * the tree the program's exitOverride, output, help and suggestion settings, and its examples.
 */
function inheritSettings(parent: Command, path = ''): void {
  for (const child of parent.commands) {
    const childPath = path ? `${path} ${child.name()}` : child.name();
    child.copyInheritedSettings(parent);
    const examples = examplesText(childPath);
    if (examples) child.addHelpText('after', examples);
    inheritSettings(child, childPath);
  }
}
