/** `edge-upgrade resume`: failed upgrade pods are deleted, then the failed node goes first. */
import { Command } from 'commander';
import { resumeUpgrade, upgradeHandle } from '../../api.js';
import { summarize } from '../../planning/summary.js';
import { print, type CliContext } from '../context.js';
import { clusterOption } from '../options.js';
import { requireWorker } from '../worker-check.js';

/** The `resume` command (an Update: refused with a reason unless paused). */
export function resumeCommand(ctx: CliContext): Command {
  return new Command('resume')
    .description('resume a paused upgrade (failed pods are deleted, the failed node goes first)')
    .addOption(clusterOption())
    .action(async (o) => {
      const client = await ctx.client();
      await requireWorker(client);
      const p = await resumeUpgrade(client, o.cluster);
      print(ctx, p, `resume: ${upgradeHandle(client, o.cluster).workflowId}: ${summarize(p)}`);
    });
}
