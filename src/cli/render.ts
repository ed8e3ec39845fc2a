/** Text rendering for the CLI: pre-check tables, the batch plan and status lines. Pure functions. */
import { batchPlan } from '../planning/batches.js';
import { orderMasters, orderWorkers } from '../planning/order.js';
import type { ClusterInventory, PrecheckReport, Progress } from '../planning/types.js';
import { nodeIsDone, parseVersion } from '../planning/versions.js';

/** A plain text table with padded columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** The pre-check report as a table, verdict first. */
export function renderPrecheck(report: PrecheckReport): string {
  const rows = report.items.map((i) => [i.result.toUpperCase(), i.id, i.nodes.length ? i.nodes.slice(0, 5).join(',') + (i.nodes.length > 5 ? ` (+${i.nodes.length - 5})` : '') : '-', i.message]);
  return `Pre-check: ${report.status}\n${table(['RESULT', 'CHECK', 'NODES', 'MESSAGE'], rows)}`;
}

/** The upgrade plan: masters one at a time, then worker batches, skipping nodes already at the target. */
export interface UpgradePlan {
  targetVersion: string;
  masters: string[];
  batches: string[][];
  alreadyUpgraded: string[];
}

/** Computes the plan the workflow will follow (before any pause or failure changes it). */
export function computePlan(inv: ClusterInventory, targetVersion: string, maxPercent?: number): UpgradePlan {
  const target = parseVersion(targetVersion);
  const done = inv.nodes.filter((n) => nodeIsDone(n, target)).map((n) => n.name);
  const masters = orderMasters(inv.nodes.filter((n) => n.kind === 'control-plane')).filter((n) => !done.includes(n.name)).map((n) => n.name);
  const allWorkers = inv.nodes.filter((n) => n.kind === 'worker');
  const workers = orderWorkers(allWorkers).filter((n) => !done.includes(n.name)).map((n) => n.name);
  const sizes = batchPlan(workers.length, maxPercent);
  const batches: string[][] = [];
  let at = 0;
  for (const size of sizes) {
    batches.push(workers.slice(at, at + size));
    at += size;
  }
  return { targetVersion, masters, batches, alreadyUpgraded: done };
}

/** The plan as text. */
export function renderPlan(plan: UpgradePlan): string {
  const out = [`Plan to ${plan.targetVersion} (dry run: nothing was changed)`];
  if (plan.masters.length === 0) out.push('Masters: 0 of 0 (managed control plane or all at target): skipped');
  plan.masters.forEach((m, i) => out.push(`master ${i + 1} of ${plan.masters.length}: ${m}`));
  const total = plan.batches.reduce((s, b) => s + b.length, 0);
  out.push(`Workers: ${total} in ${plan.batches.length} batches`);
  plan.batches.forEach((b, i) => out.push(`batch ${i + 1} (${b.length}): ${b.join(', ')}`));
  if (plan.alreadyUpgraded.length) out.push(`Already at ${plan.targetVersion}: ${plan.alreadyUpgraded.join(', ')}`);
  return out.join('\n');
}

/** Extra lines under the summary: pause reason and deadline, last error, refusals. */
export function renderDetails(p: Progress): string[] {
  const out: string[] = [];
  if (p.pause) {
    const until = p.pause.autoCancelAt ? `; auto-cancels at ${p.pause.autoCancelAt} unless resumed` : p.pause.opensAt ? `; resumes by itself when the window opens at ${p.pause.opensAt}` : '';
    out.push(`Paused (${p.pause.reason}) since ${p.pause.since}${until}`);
  }
  if (p.lastError) {
    out.push(`Last error: ${p.lastError.node} (${p.lastError.step}): ${p.lastError.message}`);
    if (p.lastError.logTail) out.push(...p.lastError.logTail.trimEnd().split('\n').map((l) => `  | ${l}`));
  }
  const refusal = p.refusals?.at(-1);
  if (refusal) out.push(`Refused ${refusal.command} at ${refusal.at}: ${refusal.reason}`);
  return out;
}
