/** `edge-upgrade precheck`: runs the pre-check against the cluster and prints the report (touches nothing). */
import { Command } from 'commander';
import { EXIT_FAILED, print, type CliContext } from '../context.js';
import { inspect } from '../inspect.js';
import { validateUpgradeRequest } from '../../planning/request.js';
import { clusterOption, drainTimeoutOption, probeOptions, requestFrom, toOption, viaOption, withOptions } from '../options.js';
import { renderPrecheck } from '../render.js';

/** The `precheck` command; exit 1 when the pre-check has errors. */
export function precheckCommand(ctx: CliContext): Command {
  const cmd = new Command('precheck')
    .description('run the pre-check against the cluster, node probes included (changes nothing on the nodes)')
    .addOption(clusterOption())
    .addOption(toOption())
    .addOption(viaOption())
    .addOption(drainTimeoutOption());
  return withOptions(cmd, probeOptions()).action(async (o) => {
    const v = validateUpgradeRequest(requestFrom(o));
    const probes = v.nodeProbes.enabled ? { concurrency: v.nodeProbes.concurrency, timeoutMs: v.nodeProbes.timeoutMs } : undefined;
    const res = await inspect(ctx, v.request.clusterId, v.targetVersion, true, v.request.via, probes, v.drainTimeoutMs);
    const report = res.precheck!;
    print(ctx, report, renderPrecheck(report));
    if (report.status === 'failed') ctx.exitCode = EXIT_FAILED;
  });
}
