/**
 * Deterministic Kubernetes names and label values derived from (node, target, upgrade ID), so a
 * retried activity finds what its first attempt made. Pure: no I/O, no Node builtins (the workflow
 * bundle may import planning code).
 */

/** Longest DNS-1123 label (pod names we make stay within it, so they also fit a hostname). */
export const MAX_NAME_LENGTH = 63;

/** FNV-1a 32-bit hash of `s`, as 7 base-36 characters: a short, stable suffix for shortened names. */
export function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36).padStart(7, '0');
}

/** Lower-cases and replaces anything outside [a-z0-9-] with '-', trimming '-' at both ends. */
function dnsSafe(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * Fits `base` into `max` characters; when it had to be changed or shortened, a hash of `original`
 * is appended so two different inputs never share a name.
 */
function fit(base: string, original: string, max: number, separator: string, trim: RegExp): string {
  if (base === original && base.length <= max) return base;
  const hash = shortHash(original);
  const head = base.slice(0, max - hash.length - 1).replace(trim, '');
  return head ? `${head}${separator}${hash}` : hash;
}

/**
 * The upgrade pod's name for (node, target): `upgrade-<node>-<v1-34-4>`, a DNS-1123 label of at
 * most 63 characters. A name that had to be shortened ends in a hash of the full name. Agent pods
 * in another mode take the mode as `prefix` instead (`prepare-<node>-<v1-34-4>`); probe pods are
 * named by {@link probePodName}.
 */
export function upgradePodName(node: string, targetVersion: string, prefix = 'upgrade'): string {
  return podName(node, targetVersion, prefix, MAX_NAME_LENGTH);
}

/**
 * The node probe pod's name for (node, target) made by `madeBy` (the ID of the workflow that probes:
 * the upgrade, or a `precheck` command's own inspectCluster run): `check-<node>-<v1-34-4>-<token>`,
 * where the token is {@link shortHash} of `madeBy`. So a `precheck` probing while the upgrade of the
 * same cluster probes never finds, replaces or deletes the other's pod, while a retried activity of
 * the same maker finds its own. A DNS-1123 label of at most 63 characters; the token is always kept.
 */
export function probePodName(node: string, targetVersion: string, madeBy: string): string {
  const token = shortHash(madeBy);
  return `${podName(node, targetVersion, 'check', MAX_NAME_LENGTH - token.length - 1)}-${token}`;
}

function podName(node: string, targetVersion: string, prefix: string, max: number): string {
  // The version's dots become dashes without ambiguity; the node name is kept only when it already is a DNS-1123 label.
  const plain = `${prefix}-${node}-${dnsSafe(targetVersion)}`;
  const nodeIsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(node);
  return fit(dnsSafe(plain), nodeIsLabel ? plain : `${plain}#`, max, '-', /-+$/);
}

/**
 * `value` as a valid label value (≤63 characters of [A-Za-z0-9._-], alphanumeric at both ends).
 * Values that had to change end in a hash of the original, so selectors stay exact.
 */
export function labelValue(value: string): string {
  const valid = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
  if (value.length <= MAX_NAME_LENGTH && valid.test(value)) return value;
  const safe = value.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return fit(safe, `${value}#`, MAX_NAME_LENGTH, '-', /[^A-Za-z0-9]+$/);
}
