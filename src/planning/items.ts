/** Building blocks of pre-check items (precheck items, probe items, the deprecated-API item). */
import type { PrecheckItem } from './types.js';

/** Names joined with commas, the first `n` of them, then how many more. */
export const list = (xs: readonly string[], n = 10) =>
  xs.length > n ? `${xs.slice(0, n).join(', ')} and ${xs.length - n} more` : xs.join(', ');

/** A pre-check item; `nodes` are deduplicated and sorted. */
export const item = (id: string, result: PrecheckItem['result'], message: string, nodes: string[] = []): PrecheckItem => ({
  id,
  result,
  message,
  nodes: [...new Set(nodes)].sort(),
});
