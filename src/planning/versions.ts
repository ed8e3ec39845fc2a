/**
 * Kubernetes version rules, with the `semver` package: parse 'v1.34.4' or '1.34.4', refuse
 * downgrades, allow at most one minor version above the control plane (Kubernetes' skew policy
 * for control-plane upgrades), and decide whether a node still needs work.
 */
import semver from 'semver';
import { InvalidUpgradeRequestError } from './errors.js';
import type { ClusterNode } from './types.js';

/** A parsed Kubernetes version. */
export type KubeVersion = semver.SemVer;

/**
 * Parses 'v1.34.4' or '1.34.4' (build metadata such as '+k3s1' is kept but ignored when comparing).
 * Throws {@link InvalidUpgradeRequestError} naming `field` on anything else.
 */
export function parseVersion(value: string, field = 'targetVersion'): KubeVersion {
  const v = typeof value === 'string' ? semver.parse(value.trim().replace(/^v/, '')) : null;
  if (!v) {
    throw new InvalidUpgradeRequestError(field, `${field} '${String(value)}' is not a Kubernetes version like v1.34.4`);
  }
  return v;
}

/** The canonical form used in names and messages: 'v1.34.4'. */
export function formatVersion(v: KubeVersion): string {
  return `v${v.version}`;
}

/** True if two versions are the same release (build metadata ignored). */
export function sameVersion(a: KubeVersion, b: KubeVersion): boolean {
  return semver.eq(a, b);
}

/**
 * Checks `target` against the control plane's version: same major, not older, and at most one
 * minor above. Throws {@link InvalidUpgradeRequestError} with what to do instead.
 */
export function checkTargetVersion(target: KubeVersion, controlPlane: KubeVersion): void {
  const t = formatVersion(target);
  const cp = formatVersion(controlPlane);
  if (target.major !== controlPlane.major) {
    throw new InvalidUpgradeRequestError(
      'targetVersion',
      `targetVersion ${t} changes the major version of the control plane (${cp}); that is not supported`,
    );
  }
  if (semver.lt(target, controlPlane)) {
    throw new InvalidUpgradeRequestError(
      'targetVersion',
      `targetVersion ${t} is older than the control plane's ${cp}: downgrades are not supported`,
    );
  }
  if (target.minor > controlPlane.minor + 1) {
    throw new InvalidUpgradeRequestError(
      'targetVersion',
      `targetVersion ${t} is more than one minor version above the control plane's ${cp}; ` +
        `upgrade to v${controlPlane.major}.${controlPlane.minor + 1}.x first, or name the versions to hop through ` +
        `(--via, request field 'via', or 'versions:' in the worker configuration)`,
    );
  }
}

/**
 * Version-skew rules for the nodes: with a managed control plane (no master nodes to upgrade) the
 * target may not be newer than kube-apiserver, as no kubelet may be newer than the API server; and
 * no kubelet may end up more than three minors behind an upgraded control plane. Throws
 * {@link InvalidUpgradeRequestError} saying what to do instead.
 */
export function checkVersionSkew(target: KubeVersion, controlPlane: KubeVersion, nodes: readonly ClusterNode[]): void {
  const t = formatVersion(target);
  const masters = nodes.filter((n) => n.kind === 'control-plane').length;
  if (masters === 0 && semver.gt(target, controlPlane)) {
    throw new InvalidUpgradeRequestError(
      'targetVersion',
      `targetVersion ${t} is newer than the managed control plane's ${formatVersion(controlPlane)}: ` +
        'a kubelet may not be newer than kube-apiserver; upgrade the control plane through its provider first',
    );
  }
  const behind = nodes.filter((n) => {
    const v = nodeVersion(n);
    return v !== null && v.major === target.major && v.minor < target.minor - 3;
  });
  if (behind.length > 0 && semver.gt(target, controlPlane)) {
    const names = behind
      .slice(0, 5)
      .map((n) => `${n.name} (${n.kubeletVersion})`)
      .join(', ');
    const more = behind.length > 5 ? ` and ${behind.length - 5} more` : '';
    throw new InvalidUpgradeRequestError(
      'targetVersion',
      `targetVersion ${t} would leave the kubelet on ${names}${more} more than three minor versions behind the control plane; ` +
        `upgrade those nodes to v${target.major}.${target.minor - 3}.x first`,
    );
  }
}

/** Parses a node's kubelet version; null when it cannot be parsed (such a node simply needs work). */
export function nodeVersion(node: Pick<ClusterNode, 'kubeletVersion'>): KubeVersion | null {
  return semver.parse(node.kubeletVersion.trim().replace(/^v/, ''));
}

/** Throws {@link InvalidUpgradeRequestError} when any node runs a newer kubelet than `target` (that would be a downgrade of it). */
export function checkNoNodeDowngrade(nodes: readonly ClusterNode[], target: KubeVersion): void {
  const newer = nodes.filter((n) => {
    const v = nodeVersion(n);
    return v !== null && semver.gt(v, target);
  });
  if (newer.length > 0) {
    const names = newer
      .slice(0, 5)
      .map((n) => `${n.name} (${n.kubeletVersion})`)
      .join(', ');
    const more = newer.length > 5 ? ` and ${newer.length - 5} more` : '';
    throw new InvalidUpgradeRequestError(
      'targetVersion',
      `targetVersion ${formatVersion(target)} is older than the kubelet on ${names}${more}: downgrades are not supported`,
    );
  }
}

/** True if the node already runs `target` and is Ready: it counts as upgraded, with no work. */
export function nodeIsDone(node: ClusterNode, target: KubeVersion): boolean {
  const v = nodeVersion(node);
  return v !== null && sameVersion(v, target) && node.ready;
}
