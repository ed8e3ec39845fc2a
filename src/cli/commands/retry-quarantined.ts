/** `edge-upgrade retry-quarantined`: retry the quarantined workers of a running upgrade (failure budget). */
import { Command } from 'commander';
import { retryQuarantined, upgradeHandle } from '../../api.js';
import { summarize } from '../../planning/summary.js';
import { print, type CliContext } from '../context.js';
import { clusterOption } from '../options.js';
import { requireWorker } from '../worker-check.js';

/** The `retry-quarantined` command (an Update: refused unless running with quarantined workers). */
export function retryQuarantinedCommand(ctx: CliContext): Command {
  return new Command('retry-quarantined')
    .description('retry the quarantined workers first (their failed pods are deleted); while paused, resume does this')
    .addOption(clusterOption())
    .action(async (o) => {
      const client = await ctx.client();
      await requireWorker(client);
      const p = await retryQuarantined(client, o.cluster);
      print(ctx, p, `retry-quarantined: ${upgradeHandle(client, o.cluster).workflowId}: ${summarize(p)}`);
    });
}
