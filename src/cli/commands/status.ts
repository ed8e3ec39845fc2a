/** `edge-upgrade status`: an upgrade's progress, once or (--watch) live until it ends. */
import { Command } from 'commander';
import { getProgress, STATUS_PATIENCE_MS, upgradeClosedAs } from '../../api.js';
import { summarize } from '../../planning/summary.js';
import { EXIT_FAILED, print, type CliContext } from '../context.js';
import { clusterOption } from '../options.js';
import { renderDetails } from '../render.js';
import { watchProgress } from '../watch.js';

/**
 * The `status` command; with --watch, exit 1 unless the upgrade succeeded with every node upgraded
 * (a workflow terminated or timed out ends the watch too, saying so).
 */
export function statusCommand(ctx: CliContext): Command {
  return new Command('status')
    .description("show an upgrade's progress")
    .addOption(clusterOption())
    .option('--watch', 'follow live with progress bars until it ends')
    .action(async (o) => {
      const client = await ctx.client();
      // A slow query (the worker busy starting a large batch) gives way to the run's published progress.
      const read = () => getProgress(client, o.cluster, { patienceMs: STATUS_PATIENCE_MS });
      if (o.watch && !ctx.globals.json) {
        const final = await watchProgress(read, { out: ctx.stdout, closedAs: () => upgradeClosedAs(client, o.cluster) });
        // Terminated or timed out (not final), or a partial success (workers deferred past the defer timeout,
        // or quarantined) is no success for scripts.
        if (final.state !== 'succeeded' || final.partial) ctx.exitCode = EXIT_FAILED;
        return;
      }
      const p = await read();
      print(ctx, p, [summarize(p), ...renderDetails(p)].join('\n'));
    });
}
