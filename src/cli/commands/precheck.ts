/** `edge-upgrade precheck`: runs the pre-check against the cluster and prints the report (touches nothing). */
import { Command } from 'commander';
import { EXIT_FAILED, print, type CliContext } from '../context.js';
import { inspect } from '../inspect.js';
import { clusterOption, requestFrom, toOption, viaOption } from '../options.js';
import { renderPrecheck } from '../render.js';

/** The `precheck` command; exit 1 when the pre-check has errors. */
export function precheckCommand(ctx: CliContext): Command {
  return new Command('precheck')
    .description('run the pre-check against the cluster (touches nothing)')
    .addOption(clusterOption())
    .addOption(toOption())
    .addOption(viaOption())
    .action(async (o) => {
      const req = requestFrom(o);
      const res = await inspect(ctx, req.clusterId, req.targetVersion, true, req.via);
      const report = res.precheck!;
      print(ctx, report, renderPrecheck(report));
      if (report.status === 'failed') ctx.exitCode = EXIT_FAILED;
    });
}
