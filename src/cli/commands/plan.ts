/** `edge-upgrade plan`: the plan the workflow will follow, with node names (dry run). */
import { Command, Option } from 'commander';
import { needsHops, planHops } from '../../planning/hops.js';
import { planNodes } from '../../planning/plan.js';
import { failureBudget, validateUpgradeRequest } from '../../planning/request.js';
import { parseVersion } from '../../planning/versions.js';
import { print, type CliContext } from '../context.js';
import { inspect } from '../inspect.js';
import { clusterOption, maxPercentOption, requestFrom, toOption, viaOption } from '../options.js';
import { planView, withHops } from '../../planning/plan-view.js';
import { renderPlan } from '../render.js';

/** The `plan` command: reads the cluster through the worker and prints planning/plan.ts's plan for it. */
export function planCommand(ctx: CliContext): Command {
  return new Command('plan')
    .description('show the batch schedule with node names (dry run)')
    .addOption(clusterOption())
    .addOption(toOption())
    .addOption(maxPercentOption())
    .addOption(new Option('--defer-offline', 'plan as start --defer-offline would'))
    .addOption(new Option('--max-failures <n|p%>', 'plan with this failure budget'))
    .addOption(new Option('--gate-stable-for <duration>', 'plan with this health gate (0: none)'))
    .addOption(new Option('--gate-timeout <duration>', 'plan with this health-gate timeout'))
    .addOption(new Option('--gate-check <name...>', 'plan with these extra health-gate checks'))
    .addOption(viaOption())
    .action(async (o) => {
      const v = validateUpgradeRequest(requestFrom(o));
      const res = await inspect(ctx, v.request.clusterId, v.targetVersion, false);
      const plan = planNodes(res.inventory, parseVersion(v.targetVersion));
      const workers = res.inventory.nodes.filter((n) => n.kind === 'worker');
      const settings = {
        percent: v.maxBatchPercent,
        deferOffline: v.offline === 'defer',
        failureBudget: failureBudget(v.maxFailures, workers.length),
        gate: v.gate.stableForMs > 0 ? { stableForMs: v.gate.stableForMs, timeoutMs: v.gate.timeoutMs, checks: v.gate.checks } : null,
        cloudNodeLabel: res.inventory.cloudNodeLabel ?? null,
      };
      let view = planView(
        plan,
        v.targetVersion,
        settings,
        workers.filter((n) => !n.ready).map((n) => n.name),
      );
      const inv = res.inventory;
      // A multi-minor target: the hops the workflow would take, or the one-line refusal it would give.
      if (needsHops(parseVersion(v.targetVersion), parseVersion(inv.controlPlaneVersion, 'controlPlaneVersion'))) {
        const hops = planHops({
          controlPlane: inv.controlPlaneVersion,
          target: v.targetVersion,
          nodes: inv.nodes,
          via: v.request.via,
          configured: inv.versions,
        });
        view = withHops(view, plan, hops, v.maxBatchPercent);
      }
      print(ctx, view, renderPlan(view, plan));
    });
}
