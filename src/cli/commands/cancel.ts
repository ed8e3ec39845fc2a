/** `edge-upgrade cancel`: only while paused; started nodes finish, this upgrade's cordons are removed. */
import { Command } from 'commander';
import { cancelUpgrade, getProgress, upgradeClosedAs, upgradeHandle } from '../../api.js';
import { summarize } from '../../planning/summary.js';
import { EXIT_FAILED, print, type CliContext } from '../context.js';
import { clusterOption } from '../options.js';
import { waitUntilEnded } from '../watch.js';
import { requireWorker } from '../worker-check.js';

/** The `cancel` command (an Update: refused unless paused); with --wait, exit 1 unless it ended cancelled. */
export function cancelCommand(ctx: CliContext): Command {
  return new Command('cancel')
    .description('cancel a paused upgrade (started nodes finish, our cordons are removed)')
    .addOption(clusterOption())
    .option('--wait', 'wait until the upgrade has ended and say how (exit 1 unless cancelled)')
    .action(async (o) => {
      const client = await ctx.client();
      await requireWorker(client);
      const p = await cancelUpgrade(client, o.cluster);
      const handle = upgradeHandle(client, o.cluster);
      const workflowId = handle.workflowId;
      if (!o.wait) {
        const next = 'nodes already started finish, then the cordons this upgrade made are removed; nothing is rolled back';
        return print(ctx, p, `cancel: ${workflowId}: ${summarize(p)}\ncancel accepted: ${next}`);
      }
      // A workflow terminated (or timed out) after the cancel was accepted never reaches a final state: say so rather than wait forever.
      const closedAs = () => upgradeClosedAs(client, o.cluster);
      const { progress: final, as } = await waitUntilEnded(() => getProgress(client, o.cluster), closedAs);
      const ended = as === 'cancelled' ? 'cancelled' : `cancel accepted, but the upgrade ended ${as}`;
      print(ctx, final, `${ended}: ${workflowId}: ${summarize(final)}`);
      if (as !== 'cancelled') ctx.exitCode = EXIT_FAILED;
    });
}
