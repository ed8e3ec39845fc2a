/** The one-line human summary shown as the workflow's current details in the Web UI and by the CLI. */
import type { Progress } from './types.js';

/**
 * Summarises progress in one line, e.g.
 * "Workers 37/120 · batch 6 (10 nodes) · paused: error on edge-17",
 * "Preparing cloud nodes 1/2 · preparing cloud-002" or
 * "Workers 37/120 · batch 6 (10 nodes) · paused: window (opens 2026-11-29T02:00:00Z)" or, in a multi-minor
 * upgrade, "Hop 2/3 (v1.33.5) · Masters 1/3 · master 2 of 3: cp-2".
 */
export function summarize(p: Progress): string {
  const parts: string[] = [];
  // A multi-minor upgrade names its control-plane hop first, e.g. "Hop 2/3 (v1.33.5)".
  if (p.hop && (p.phase === 'masters' || p.phase === 'workers')) parts.push(`Hop ${p.hop.number}/${p.hop.of} (${p.hop.version})`);
  switch (p.phase) {
    case 'precheck':
      parts.push(`Pre-check ${p.precheck.status === 'pending' ? 'running' : p.precheck.status}`);
      break;
    case 'prepare': {
      const prep = p.prepare ?? { total: 0, done: 0, current: [] };
      parts.push(`Preparing cloud nodes ${prep.done}/${prep.total}`);
      if (prep.current.length) parts.push(`preparing ${prep.current.join(', ')}`);
      break;
    }
    case 'masters':
      const { upgraded, total, current } = p.masters;
      parts.push(
        current ? `Masters ${upgraded}/${total} · master ${current.serial} of ${total}: ${current.node}` : `Masters ${upgraded}/${total}`,
      );
      break;
    case 'workers':
      parts.push(`Workers ${p.workers.upgraded}/${p.workers.total}`);
      if (p.workers.batch)
        parts.push(`batch ${p.workers.batch.number} (${p.workers.batch.size} node${p.workers.batch.size === 1 ? '' : 's'})`);
      if (p.workers.waiting === 'deferred') parts.push('waiting for deferred workers');
      break;
    case 'done':
      parts.push(`Masters ${p.masters.upgraded}/${p.masters.total}, workers ${p.workers.upgraded}/${p.workers.total}`);
      break;
  }
  parts.push(...extras(p));
  if (p.state === 'paused' && p.pause) {
    const on =
      p.pause.reason === 'error' && p.lastError
        ? `error on ${p.lastError.node}`
        : p.pause.reason === 'window' && p.pause.opensAt
          ? `window (opens ${p.pause.opensAt})`
          : p.pause.reason;
    parts.push(`paused: ${on}`);
  } else if (p.state === 'cancelled') {
    parts.push(`cancelled (${p.cancelReason ?? 'user'})`);
  } else if (p.state === 'failed') {
    parts.push(`failed${p.failure ? `: ${p.failure}` : ''}`);
  } else if (p.state === 'succeeded') {
    parts.push(p.partial ? `succeeded partially: ${leftOut(p)} not at ${p.targetVersion}` : `succeeded: all nodes at ${p.targetVersion}`);
  }
  return parts.join(' · ');
}

/** The gate, deferred and quarantined workers, when there are any. */
function extras(p: Progress): string[] {
  const out: string[] = [];
  const gate = p.masters.gate ?? p.workers.gate;
  if (gate) {
    const failing = gate.checks.filter((c) => !c.ok).map((c) => c.name);
    out.push(`health gate: ${failing.length ? `failing ${failing.join(', ')}` : gate.stableSince ? 'holding' : 'checking'}`);
  }
  const deferred = p.workers.deferred ?? [];
  if (deferred.length) out.push(`deferred ${deferred.length}`);
  const quarantined = p.workers.quarantined ?? [];
  if (quarantined.length) out.push(`quarantined ${quarantined.length}`);
  return out;
}

/** The workers left out of a partial success, e.g. "2 deferred (edge-3, edge-9), 1 quarantined (edge-4)". */
export function leftOut(p: Progress): string {
  const parts: string[] = [];
  const deferred = (p.workers.deferred ?? []).map((d) => d.node);
  const quarantined = (p.workers.quarantined ?? []).map((q) => q.node);
  if (deferred.length) parts.push(`${deferred.length} deferred (${deferred.join(', ')})`);
  if (quarantined.length) parts.push(`${quarantined.length} quarantined (${quarantined.join(', ')})`);
  return parts.join(', ');
}
