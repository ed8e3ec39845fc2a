/**
 * Options shared by several commands, declared once as factories (commander's Option objects), and
 * the upgrade request they add up to. A command adds fresh copies: commander options belong to one command.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_MAX_BATCH_PERCENT } from '../planning/batches.js';
import { parseDuration } from '../planning/durations.js';
import { InvalidUpgradeRequestError } from '../planning/errors.js';
import { validateUpgradeRequest } from '../planning/request.js';
import type { UpgradeRequest } from '../planning/types.js';
import { parseWindow, WINDOW_SYNTAX } from '../planning/window.js';

/** Parses a whole number ≥ 0 (e.g. `demo --edge 45`). */
export function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

/** Parses a percentage above 0 and at most 100. */
export function percent(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 100)) throw new InvalidArgumentError('expected a percentage above 0 and at most 100');
  return n;
}

/** Parses a duration ('90s', '10m', '2 hours') into milliseconds, or throws a usage error. */
export function duration(value: string): number {
  try {
    return parseDuration('duration', value, value);
  } catch {
    throw new InvalidArgumentError("Expected a duration from 1s to 365 days, e.g. '90s', '10m' or '2 hours'.");
  }
}

/**
 * `--wait-through-pause` and `--timeout <duration>`: how long `start --wait` and `status --watch`
 * wait. By default they end at a pause (exit 3); a maintenance window's pause is waited through.
 */
export function waitOptions(): Option[] {
  return [
    new Option('--wait-through-pause', 'keep waiting while the upgrade is paused (by default a pause ends the wait with exit code 3)'),
    new Option('--timeout <duration>', "stop waiting after this long, with exit code 5, e.g. '2h'").argParser(duration),
  ];
}

/** How long a watch waits, from {@link waitOptions}' values: through pauses or not, and until when (ms since the epoch). */
export interface WaitLimits {
  throughPause: boolean;
  deadline?: number;
}

/** The {@link WaitLimits} of a command's `--wait-through-pause` and `--timeout`, the deadline counted from now. */
export function waitLimits(o: { waitThroughPause?: boolean; timeout?: number }): WaitLimits {
  return { throughPause: Boolean(o.waitThroughPause), deadline: o.timeout === undefined ? undefined : Date.now() + o.timeout };
}

/** `--cluster <id>`, mandatory. */
export function clusterOption(): Option {
  return new Option('--cluster <id>', 'cluster ID, as configured in the worker').makeOptionMandatory();
}

/** `--to <version>`, mandatory. */
export function toOption(): Option {
  return new Option('--to <version>', 'target Kubernetes version, e.g. v1.34.4').makeOptionMandatory();
}

/** `--max-percent <n>`: the batch cap. */
export function maxPercentOption(): Option {
  const help = `largest batch as a percentage of the workers (default ${DEFAULT_MAX_BATCH_PERCENT})`;
  return new Option('--max-percent <n>', help).argParser(percent);
}

/** `--via <versions>`: a multi-minor upgrade's intermediate versions, comma-separated. */
export function viaOption(): Option {
  return new Option(
    '--via <versions>',
    "multi-minor upgrade: intermediate versions the control plane hops through, e.g. v1.32.9,v1.33.5 (with the worker's versions:)",
  );
}

/** `--drain-timeout <duration>`: `start` and `schedule create` set it; `precheck` checks grace periods against it. */
export function drainTimeoutOption(): Option {
  return new Option('--drain-timeout <duration>', "fail a node's drain after this long (default '10m')");
}

/** Everything an upgrade request may set besides cluster and target: `start` and `schedule create` take the same. */
export function requestOptions(): Option[] {
  return [
    new Option('--accept-warnings', 'proceed although the pre-check has warnings'),
    maxPercentOption(),
    new Option('--pause-timeout <duration>', "auto-cancel a pause after this long (default '15 days')"),
    drainTimeoutOption(),
    new Option('--node-timeout <duration>', "fail a node's upgrade after this long (default '30m')"),
    new Option('--image <image>', 'node upgrade agent image (default from the worker configuration)'),
    new Option('--window <spec>', 'maintenance window, e.g. "sat,sun 02:00-05:00 UTC"'),
    new Option('--defer-offline', 'defer workers that are offline when their turn comes; upgrade them once they are back'),
    new Option('--defer-timeout <duration>', 'with --defer-offline: leave out a worker offline this long (default: the pause timeout)'),
    new Option(
      '--max-failures <n|p%>',
      'failure budget: quarantine up to this many failed workers (or a percentage) and go on (default 0)',
    ),
    new Option('--gate-stable-for <duration>', "health gate: checks must hold this long after each batch (default '30s'; 0 disables)"),
    new Option('--gate-timeout <duration>', "health gate: pause when a check fails this long (default '10m')"),
    new Option('--gate-check <name...>', 'health gate: extra checks by name, from the worker configuration (healthChecks)'),
    viaOption(),
    ...probeOptions(),
  ];
}

/** `--no-node-probes` and `--probe-concurrency <n>`: the pre-check's read-only node probes (start, schedule create, precheck). */
export function probeOptions(): Option[] {
  return [
    new Option('--no-node-probes', 'skip the read-only node probes of the pre-check (agent --check pods in kube-upgrade)'),
    new Option('--probe-concurrency <n>', 'node probes: how many nodes are probed at once (default 20)').argParser(count),
  ];
}

/** Adds `options` to `cmd`; returns `cmd`. */
export function withOptions(cmd: Command, options: Option[]): Command {
  for (const o of options) cmd.addOption(o);
  return cmd;
}

/** The offline, failure-budget and health-gate options. */
function addResilience(req: UpgradeRequest, o: Record<string, unknown>): void {
  if (o.deferOffline) req.offline = 'defer';
  if (o.deferTimeout) req.deferTimeout = String(o.deferTimeout);
  if (o.maxFailures !== undefined) {
    const v = String(o.maxFailures);
    req.maxFailures = /^\d+$/.test(v) ? Number(v) : v;
  }
  const gate: NonNullable<UpgradeRequest['gate']> = {};
  if (o.gateStableFor !== undefined)
    gate.stableFor = /^\d+$/.test(String(o.gateStableFor)) ? Number(o.gateStableFor) : String(o.gateStableFor);
  if (o.gateTimeout) gate.timeout = String(o.gateTimeout);
  if (o.gateCheck) gate.checks = o.gateCheck as string[];
  if (Object.keys(gate).length > 0) req.gate = gate;
  // commander sets nodeProbes true by default for --no-node-probes.
  if (o.nodeProbes === false) req.nodeProbes = false;
  else if (o.probeConcurrency !== undefined) req.nodeProbes = { concurrency: o.probeConcurrency as number };
}

/** The upgrade request from a command's options, validated here so bad input is refused before anything is contacted. */
export function requestFrom(o: Record<string, unknown>): UpgradeRequest {
  const req: UpgradeRequest = { clusterId: String(o.cluster), targetVersion: String(o.to) };
  if (o.acceptWarnings) req.acceptWarnings = true;
  if (o.maxPercent !== undefined) req.batch = { maxPercent: o.maxPercent as number };
  if (o.pauseTimeout) req.pauseTimeout = String(o.pauseTimeout);
  if (o.drainTimeout) req.drainTimeout = String(o.drainTimeout);
  if (o.nodeTimeout) req.nodeTimeout = String(o.nodeTimeout);
  if (o.image) req.upgradeImage = String(o.image);
  if (o.via) {
    req.via = String(o.via)
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
  }
  addResilience(req, o);
  if (o.window) {
    const window = parseWindow(String(o.window));
    if (!window) throw new InvalidArgumentError(`--window expects "${WINDOW_SYNTAX}", e.g. "sat,sun 02:00-05:00 Europe/Berlin"`);
    req.window = window;
  }
  try {
    validateUpgradeRequest(req);
  } catch (err) {
    // A malformed version, duration or budget is bad usage (exit 2), like a malformed option value.
    if (err instanceof InvalidUpgradeRequestError) throw new InvalidArgumentError(err.message);
    throw err;
  }
  return req;
}
