/** `edge-upgrade schedule create|list|delete`: maintenance triggers as Temporal Schedules. */
import { Command, InvalidArgumentError } from 'commander';
import { print, type CliContext } from '../context.js';
import { clusterOption, requestFrom, requestOptions, toOption, withOptions } from '../options.js';
import { table } from '../render.js';
import { createSchedule, deleteSchedule, listSchedules, scheduleIdFor } from '../schedules.js';

/** The `schedule` command and its subcommands. */
export function scheduleCommand(ctx: CliContext): Command {
  return new Command('schedule')
    .description('maintenance triggers as Temporal Schedules')
    .addCommand(createCommand(ctx))
    .addCommand(listCommand(ctx))
    .addCommand(deleteCommand(ctx));
}

/** `schedule create`: takes the same request options as `start`. */
function createCommand(ctx: CliContext): Command {
  const cmd = new Command('create')
    .description('start an upgrade on a cron schedule (overlapping triggers are skipped)')
    .addOption(clusterOption())
    .addOption(toOption())
    .requiredOption('--cron <expr>', 'cron expression, e.g. "0 2 * * 6" for Saturdays 02:00')
    .option('--timezone <tz>', 'IANA time zone of the cron expression', 'UTC')
    .option('--id <scheduleId>', 'schedule ID (default edge-upgrade-schedule-<cluster>)');
  return withOptions(cmd, requestOptions())
    .option('--trigger-now', 'also fire once now')
    .action(async (o) => {
      const req = requestFrom(o);
      const opts = { scheduleId: o.id, cron: [o.cron], timezone: o.timezone, triggerImmediately: o.triggerNow };
      const id = await createSchedule(await ctx.client(), req, opts);
      print(ctx, { scheduleId: id }, `created schedule ${id}: ${req.clusterId} → ${req.targetVersion} at "${o.cron}" ${o.timezone}`);
    });
}

/** `schedule list`: the edge-upgrade schedules with their next run. */
function listCommand(ctx: CliContext): Command {
  return new Command('list').description('list edge-upgrade schedules').action(async () => {
    const list = await listSchedules(await ctx.client());
    const header = ['SCHEDULE', 'CLUSTER', 'TARGET', 'CRON', 'TZ', 'NEXT RUN'];
    const rows = list.map((s) => [
      s.scheduleId,
      s.clusterId ?? '',
      s.targetVersion ?? '',
      s.cron.join(' | '),
      s.timezone ?? '',
      s.nextRun ?? '',
    ]);
    print(ctx, list, list.length ? table(header, rows) : 'no schedules');
  });
}

/** `schedule delete`: by --id, or the default ID of --cluster. */
function deleteCommand(ctx: CliContext): Command {
  return new Command('delete')
    .description('delete a schedule (running upgrades continue)')
    .option('--cluster <id>', 'delete edge-upgrade-schedule-<id>')
    .option('--id <scheduleId>', 'schedule ID')
    .action(async (o) => {
      const id = o.id ?? (o.cluster ? scheduleIdFor(o.cluster) : undefined);
      if (!id) throw new InvalidArgumentError('give --cluster <id> or --id <scheduleId>');
      await deleteSchedule(await ctx.client(), id);
      print(ctx, { deleted: id }, `deleted schedule ${id}`);
    });
}
