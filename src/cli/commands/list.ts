/** `edge-upgrade list`: every upgrade the Temporal namespace knows of, newest first. */
import { Command, Option } from 'commander';
import { LISTABLE_STATES, listUpgrades } from '../../api.js';
import { print, type CliContext } from '../context.js';
import { table } from '../render.js';

/** The `list` command, from the search attributes (no worker needed). */
export function listCommand(ctx: CliContext): Command {
  return new Command('list')
    .description('list upgrades, newest first (from the search attributes; no worker needed)')
    .addOption(new Option('--state <state>', 'only upgrades in this state').choices(LISTABLE_STATES))
    .action(async (o: { state?: (typeof LISTABLE_STATES)[number] }) => {
      const upgrades = await listUpgrades(await ctx.client(), { state: o.state });
      const header = ['CLUSTER', 'TARGET', 'PHASE', 'STATE', 'STARTED', 'PAUSED SINCE'];
      const rows = upgrades.map((u) => [u.clusterId, u.targetVersion, u.phase, u.state, u.startedAt, u.pausedSince ?? '']);
      print(ctx, upgrades, upgrades.length ? table(header, rows) : `no upgrades${o.state ? ` ${o.state}` : ''}`);
    });
}
