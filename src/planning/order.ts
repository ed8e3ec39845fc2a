/**
 * Deterministic node order. The workflow replays, and reruns must visit nodes in the same order,
 * so the order depends on node names and kinds only, never on the API's list order.
 */
import type { ClusterNode } from './types.js';

/**
 * Natural ("numeric-aware") name comparison: runs of digits compare by value, so `edge-2` sorts
 * before `edge-10`; everything else compares by UTF-16 code unit, so the result does not depend on
 * locale or ICU data (which could differ between the workers that replay a workflow). Ties between
 * equal-valued numbers such as `n-01` and `n-1` fall back to plain string order.
 */
export function compareNodeNames(a: string, b: string): number {
  const ca = a.match(/\d+|\D+/g) ?? [];
  const cb = b.match(/\d+|\D+/g) ?? [];
  const n = Math.min(ca.length, cb.length);
  for (let i = 0; i < n; i++) {
    const x = ca[i]!;
    const y = cb[i]!;
    if (x === y) continue;
    const xd = /^\d/.test(x);
    const yd = /^\d/.test(y);
    if (xd && yd) {
      const nx = x.replace(/^0+(?=\d)/, '');
      const ny = y.replace(/^0+(?=\d)/, '');
      if (nx.length !== ny.length) return nx.length - ny.length;
      if (nx !== ny) return nx < ny ? -1 : 1;
      continue;
    }
    return x < y ? -1 : 1;
  }
  if (ca.length !== cb.length) return ca.length - cb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Control-plane nodes sorted by name. */
export function orderMasters(nodes: readonly ClusterNode[]): ClusterNode[] {
  return nodes.filter((n) => n.kind === 'control-plane').sort((a, b) => compareNodeNames(a.name, b.name));
}

/** Workers: cloud workers before edge workers (the cloud side is easier to reach and fix), then by name. */
export function orderWorkers(nodes: readonly ClusterNode[]): ClusterNode[] {
  return nodes.filter((n) => n.kind === 'worker').sort((a, b) => Number(a.edge) - Number(b.edge) || compareNodeNames(a.name, b.name));
}
