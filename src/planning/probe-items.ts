/**
 * The node-level pre-check items, judged from the read-only probes the agent ran on each node
 * (`upgrade-node.sh --check`, see agent/check-node.sh; what it reports is in probe-result.ts). The
 * deprecated-API item is in deprecated-apis.ts. Pure: the `probeNodes` activity gathers, these rules
 * judge; every rule is table-tested. Items aggregate over nodes (one item per concern, the nodes
 * concerned listed), so a 10,000-node cluster adds a handful of items to history.
 */
import { item, list } from './items.js';
import type { NodeProbe, ProbeResult } from './probe-result.js';
import type { PrecheckItem } from './types.js';

/** Free space (MiB) on /var/lib or /usr below which the node is a warning: packages and images may not fit. */
export const DISK_WARNING_MB = 2048;
/** Free space (MiB) on /var/lib or /usr below which the node is an error: the upgrade would fail to unpack. */
export const DISK_ERROR_MB = 512;
/** Days of residual validity under which a kubeadm certificate is a warning. */
export const CERT_WARNING_DAYS = 30;
/** Clock skew against the API server (s) above which a node is a warning. */
export const CLOCK_SKEW_WARNING_SECONDS = 30;
/** Clock skew (s) above which a node is an error: TLS and token validity start to fail. */
export const CLOCK_SKEW_ERROR_SECONDS = 300;

/** Item IDs, in the order they are reported. */
export const PROBE_ITEM_IDS = [
  'node-probes',
  'package-repository',
  'swap',
  'disk-space',
  'certificates',
  'container-runtime',
  'clock-skew',
] as const;

/** What the node items are judged from. */
export interface ProbeInput {
  targetVersion: string;
  probes: readonly NodeProbe[];
  /** Nodes not probed because they are offline (NotReady); `deferred` of them will be deferred. */
  offline: readonly string[];
  deferred: readonly string[];
}

const done = (probes: readonly NodeProbe[]) => probes.filter((p): p is Extract<NodeProbe, { outcome: 'done' }> => p.outcome === 'done');

/** Evaluates the node probe items, in {@link PROBE_ITEM_IDS} order. */
export function evaluateProbes(input: ProbeInput): PrecheckItem[] {
  const ok = done(input.probes);
  return [
    coverageItem(input),
    repositoryItem(ok, input.targetVersion),
    swapItem(ok),
    diskItem(ok),
    certificatesItem(ok),
    runtimeItem(ok),
    clockItem(ok),
  ];
}

/**
 * The start-to-close timeout of a `probeNodes` activity over `nodeCount` nodes: every round of
 * `concurrency` probes at its `timeoutMs`, one round more for listing and cleaning up, plus `marginMs`.
 */
export function probeActivityTimeoutMs(nodeCount: number, concurrency: number, timeoutMs: number, marginMs: number): number {
  return (Math.ceil(nodeCount / concurrency) + 1) * timeoutMs + marginMs;
}

/** The item of a disabled probe run (request `nodeProbes: false`): one normal item that says so. */
export function probesDisabledItem(): PrecheckItem {
  return item('node-probes', 'normal', 'node probes are disabled for this upgrade (nodeProbes: false); node-level checks were skipped');
}

function coverageItem({ probes, offline, deferred }: ProbeInput): PrecheckItem {
  const failed = probes.filter((p) => p.outcome === 'failed');
  const timedOut = probes.filter((p) => p.outcome === 'timeout');
  const blocked = offline.filter((n) => !deferred.includes(n));
  const ran = done(probes).length;
  const parts: string[] = [];
  const names: string[] = [];
  if (blocked.length) {
    parts.push(`${blocked.length} offline node(s) could not be probed: ${list(blocked)} (see nodes-ready)`);
    names.push(...blocked);
  }
  if (timedOut.length) {
    parts.push(`probes did not finish in time on ${list(timedOut.map((p) => p.node))}; is the agent image pullable there?`);
    names.push(...timedOut.map((p) => p.node));
  }
  if (failed.length) {
    const why = failed.map((p) => `${p.node} (${'message' in p ? p.message : ''})`);
    parts.push(`probes failed on ${list(why, 5)}`);
    names.push(...failed.map((p) => p.node));
  }
  const deferredNote = deferred.length
    ? `; ${deferred.length} offline worker(s) will be deferred and were not probed: ${list(deferred)}`
    : '';
  if (parts.length) return item('node-probes', 'warning', `${parts.join('; ')}${deferredNote}`, names);
  return item('node-probes', 'normal', `${ran} node(s) probed${deferredNote}`, [...deferred]);
}

/** The upstream version (e.g. '1.34.4') of a package version such as '1.34.4-1.1' or '1.34.4-150500.1.1'. */
const upstream = (v: string) => v.replace(/^\d+:/, '').split('-')[0]!;

type Repo = ProbeResult['repo'];
type RepoVerdict = { result: 'error' | 'warning'; text: string } | undefined;

/**
 * How one node's repository `r` serves kubeadm `version` ('1.34.4'): an error, a warning, or undefined when it does.
 * `hop` (e.g. 'v1.33.5'), for a hop's repository, is named in the text.
 */
function judgeRepo(node: string, r: Repo, version: string, hop?: string): RepoVerdict {
  const of = hop ? `hop ${hop}: ` : '';
  const versions = r.versions ?? [];
  if (r.kind === 'legacy')
    return { result: 'error', text: `${node} (${of}legacy apt/yum.kubernetes.io repository, frozen since 2023: move it to pkgs.k8s.io)` };
  if (r.kind === 'pkgs.k8s.io' && !r.reachable)
    return { result: 'error', text: `${node} (${of}${r.url ?? 'repository'} unreachable: ${r.error ?? 'unknown error'})` };
  if (r.versions && !versions.some((v) => upstream(v) === version)) {
    const has = versions.length ? `has ${list(versions.map(upstream).slice(-3))}` : `has no kubeadm v${version.replace(/\.\d+$/, '')}.x`;
    return r.kind === 'other'
      ? { result: 'warning', text: `${node} (${of}its package cache ${has}; the upgrade refreshes it first)` }
      : { result: 'error', text: `${node} (${of}repository ${has}, not ${version})` };
  }
  if (!r.versions) return { result: 'warning', text: `${node} (${of}repository reachable, but its package index could not be read)` };
  return undefined;
}

/**
 * The package-repository item: every probed node's repository must serve the target's kubeadm, and a master's
 * the kubeadm of every hop it passes through (`hopRepos`; only per-minor pkgs.k8s.io repositories, as a legacy
 * or other repository is the same source for every minor and already judged for the target).
 */
function repositoryItem(ok: ReturnType<typeof done>, targetVersion: string): PrecheckItem {
  const target = targetVersion.replace(/^v/, '');
  const found = { error: [] as string[], warning: [] as string[] };
  const names = { error: [] as string[], warning: [] as string[] };
  const available = new Set<string>();
  const hops = new Set<string>();
  let hopFailed = false;
  for (const { node, result } of ok) {
    (result.repo.versions ?? []).forEach((v) => available.add(upstream(v)));
    const verdicts = [judgeRepo(node, result.repo, target)];
    for (const h of result.hopRepos ?? []) {
      hops.add(h.version);
      if (h.kind !== 'pkgs.k8s.io') continue;
      const v = judgeRepo(node, h, h.version.replace(/^v/, ''), h.version);
      if (v?.result === 'error') hopFailed = true;
      verdicts.push(v);
    }
    for (const v of verdicts) {
      if (!v) continue;
      found[v.result].push(v.text);
      names[v.result].push(node);
    }
  }
  const what = hopFailed ? 'packages of the target or of a hop' : "target's packages";
  if (found.error.length)
    return item('package-repository', 'error', `the ${what} cannot be downloaded on: ${list(found.error, 5)}`, names.error);
  if (found.warning.length)
    return item('package-repository', 'warning', `cannot confirm kubeadm ${target} for: ${list(found.warning, 5)}`, names.warning);
  const has = available.has(target) ? `; kubeadm ${target} available` : '';
  const via = hops.size ? `, and masters theirs for the hops ${[...hops].sort().join(', ')}` : '';
  return item('package-repository', 'normal', `every probed node reaches its package repository for ${targetVersion}${via}${has}`);
}

function swapItem(ok: ReturnType<typeof done>): PrecheckItem {
  const on = ok.filter((p) => p.result.swap.enabled);
  const refused = on.filter((p) => !p.result.swap.kubeletAllows).map((p) => p.node);
  if (refused.length)
    return item(
      'swap',
      'error',
      `swap is on and the kubelet is not configured for it (failSwapOn), so the restarted kubelet would not start: ${list(refused)}; ` +
        'turn swap off (swapoff -a, and remove it from /etc/fstab) or configure the kubelet for swap',
      refused,
    );
  const allowed = on.map((p) => p.node);
  return allowed.length
    ? item('swap', 'normal', `swap is on but the kubelet allows it (failSwapOn: false): ${list(allowed)}`)
    : item('swap', 'normal', 'no probed node has swap on');
}

function diskItem(ok: ReturnType<typeof done>): PrecheckItem {
  const low: string[] = [];
  const tight: string[] = [];
  const unknown: string[] = [];
  const names = { error: [] as string[], warning: [] as string[] };
  for (const { node, result } of ok) {
    for (const d of result.disk) {
      if (d.freeMb === undefined) {
        unknown.push(`${node} ${d.path}`);
        names.warning.push(node);
      } else if (d.freeMb < DISK_ERROR_MB) {
        low.push(`${node} ${d.path} (${d.freeMb} MiB)`);
        names.error.push(node);
      } else if (d.freeMb < DISK_WARNING_MB) {
        tight.push(`${node} ${d.path} (${d.freeMb} MiB)`);
        names.warning.push(node);
      }
    }
  }
  if (low.length)
    return item('disk-space', 'error', `less than ${DISK_ERROR_MB} MiB free: ${list(low)}; free space before upgrading`, names.error);
  if (tight.length || unknown.length) {
    const parts = [];
    if (tight.length) parts.push(`less than ${DISK_WARNING_MB} MiB free: ${list(tight)}`);
    if (unknown.length) parts.push(`free space unknown (df failed): ${list(unknown)}`);
    return item('disk-space', 'warning', `${parts.join('; ')}; packages and images may not fit`, names.warning);
  }
  return item('disk-space', 'normal', `at least ${DISK_WARNING_MB} MiB free on /var/lib and /usr of every probed node`);
}

/** Residual validity in days of kubeadm's RESIDUAL TIME ('364d', '23h', '9y', '<invalid>': expired → -1). */
export function residualDays(residual: string): number | undefined {
  if (residual === '<invalid>') return -1;
  const m = /^(\d+)([ydhms])$/.exec(residual);
  if (!m) return undefined;
  const perDay = { y: 1 / 365, d: 1, h: 24, m: 24 * 60, s: 24 * 3600 }[m[2] as 'y' | 'd' | 'h' | 'm' | 's'];
  return Number(m[1]) / perDay;
}

function certificatesItem(ok: ReturnType<typeof done>): PrecheckItem {
  const expired: string[] = [];
  const soon: string[] = [];
  const unchecked: string[] = [];
  const names = { error: [] as string[], warning: [] as string[] };
  const masters = ok.filter((p) => p.result.certs !== null);
  for (const { node, result } of masters) {
    if (!result.certs!.checked) {
      unchecked.push(`${node} (${result.certs!.error ?? 'kubeadm certs check-expiration failed'})`);
      names.warning.push(node);
    }
    for (const c of result.certs!.certs ?? []) {
      const days = residualDays(c.residual);
      if (days === undefined || days >= CERT_WARNING_DAYS) continue;
      (days < 0 ? expired : soon).push(`${node} ${c.name} (${c.residual})`);
      (days < 0 ? names.error : names.warning).push(node);
    }
  }
  if (expired.length)
    return item(
      'certificates',
      'error',
      `expired kubeadm certificates: ${list(expired)}; renew them (kubeadm certs renew) before upgrading`,
      names.error,
    );
  if (soon.length || unchecked.length) {
    const parts = [];
    if (soon.length)
      parts.push(`kubeadm certificates expire within ${CERT_WARNING_DAYS} days: ${list(soon)} (kubeadm upgrade renews them, CAs excepted)`);
    if (unchecked.length) parts.push(`certificates could not be checked on ${list(unchecked, 5)}`);
    return item('certificates', 'warning', parts.join('; '), names.warning);
  }
  return masters.length
    ? item(
        'certificates',
        'normal',
        `no kubeadm certificate expires within ${CERT_WARNING_DAYS} days on ${masters.length} control-plane node(s)`,
      )
    : item('certificates', 'normal', 'no control-plane node was probed (managed control plane?)');
}

function runtimeItem(ok: ReturnType<typeof done>): PrecheckItem {
  const down = ok.filter((p) => p.result.runtime.reachable === false);
  const unknown = ok.filter((p) => p.result.runtime.reachable === null);
  if (down.length)
    return item(
      'container-runtime',
      'error',
      `the container runtime does not answer (crictl version) on: ${list(
        down.map((p) => `${p.node} (${p.result.runtime.error ?? ''})`),
        5,
      )}`,
      down.map((p) => p.node),
    );
  if (unknown.length)
    return item(
      'container-runtime',
      'warning',
      `the container runtime could not be checked (no crictl) on: ${list(unknown.map((p) => p.node))}`,
      unknown.map((p) => p.node),
    );
  const versions = new Map<string, number>();
  for (const p of ok) {
    const v = `${p.result.runtime.name ?? '?'} ${p.result.runtime.version ?? '?'}`;
    versions.set(v, (versions.get(v) ?? 0) + 1);
  }
  const seen = [...versions].map(([v, n]) => `${v} on ${n} node(s)`);
  return item('container-runtime', 'normal', seen.length ? `container runtimes: ${list(seen, 5)}` : 'no node was probed');
}

/** How far (s) the node's clock reading `time` lies outside the API server's `window`; 0 inside it. */
export function clockSkewSeconds(time: string, window: { from: string; to: string }): number {
  const t = Date.parse(time);
  const from = Date.parse(window.from);
  const to = Date.parse(window.to);
  if (![t, from, to].every(Number.isFinite)) return 0;
  // The node reports whole seconds; the API server's timestamps too: one second of slack each way.
  if (t < from - 1000) return Math.round((from - t) / 1000);
  if (t > to + 1000) return Math.round((t - to) / 1000);
  return 0;
}

function clockItem(ok: ReturnType<typeof done>): PrecheckItem {
  const skews = ok.map((p) => ({ node: p.node, s: clockSkewSeconds(p.result.time, p.window) }));
  const bad = skews.filter((x) => x.s > CLOCK_SKEW_ERROR_SECONDS);
  const off = skews.filter((x) => x.s > CLOCK_SKEW_WARNING_SECONDS);
  const describe = (xs: typeof skews) => list(xs.map((x) => `${x.node} (${x.s} s)`));
  if (bad.length)
    return item(
      'clock-skew',
      'error',
      `clocks more than ${CLOCK_SKEW_ERROR_SECONDS} s off the API server's: ${describe(bad)}; fix NTP (chrony, systemd-timesyncd) first`,
      bad.map((x) => x.node),
    );
  if (off.length)
    return item(
      'clock-skew',
      'warning',
      `clocks more than ${CLOCK_SKEW_WARNING_SECONDS} s off the API server's: ${describe(off)}; check NTP`,
      off.map((x) => x.node),
    );
  return item('clock-skew', 'normal', `every probed node's clock is within ${CLOCK_SKEW_WARNING_SECONDS} s of the API server's`);
}
