/** The one-line human summary shown as the workflow's current details in the Web UI and by the CLI. */
import type { Progress } from './types.js';

/**
 * Summarises progress in one line, e.g.
 * "Workers 37/120 · batch 6 (10 nodes) · paused: error on edge-17" or
 * "Workers 37/120 · batch 6 (10 nodes) · paused: window (opens 2026-11-29T02:00:00Z)".
 */
export function summarize(p: Progress): string {
  const parts: string[] = [];
  switch (p.phase) {
    case 'precheck':
      parts.push(`Pre-check ${p.precheck.status === 'pending' ? 'running' : p.precheck.status}`);
      break;
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
      break;
    case 'done':
      parts.push(`Masters ${p.masters.upgraded}/${p.masters.total}, workers ${p.workers.upgraded}/${p.workers.total}`);
      break;
  }
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
    parts.push(`succeeded: all nodes at ${p.targetVersion}`);
  }
  return parts.join(' · ');
}
