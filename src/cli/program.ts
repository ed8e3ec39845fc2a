/**
 * The `edge-upgrade` program: global options, then one command per file in ./commands, attached with
 * `addCommand`. Every command prints one clear line on refusal or error; `--json` output is stable.
 */
import { Command } from 'commander';
import { cancelCommand } from './commands/cancel.js';
import { demoCommand } from './commands/demo.js';
import { pauseCommand } from './commands/pause.js';
import { planCommand } from './commands/plan.js';
import { precheckCommand } from './commands/precheck.js';
import { resumeCommand } from './commands/resume.js';
import { retryQuarantinedCommand } from './commands/retry-quarantined.js';
import { scheduleCommand } from './commands/schedule.js';
import { startCommand } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { workerCommand } from './commands/worker.js';
import type { CliContext } from './context.js';

/** The commands in the order `--help` lists them. */
const COMMANDS = [
  precheckCommand,
  planCommand,
  startCommand,
  statusCommand,
  pauseCommand,
  resumeCommand,
  retryQuarantinedCommand,
  cancelCommand,
  scheduleCommand,
  workerCommand,
  demoCommand,
];

/** Builds the program. Usage errors throw a CommanderError (exitOverride) and print nothing themselves. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('edge-upgrade')
    .description('Upgrade the Kubernetes version of edge clusters safely, as a durable Temporal workflow')
    .option('--address <host:port>', 'Temporal frontend (default $TEMPORAL_ADDRESS or 127.0.0.1:7233)')
    .option('--namespace <ns>', 'Temporal namespace (default $TEMPORAL_NAMESPACE or default)')
    .option('--config <file>', 'configuration file (default $EDGE_UPGRADE_CONFIG)')
    .option('--json', 'machine-readable output')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.stdout.write(s), writeErr: (s) => ctx.stderr.write(s), outputError: () => {} });
  program.hook('preAction', (cmd) => {
    Object.assign(ctx.globals, cmd.opts());
  });
  for (const command of COMMANDS) program.addCommand(command(ctx));
  inheritSettings(program);
  return program;
}

/**
 * `addCommand` (unlike `.command()`) does not pass the parent's settings on: give every command in
 * the tree the program's exitOverride, output and suggestion settings.
 */
function inheritSettings(parent: Command): void {
  for (const child of parent.commands) {
    child.copyInheritedSettings(parent);
    inheritSettings(child);
  }
}
