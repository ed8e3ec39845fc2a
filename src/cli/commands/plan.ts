/** `edge-upgrade plan`: the plan the workflow will follow, with node names (dry run). */
import { Command } from 'commander';
import { planNodes } from '../../planning/plan.js';
import { validateUpgradeRequest } from '../../planning/request.js';
import { parseVersion } from '../../planning/versions.js';
import { print, type CliContext } from '../context.js';
import { inspect } from '../inspect.js';
import { clusterOption, maxPercentOption, requestFrom, toOption } from '../options.js';
import { planView, renderPlan } from '../render.js';

/** The `plan` command: reads the cluster through the worker and prints planning/plan.ts's plan for it. */
export function planCommand(ctx: CliContext): Command {
  return new Command('plan')
    .description('show the batch schedule with node names (dry run)')
    .addOption(clusterOption())
    .addOption(toOption())
    .addOption(maxPercentOption())
    .action(async (o) => {
      const v = validateUpgradeRequest(requestFrom(o));
      const res = await inspect(ctx, v.request.clusterId, v.targetVersion, false);
      const plan = planNodes(res.inventory, parseVersion(v.targetVersion));
      const view = planView(plan, v.targetVersion, v.maxBatchPercent);
      print(ctx, view, renderPlan(view, plan));
    });
}
