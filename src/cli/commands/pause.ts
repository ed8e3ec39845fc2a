/** `edge-upgrade pause`: in-flight nodes finish, no new node starts until resume. */
import { Command } from 'commander';
import { pauseUpgrade, upgradeHandle } from '../../api.js';
import { summarize } from '../../planning/summary.js';
import { print, type CliContext } from '../context.js';
import { clusterOption } from '../options.js';
import { requireWorker } from '../worker-check.js';

/** The `pause` command (an Update: refused with a reason when the upgrade cannot pause). */
export function pauseCommand(ctx: CliContext): Command {
  return new Command('pause')
    .description('pause: in-flight nodes finish, no new node starts')
    .addOption(clusterOption())
    .option('--reason <text>', 'why, shown in status')
    .action(async (o) => {
      const client = await ctx.client();
      await requireWorker(client);
      const p = await pauseUpgrade(client, o.cluster, o.reason);
      print(ctx, p, `pause: ${upgradeHandle(client, o.cluster).workflowId}: ${summarize(p)}`);
    });
}
