/** Pre-check verdicts: pure functions over the items the `precheck` activity returns. */
import type { PrecheckItem, PrecheckReport } from './types.js';

/** The report's status: 'failed' if any item is an error, 'warning' if any is a warning, else 'passed'. */
export function precheckVerdict(items: readonly PrecheckItem[]): PrecheckReport['status'] {
  if (items.some((i) => i.result === 'error')) return 'failed';
  if (items.some((i) => i.result === 'warning')) return 'warning';
  return 'passed';
}

/**
 * Why the upgrade may not go on after this report, or null when it may. Errors always block;
 * warnings block unless the request has `acceptWarnings`.
 */
export function precheckBlocker(report: PrecheckReport, acceptWarnings: boolean): string | null {
  const nodes = (i: PrecheckItem) => (i.nodes.length ? ` (${i.nodes.slice(0, 5).join(', ')}${i.nodes.length > 5 ? ', …' : ''})` : '');
  const describe = (result: PrecheckItem['result']) =>
    report.items
      .filter((i) => i.result === result)
      .map((i) => `${i.id}: ${i.message}${nodes(i)}`)
      .join('; ');
  if (report.status === 'failed') return `pre-check found errors, no node was touched: ${describe('error')}`;
  if (report.status === 'warning' && !acceptWarnings) {
    return `pre-check found warnings, no node was touched: ${describe('warning')}. Fix them, or start again with acceptWarnings to proceed`;
  }
  return null;
}
