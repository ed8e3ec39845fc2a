/** `edge-upgrade worker`: runs a worker with the clusters and Temporal settings from --config and the environment. */
import { Command } from 'commander';
import { loadWorkerConfig } from '../../config.js';
import type { CliContext } from '../context.js';

/** The `worker` command; runs until SIGINT/SIGTERM. */
export function workerCommand(ctx: CliContext): Command {
  return new Command('worker')
    .description('run a worker: clusters and Temporal settings from --config and the environment')
    .action(async () => {
      // Loaded on use: the worker pulls in the SDK's native runtime, which other commands never need.
      const { runWorkerCommand } = await import('../worker-command.js');
      const config = loadWorkerConfig(ctx.globals.config ?? process.env.EDGE_UPGRADE_CONFIG);
      if (ctx.globals.address) config.temporal.address = ctx.globals.address;
      if (ctx.globals.namespace) config.temporal.namespace = ctx.globals.namespace;
      await runWorkerCommand(config);
    });
}
