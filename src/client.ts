/**
 * The `edge-upgrade` CLI. Every command prints one clear line on refusal or error and exits
 * non-zero; no stack traces. `--json` output is stable for scripts.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { cancelUpgrade, getProgress, pauseUpgrade, resumeUpgrade, startUpgrade, upgradeHandle } from './api.js';
import { loadWorkerConfig } from './config.js';
import { connectClient, type ConnectOptions } from './cli/connect.js';
import { computePlan, renderDetails, renderPlan, renderPrecheck, table } from './cli/render.js';
import { createSchedule, deleteSchedule, listSchedules, scheduleIdFor } from './cli/schedules.js';
import { watchProgress } from './cli/watch.js';
import { validateUpgradeRequest } from './planning/request.js';
import { summarize } from './planning/summary.js';
import type { Progress, UpgradeRequest } from './planning/types.js';
import { TASK_QUEUE } from './workflows/definitions.js';
import type { inspectCluster } from './workflows/inspect-cluster.js';

/** Exit codes: 1 refused or failed, 2 bad usage. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const count = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
};

const percent = (v: string) => {
  const n = Number(v);
  if (!(n > 0 && n <= 100)) throw new InvalidArgumentError('expected a percentage above 0 and at most 100');
  return n;
};

interface Globals extends ConnectOptions {
  json?: boolean;
}

type Ctx = { globals: Globals; client: () => Promise<Client> };

function clusterOption(): Option {
  return new Option('--cluster <id>', 'cluster ID, as configured in the worker').makeOptionMandatory();
}

function toOption(): Option {
  return new Option('--to <version>', 'target Kubernetes version, e.g. v1.34.4').makeOptionMandatory();
}

function requestFrom(o: Record<string, unknown>): UpgradeRequest {
  const req: UpgradeRequest = { clusterId: String(o.cluster), targetVersion: String(o.to) };
  if (o.acceptWarnings) req.acceptWarnings = true;
  if (o.maxPercent !== undefined) req.batch = { maxPercent: o.maxPercent as number };
  if (o.pauseTimeout) req.pauseTimeout = String(o.pauseTimeout);
  if (o.drainTimeout) req.drainTimeout = String(o.drainTimeout);
  if (o.nodeTimeout) req.nodeTimeout = String(o.nodeTimeout);
  if (o.image) req.upgradeImage = String(o.image);
  if (o.window) {
    const m = /^(?:([a-z,]+)\s+)?(\d\d:\d\d(?::\d\d)?)-(\d\d:\d\d(?::\d\d)?)(?:\s+(\S+))?$/.exec(String(o.window).trim());
    if (!m) throw new InvalidArgumentError('--window expects "[days] HH:MM[:SS]-HH:MM[:SS] [timezone]", e.g. "sat,sun 02:00-05:00 Europe/Berlin"');
    req.window = { start: m[2]!, end: m[3]!, ...(m[1] ? { days: m[1].split(',') as never } : {}), ...(m[4] ? { timezone: m[4] } : {}) };
  }
  // Refuse bad input here, before anything is contacted.
  validateUpgradeRequest(req);
  return req;
}

function print(ctx: Ctx, json: unknown, text: string): void {
  process.stdout.write(ctx.globals.json ? JSON.stringify(json, null, 2) + '\n' : text + '\n');
}

async function inspect(ctx: Ctx, clusterId: string, targetVersion: string, runPrecheck: boolean) {
  const client = await ctx.client();
  try {
    return await client.workflow.execute<typeof inspectCluster>('inspectCluster', {
      taskQueue: TASK_QUEUE,
      workflowId: `edge-upgrade-inspect-${clusterId}-${Date.now()}`,
      args: [{ clusterId, targetVersion, runPrecheck }],
      workflowExecutionTimeout: '5 minutes',
    });
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    // The activity's own message (e.g. an unknown cluster or a broken kubeconfig), not "Workflow execution failed".
    let cause: unknown = err;
    while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
    throw new Error(`cannot read cluster ${clusterId}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** Polls progress until the pre-check phase is over (or the upgrade ended). */
async function waitPastPrecheck(read: () => Promise<Progress>, timeoutMs = 120_000): Promise<Progress> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await read();
    if (p.phase !== 'precheck' || p.state !== 'running' || Date.now() > deadline) return p;
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Polls progress until the upgrade is in a final state. */
async function waitUntilEnded(read: () => Promise<Progress>): Promise<Progress> {
  for (;;) {
    const p = await read();
    if (p.state === 'succeeded' || p.state === 'cancelled' || p.state === 'failed') return p;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Builds the program. `ctx.client()` connects lazily, so usage errors never touch the network. */
export function buildProgram(ctx: Ctx): Command {
  const program = new Command('edge-upgrade')
    .description('Upgrade the Kubernetes version of edge clusters safely, as a durable Temporal workflow')
    .option('--address <host:port>', 'Temporal frontend (default $TEMPORAL_ADDRESS or 127.0.0.1:7233)')
    .option('--namespace <ns>', 'Temporal namespace (default $TEMPORAL_NAMESPACE or default)')
    .option('--config <file>', 'configuration file (default $EDGE_UPGRADE_CONFIG)')
    .option('--json', 'machine-readable output')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  program.hook('preAction', (cmd) => {
    Object.assign(ctx.globals, cmd.opts());
  });

  program
    .command('precheck')
    .description('run the pre-check against the cluster (touches nothing)')
    .addOption(clusterOption())
    .addOption(toOption())
    .action(async (o) => {
      const req = requestFrom(o);
      const res = await inspect(ctx, req.clusterId, req.targetVersion, true);
      const report = res.precheck!;
      print(ctx, report, renderPrecheck(report));
      if (report.status === 'failed') process.exitCode = EXIT_FAILED;
    });

  program
    .command('plan')
    .description('show the batch schedule with node names (dry run)')
    .addOption(clusterOption())
    .addOption(toOption())
    .option('--max-percent <n>', 'largest batch as a percentage of the workers', percent)
    .action(async (o) => {
      const req = requestFrom(o);
      const res = await inspect(ctx, req.clusterId, req.targetVersion, false);
      const plan = computePlan(res.inventory, validateUpgradeRequest(req).targetVersion, req.batch?.maxPercent);
      print(ctx, plan, renderPlan(plan));
    });

  program
    .command('start')
    .description('start an upgrade (pre-check runs first)')
    .addOption(clusterOption())
    .addOption(toOption())
    .option('--accept-warnings', 'proceed although the pre-check has warnings')
    .option('--max-percent <n>', 'largest batch as a percentage of the workers (default 10)', percent)
    .option('--pause-timeout <duration>', "auto-cancel a pause after this long (default '15 days')")
    .option('--drain-timeout <duration>', "fail a node's drain after this long (default '10m')")
    .option('--node-timeout <duration>', "fail a node's upgrade after this long (default '30m')")
    .option('--image <image>', 'node upgrade agent image (default from the worker configuration)')
    .option('--window <spec>', 'maintenance window, e.g. "sat,sun 02:00-05:00 UTC"')
    .option('--wait', 'wait for the upgrade to finish, showing progress')
    .action(async (o) => {
      const req = requestFrom(o);
      const client = await ctx.client();
      const handle = await startUpgrade(client, req);
      if (!o.wait) {
        // Stay until the pre-check has decided, so an unknown cluster, a downgrade or a failed
        // pre-check is this command's refusal rather than a surprise in `status` later.
        const p = await waitPastPrecheck(() => getProgress(client, req.clusterId));
        if (p.state === 'failed' && p.precheck.items.length && !ctx.globals.json) process.stdout.write(renderPrecheck(p.precheck) + '\n');
        if (p.state === 'failed') throw new Error(`${handle.workflowId} refused: ${p.failure ?? 'see edge-upgrade status'}`);
        print(ctx, { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, progress: p }, `started ${handle.workflowId} (${req.clusterId} → ${req.targetVersion}): ${summarize(p)}`);
        return;
      }
      const final = await watchProgress(() => getProgress(client, req.clusterId), { tty: ctx.globals.json ? false : undefined, out: ctx.globals.json ? process.stderr : process.stdout });
      if (ctx.globals.json) print(ctx, final, '');
      if (final.state !== 'succeeded') process.exitCode = EXIT_FAILED;
    });

  program
    .command('status')
    .description("show an upgrade's progress")
    .addOption(clusterOption())
    .option('--watch', 'follow live with progress bars until it ends')
    .action(async (o) => {
      const client = await ctx.client();
      if (o.watch && !ctx.globals.json) {
        const final = await watchProgress(() => getProgress(client, o.cluster));
        if (final.state !== 'succeeded') process.exitCode = EXIT_FAILED;
        return;
      }
      const p = await getProgress(client, o.cluster);
      print(ctx, p, [summarize(p), ...renderDetails(p)].join('\n'));
    });

  for (const [name, help] of [['pause', 'pause: in-flight nodes finish, no new node starts'], ['resume', 'resume a paused upgrade (failed pods are deleted, the failed node goes first)'], ['cancel', 'cancel a paused upgrade (started nodes finish, our cordons are removed)']] as const) {
    const cmd = program.command(name).description(help).addOption(clusterOption());
    if (name === 'pause') cmd.option('--reason <text>', 'why, shown in status');
    if (name === 'cancel') cmd.option('--wait', 'wait until the upgrade has ended and say how (exit 1 unless cancelled)');
    cmd.action(async (o) => {
      const client = await ctx.client();
      const p = name === 'pause' ? await pauseUpgrade(client, o.cluster, o.reason) : name === 'resume' ? await resumeUpgrade(client, o.cluster) : await cancelUpgrade(client, o.cluster);
      const workflowId = upgradeHandle(client, o.cluster).workflowId;
      if (name !== 'cancel') return print(ctx, p, `${name}: ${workflowId}: ${summarize(p)}`);
      if (!o.wait) {
        return print(ctx, p, `cancel: ${workflowId}: ${summarize(p)}\ncancel accepted: nodes already started finish, then the cordons this upgrade made are removed; nothing is rolled back`);
      }
      const final = await waitUntilEnded(() => getProgress(client, o.cluster));
      print(ctx, final, final.state === 'cancelled' ? `cancelled: ${workflowId}: ${summarize(final)}` : `cancel accepted, but the upgrade ended ${final.state}: ${workflowId}: ${summarize(final)}`);
      if (final.state !== 'cancelled') process.exitCode = EXIT_FAILED;
    });
  }

  const schedule = program.command('schedule').description('maintenance triggers as Temporal Schedules');
  schedule
    .command('create')
    .description('start an upgrade on a cron schedule (overlapping triggers are skipped)')
    .addOption(clusterOption())
    .addOption(toOption())
    .requiredOption('--cron <expr>', 'cron expression, e.g. "0 2 * * 6" for Saturdays 02:00')
    .option('--timezone <tz>', 'IANA time zone of the cron expression', 'UTC')
    .option('--id <scheduleId>', 'schedule ID (default edge-upgrade-schedule-<cluster>)')
    .option('--accept-warnings', 'proceed although the pre-check has warnings')
    .option('--max-percent <n>', 'largest batch as a percentage of the workers', percent)
    .option('--trigger-now', 'also fire once now')
    .action(async (o) => {
      const req = requestFrom(o);
      const id = await createSchedule(await ctx.client(), req, { scheduleId: o.id, cron: [o.cron], timezone: o.timezone, triggerImmediately: o.triggerNow });
      print(ctx, { scheduleId: id }, `created schedule ${id}: ${req.clusterId} → ${req.targetVersion} at "${o.cron}" ${o.timezone}`);
    });
  schedule
    .command('list')
    .description('list edge-upgrade schedules')
    .action(async () => {
      const list = await listSchedules(await ctx.client());
      print(ctx, list, list.length ? table(['SCHEDULE', 'CLUSTER', 'TARGET', 'CRON', 'TZ', 'NEXT RUN'], list.map((s) => [s.scheduleId, s.clusterId ?? '', s.targetVersion ?? '', s.cron.join(' | '), s.timezone ?? '', s.nextRun ?? ''])) : 'no schedules');
    });
  schedule
    .command('delete')
    .description('delete a schedule (running upgrades continue)')
    .option('--cluster <id>', 'delete edge-upgrade-schedule-<id>')
    .option('--id <scheduleId>', 'schedule ID')
    .action(async (o) => {
      const id = o.id ?? (o.cluster ? scheduleIdFor(o.cluster) : undefined);
      if (!id) throw new InvalidArgumentError('give --cluster <id> or --id <scheduleId>');
      await deleteSchedule(await ctx.client(), id);
      print(ctx, { deleted: id }, `deleted schedule ${id}`);
    });

  program
    .command('worker')
    .description('run a worker: clusters and Temporal settings from --config and the environment')
    .action(async () => {
      const { runWorkerCommand } = await import('./cli/worker-command.js');
      const config = loadWorkerConfig(ctx.globals.config ?? process.env.EDGE_UPGRADE_CONFIG);
      if (ctx.globals.address) config.temporal.address = ctx.globals.address;
      if (ctx.globals.namespace) config.temporal.namespace = ctx.globals.namespace;
      await runWorkerCommand(config);
    });

  program
    .command('demo')
    .description('run everything locally: Temporal dev server, a control plane, simulated edge nodes, a worker and an upgrade')
    .option('--masters <n>', 'control-plane nodes', count, 3)
    .option('--cloud <n>', 'cloud workers', count, 5)
    .option('--edge <n>', 'edge workers', count, 45)
    .option('--from <version>', 'starting version', 'v1.33.7')
    .option('--to <version>', 'target version', 'v1.34.4')
    .option('--upgrade-seconds <n>', 'how long each simulated node upgrade takes', count, 3)
    .option('--stay', 'keep everything running after the upgrade until Ctrl-C (to explore the Web UI)')
    .action(async (o) => {
      const { runDemo } = await import('./cli/demo.js');
      process.exitCode = await runDemo(o);
    });

  return program;
}

/** Runs the CLI with `argv`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let client: Client | undefined;
  const ctx: Ctx = {
    globals: {},
    client: async () => (client ??= await connectClient(ctx.globals)),
  };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      process.stderr.write(`edge-upgrade: ${err.message.replace(/^error: /, '')} (see edge-upgrade --help)\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`edge-upgrade: ${oneLine(err)}\n`);
    return EXIT_FAILED;
  } finally {
    await client?.connection.close().catch(() => {});
  }
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim() || 'unknown error';
}

// Run when executed as the bin (bin/edge-upgrade.js imports this module).
if (process.env.EDGE_UPGRADE_CLI_NO_MAIN !== '1') {
  const code = await main(process.argv);
  process.exit(code);
}
