/** `edge-upgrade start`: starts an upgrade and stays until the pre-check has decided (or, with --wait, to the end). */
import type { Client } from '@temporalio/client';
import { Command, Option } from 'commander';
import { getProgress, startUpgrade, STATUS_PATIENCE_MS, upgradeClosedAs } from '../../api.js';
import { readInFlight } from '../../in-flight.js';
import { summarize } from '../../planning/summary.js';
import type { UpgradeRequest } from '../../planning/types.js';
import { exitCodeFor, print, type CliContext } from '../context.js';
import { clusterOption, requestFrom, requestOptions, toOption, waitLimits, waitOptions, withOptions, type WaitLimits } from '../options.js';
import { renderPrecheck } from '../render.js';
import { patient, pausedHint, waitPastPrecheck, watchProgress } from '../watch.js';
import { requireWorker } from '../worker-check.js';

/** The `start` command; with --wait, the exit code says how the upgrade ended (see context.ts exitCodeFor). */
export function startCommand(ctx: CliContext): Command {
  const cmd = new Command('start').description('start an upgrade (pre-check runs first)').addOption(clusterOption()).addOption(toOption());
  const wait = new Option('--wait', 'wait for the upgrade to finish, showing progress');
  return withOptions(cmd, [...requestOptions(), wait, ...waitOptions()]).action(async (o) => {
    const req = requestFrom(o);
    const client = await ctx.client();
    await requireWorker(client);
    if (o.wait) await startAndWatch(ctx, client, req, waitLimits(o));
    else await startAndConfirm(ctx, client, req);
  });
}

/**
 * Starts, then stays until the pre-check has decided, so an unknown cluster, a downgrade or a failed
 * pre-check is this command's refusal rather than a surprise in `status` later.
 */
async function startAndConfirm(ctx: CliContext, client: Client, req: UpgradeRequest): Promise<void> {
  const handle = await startUpgrade(client, req);
  const p = await waitPastPrecheck(patient(() => getProgress(client, req.clusterId)));
  if (p.state === 'failed' && p.precheck.items.length && !ctx.globals.json) ctx.stdout.write(renderPrecheck(p.precheck) + '\n');
  if (p.state === 'failed') throw new Error(`${handle.workflowId} refused: ${p.failure ?? 'see edge-upgrade status'}`);
  const json = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, progress: p };
  print(ctx, json, `started ${handle.workflowId} (${req.clusterId} → ${req.targetVersion}): ${summarize(p)}`);
}

/** Starts and follows to the end: progress on stdout, or on stderr with the final progress as JSON on stdout. */
async function startAndWatch(ctx: CliContext, client: Client, req: UpgradeRequest, limits: WaitLimits): Promise<void> {
  await startUpgrade(client, req);
  const json = ctx.globals.json ?? false;
  const watch = {
    tty: json ? false : undefined,
    out: json ? ctx.stderr : ctx.stdout,
    closedAs: () => upgradeClosedAs(client, req.clusterId),
    ...limits,
    inFlight: () => readInFlight(client, req.clusterId),
  };
  // Patient from the first read: the run was just started.
  const ended = await watchProgress(
    patient(() => getProgress(client, req.clusterId, { patienceMs: STATUS_PATIENCE_MS })),
    watch,
  );
  if (json) print(ctx, ended.progress, '');
  if (ended.as === 'paused') watch.out.write(pausedHint(req.clusterId));
  ctx.exitCode = exitCodeFor(ended);
}
