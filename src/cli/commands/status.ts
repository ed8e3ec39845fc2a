/** `edge-upgrade status`: an upgrade's progress, once or (--watch) live until it ends. */
import { Command } from 'commander';
import { getProgress, STATUS_PATIENCE_MS, upgradeClosedAs } from '../../api.js';
import { readInFlight } from '../../in-flight.js';
import { summarize } from '../../planning/summary.js';
import { isFinal } from '../../planning/types.js';
import { exitCodeFor, print, type CliContext } from '../context.js';
import { clusterOption, waitLimits, waitOptions, withOptions } from '../options.js';
import { renderDetails, renderInFlight } from '../render.js';
import { pausedHint, watchProgress } from '../watch.js';
import { explainingNoWorker } from '../worker-check.js';

/**
 * The `status` command: the progress, and each node step in flight with what it waits on (with
 * `-o json`, the progress query's document plus `inFlight`); with --watch, the exit code says how
 * the watch ended (see context.ts exitCodeFor: a pause, a partial success, a timeout, a workflow
 * terminated or timed out).
 */
export function statusCommand(ctx: CliContext): Command {
  const cmd = new Command('status')
    .description("show an upgrade's progress")
    .addOption(clusterOption())
    .option('--watch', 'follow live with progress bars until it ends');
  return withOptions(cmd, waitOptions()).action(async (o) => {
    const client = await ctx.client();
    // A slow query (the worker busy starting a large batch) gives way to the run's published progress.
    const read = explainingNoWorker(client, () => getProgress(client, o.cluster, { patienceMs: STATUS_PATIENCE_MS }));
    if (o.watch && !ctx.globals.json) {
      const ended = await watchProgress(read, {
        out: ctx.stdout,
        closedAs: () => upgradeClosedAs(client, o.cluster),
        ...waitLimits(o),
        inFlight: () => readInFlight(client, o.cluster),
      });
      if (ended.as === 'paused') ctx.stdout.write(pausedHint(o.cluster));
      ctx.exitCode = exitCodeFor(ended);
      return;
    }
    const p = await read();
    // What each node in flight waits on, from its step's heartbeats (none once it has ended, or if unreadable).
    const inFlight = isFinal(p.state) ? [] : await readInFlight(client, o.cluster).catch(() => []);
    print(ctx, { ...p, inFlight }, [summarize(p), ...renderDetails(p), ...renderInFlight(inFlight)].join('\n'));
  });
}
