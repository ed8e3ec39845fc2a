/**
 * The health gate of `upgradeCluster`: after a master or a worker batch, before the next node
 * starts, every check (evaluated by the `evaluateHealth` activity every few seconds) must hold for
 * `gate.stableFor` without a break; a break (a flap) restarts the window. A check failing for longer
 * than `gate.timeout`, or a gate that has not held within `gate.timeout` + `stableFor`, pauses the
 * upgrade with step 'health-gate', naming the checks, nodes and objects. The gate stays pending
 * through the pause: a resume runs it again before any node starts.
 */
import { isCancellation, sleep, workflowInfo } from '@temporalio/workflow';
import type { GateCheckState, LastError } from '../planning/types.js';
import { stepError } from './upgrade-activities.js';
import type { UpgradeRun } from './upgrade-run.js';
import type { PendingGate } from './upgrade-snapshot.js';

/** Events one evaluation may add (activity, timer, workflow task); the gate hands over to continue-as-new before the budget. */
const EVENTS_PER_EVALUATION = 10;

/** History length above which the gate stops and lets the safe point continue-as-new (the gate stays pending). */
const GATE_EVENT_CEILING = 8_800;

/** How long to wait between evaluations: a third of `stableFor`, between 1 and 10 seconds. */
export function gateInterval(stableForMs: number): number {
  return Math.min(10_000, Math.max(1000, Math.floor(stableForMs / 3)));
}

/** The verdict of one evaluation, pure: whether the gate passed, goes on, or fails (and why). */
export function gateVerdict(
  checks: GateCheckState[],
  t: { now: number; since: number; stableSince: number | null; failingSince: number | null; stableForMs: number; timeoutMs: number },
): { verdict: 'pass' | 'wait' | 'fail'; stableSince: number | null; failingSince: number | null } {
  const ok = checks.every((c) => c.ok);
  const stableSince = ok ? (t.stableSince ?? t.now) : null;
  const failingSince = ok ? null : (t.failingSince ?? t.now);
  if (ok && t.now - stableSince! >= t.stableForMs) return { verdict: 'pass', stableSince, failingSince };
  const failedTooLong = failingSince !== null && t.now - failingSince >= t.timeoutMs;
  const neverHeld = t.now - t.since >= t.timeoutMs + t.stableForMs;
  return { verdict: failedTooLong || neverHeld ? 'fail' : 'wait', stableSince, failingSince };
}

/** The error the gate pauses with: the failing checks' messages, attributed to the first node of the gate. */
export function gateError(gate: PendingGate, checks: GateCheckState[], timeoutMs: number, at: string): LastError {
  const failing = checks.filter((c) => !c.ok);
  const what = failing.length > 0 ? failing.map((c) => `${c.name}: ${c.message}`).join('; ') : 'the checks kept flapping';
  const who = gate.nodes.length === 1 ? gate.nodes[0]! : `${gate.nodes.length} nodes (${gate.nodes.slice(0, 5).join(', ')}…)`;
  return {
    node: gate.nodes[0]!,
    step: 'health-gate',
    message: `health gate after ${who} did not hold within ${Math.round(timeoutMs / 1000)} s: ${what}`,
    at,
  };
}

/**
 * Runs the pending gate until it passes (cleared), fails (auto-pause, still pending), or the run's
 * history is nearly full (still pending; the safe point continues as new and runs it again).
 */
export async function runGate(run: UpgradeRun): Promise<void> {
  const { state, request, activities, ref, publish } = run;
  const gate = state.pendingGate!;
  const { stableForMs, timeoutMs } = request.gate;
  const since = Date.now();
  state.showGate(gate.kind, { nodes: gate.nodes, since: new Date(since).toISOString(), stableSince: null, checks: [] });
  publish();
  let t = { stableSince: null as number | null, failingSince: null as number | null };
  for (;;) {
    let checks: GateCheckState[];
    try {
      checks = await activities.within1Minute.evaluateHealth.executeWithOptions({ summary: `health gate: ${gate.nodes.length} node(s)` }, [
        {
          ...ref,
          nodes: gate.nodes,
          since: new Date(since).toISOString(),
          owners: gate.owners,
          checks: request.gate.checks,
          maxRestarts: request.gate.maxRestarts,
        },
      ]);
    } catch (err) {
      if (isCancellation(err)) throw err;
      checks = [{ name: 'evaluate', ok: false, message: stepError(err, gate.nodes[0]!, 'health-gate').message }];
    }
    const now = Date.now();
    const v = gateVerdict(checks, { now, since, ...t, stableForMs, timeoutMs });
    t = { stableSince: v.stableSince, failingSince: v.failingSince };
    state.gateChecked(gate.kind, checks, v.stableSince === null ? null : new Date(v.stableSince).toISOString());
    if (v.verdict === 'pass') {
      state.setPendingGate(null);
    } else if (v.verdict === 'fail') {
      const err = gateError(gate, checks, timeoutMs, new Date(now).toISOString());
      state.recordError(err);
      state.pause('error', err.at!, `error on ${err.node} (health-gate)`);
    }
    publish();
    if (v.verdict !== 'wait' || workflowInfo().historyLength + EVENTS_PER_EVALUATION > GATE_EVENT_CEILING) return;
    await sleep(gateInterval(stableForMs));
  }
}
