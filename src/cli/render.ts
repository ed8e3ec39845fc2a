/** Text rendering for the CLI: pre-check tables, the batch plan (planning/plan-view.ts) and status lines. Pure functions. */
import type { InFlightNode } from '../in-flight.js';
import type { UpgradePlan } from '../planning/plan.js';
import type { PlanView } from '../planning/plan-view.js';
import type { PrecheckReport, Progress } from '../planning/types.js';

/** A plain text table with padded columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** The pre-check report as a table, verdict first. */
export function renderPrecheck(report: PrecheckReport): string {
  const rows = report.items.map((i) => [
    i.result.toUpperCase(),
    i.id,
    i.nodes.length ? i.nodes.slice(0, 5).join(',') + (i.nodes.length > 5 ? ` (+${i.nodes.length - 5})` : '') : '-',
    i.message,
  ]);
  return `Pre-check: ${report.status}\n${table(['RESULT', 'CHECK', 'NODES', 'MESSAGE'], rows)}`;
}

/** The hops of a multi-minor plan as text: the masters of each hop, and any worker pass before the control plane goes on. */
function renderHops(view: PlanView, total: number): string[] {
  const hops = view.hops ?? [];
  const out = [`Control plane hops one minor at a time: ${hops.map((h) => h.version).join(' → ')}`];
  for (const h of hops) {
    out.push(`Hop ${h.number} of ${hops.length}: ${h.version}`);
    if (h.masters.length === 0) out.push('  masters: all at this version: skipped');
    h.masters.forEach((m, i) => {
      const apply = m === h.firstControlPlane ? ' (first-control-plane: runs kubeadm upgrade apply)' : '';
      out.push(`  master ${i + 1} of ${h.masters.length} (of ${total}): ${m}${apply}`);
    });
    if (h.workerBatches) {
      const n = h.workerBatches.reduce((s, b) => s + b.length, 0);
      out.push(
        `  workers to ${h.version} first (kubelets would fall more than 3 minors behind): ${n} in ${h.workerBatches.length} batches`,
      );
    }
  }
  return out;
}

/**
 * The plan as text. Masters are numbered among all masters, as `status` will show them ("master 2 of
 * 3: cp-2" on a re-run where cp-1 is done), and the one that runs `kubeadm upgrade apply` says so.
 */
export function renderPlan(view: PlanView, plan: UpgradePlan): string {
  const out = [`Plan to ${view.targetVersion} (dry run: nothing was changed)`, prepareLine(view)];
  if (view.hops) out.push(...renderHops(view, plan.masters.total));
  else if (plan.masters.todo.length === 0) out.push('Masters: 0 of 0 (managed control plane or all at target): skipped');
  for (const m of view.hops ? [] : plan.masters.todo) {
    const apply = m.role === 'first-control-plane' ? ' (first-control-plane: runs kubeadm upgrade apply)' : '';
    out.push(`master ${m.serial} of ${plan.masters.total}: ${m.name}${apply}`);
  }
  const total = view.batches.reduce((s, b) => s + b.length, 0);
  out.push(
    `Workers${view.hops ? ` (once, to ${view.targetVersion}, after the last hop)` : ''}: ${total} in ${view.batches.length} batches`,
  );
  view.batches.forEach((b, i) => out.push(`batch ${i + 1} (${b.length}): ${b.join(', ')}`));
  if (view.alreadyUpgraded.length) out.push(`Already at ${view.targetVersion}: ${view.alreadyUpgraded.join(', ')}`);
  out.push(...planSettingLines(view));
  return out.join('\n');
}

/** The plan's line for the prepare phase: the cloud nodes it runs on, or why it is skipped. */
function prepareLine(view: PlanView): string {
  if (view.prepare.length > 0) {
    const what = 'repository, packages, images; nothing installed';
    return `Prepare ${view.prepare.length} cloud node(s) first (${what}): ${view.prepare.join(', ')}`;
  }
  return view.cloudNodeLabel
    ? `Prepare: no cloud node to prepare (label ${view.cloudNodeLabel}): skipped`
    : 'Prepare: off (the worker has no cloudNodeLabel): skipped';
}

/** The plan's lines for offline workers, the failure budget and the health gate. */
function planSettingLines(view: PlanView): string[] {
  const out: string[] = [];
  if (view.offline.length) {
    const then = view.deferOffline
      ? 'deferred, upgraded once back online'
      : 'the pre-check refuses the upgrade (use --defer-offline to defer them)';
    out.push(`Offline now: ${view.offline.join(', ')}: ${then}`);
  }
  out.push(
    view.failureBudget > 0
      ? `Failure budget: up to ${view.failureBudget} failed worker(s) quarantined before the upgrade pauses`
      : 'Failure budget: none (the first failure pauses the upgrade)',
  );
  const g = view.gate;
  const checks = g?.checks.length ? ` plus ${g.checks.join(', ')}` : '';
  const hold = g ? `checks must hold ${g.stableForMs / 1000} s (pause after ${g.timeoutMs / 1000} s failing)${checks}` : '';
  out.push(g ? `Health gate after each master and batch: ${hold}` : 'Health gate: off');
  return out;
}

/** Extra lines under the summary: pause reason and deadline, last error, refusals. */
export function renderDetails(p: Progress, opts: DetailOptions = {}): string[] {
  const out: string[] = [];
  if (p.pause) {
    const until = p.pause.autoCancelAt
      ? `; auto-cancels at ${p.pause.autoCancelAt} unless resumed`
      : p.pause.opensAt
        ? `; resumes by itself when the window opens at ${p.pause.opensAt}`
        : '';
    out.push(`Paused (${p.pause.reason}) since ${p.pause.since}${until}`);
  }
  if (p.lastError) {
    out.push(`Last error: ${p.lastError.node} (${p.lastError.step}): ${p.lastError.message}`);
    if (p.lastError.logTail)
      out.push(
        ...p.lastError.logTail
          .trimEnd()
          .split('\n')
          .map((l) => `  | ${l}`),
      );
  }
  out.push(...prepareDetails(p));
  out.push(...resilienceDetails(p, opts));
  const refusal = p.refusals?.at(-1);
  if (refusal) out.push(`Refused ${refusal.command} at ${refusal.at}: ${refusal.reason}`);
  return out;
}

/** A line per node step in flight: the node, the step, since when, and what it waits on. */
export function renderInFlight(nodes: readonly InFlightNode[]): string[] {
  return nodes.map(
    (n) => `In flight: ${n.node} ${n.step} since ${n.since}${n.attempt > 1 ? ` (attempt ${n.attempt})` : ''}: ${n.waitingOn}`,
  );
}

/** Options of {@link renderDetails}. */
export interface DetailOptions {
  /** One line per health-gate result instead of a line per check (a log of a watch). */
  compact?: boolean;
}

/** Lines for the prepare phase: how many cloud nodes are prepared, and those skipped (offline, deferred). */
function prepareDetails(p: Progress): string[] {
  if (!p.prepare) return [];
  const now = p.prepare.current.length ? `; preparing ${p.prepare.current.join(', ')}` : '';
  const out = [`Cloud nodes prepared: ${p.prepare.done}/${p.prepare.total}${now}`];
  for (const s of p.prepare.skipped ?? []) out.push(`Not prepared: ${s.node}: ${s.reason}`);
  return out;
}

/** Lines for the health gate, deferred and quarantined workers. */
function resilienceDetails(p: Progress, opts: DetailOptions): string[] {
  const out: string[] = [];
  const gate = p.masters.gate ?? p.workers.gate;
  if (gate) {
    const holding = gate.stableSince ? `holding since ${gate.stableSince}` : 'not holding yet';
    const head = `Health gate on ${gate.nodes.length} node(s) since ${gate.since}: ${holding}`;
    if (opts.compact) {
      // One line per gate result: the failing checks with their messages, the others by name.
      const ok = gate.checks.filter((c) => c.ok).map((c) => c.name);
      const failing = gate.checks.filter((c) => !c.ok).map((c) => `FAIL ${c.name}: ${c.message}`);
      out.push([head, ...failing, ...(ok.length ? [`ok: ${ok.join(', ')}`] : [])].join(' · '));
    } else {
      out.push(head);
      for (const c of gate.checks) out.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.message}`);
    }
  }
  for (const d of p.workers.deferred ?? []) {
    const kept = d.kept ? `; kept cordoned: ${d.kept}` : '';
    out.push(`Deferred${d.expired ? ' (left out: offline past the defer timeout)' : ''}: ${d.node} since ${d.since}: ${d.reason}${kept}`);
  }
  if (p.workers.waiting === 'deferred') out.push('Waiting for deferred workers to come back online');
  for (const q of p.workers.quarantined ?? []) out.push(`Quarantined: ${q.node} (${q.step}) at ${q.at}: ${q.message}`);
  return out;
}
