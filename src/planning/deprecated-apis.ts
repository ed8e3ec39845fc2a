/**
 * The deprecated-API pre-check item, judged from kube-apiserver's `apiserver_requested_deprecated_apis`
 * metric: an API that clients still request and the target no longer serves is an error. Pure: the
 * `probeNodes` activity reads /metrics, these rules judge.
 */
import { item, list } from './items.js';
import type { PrecheckItem } from './types.js';

/** One deprecated API that clients requested, from `apiserver_requested_deprecated_apis`. */
export interface DeprecatedApi {
  group: string;
  version: string;
  resource: string;
  subresource: string;
  /** The minor it is removed in, e.g. '1.35'; '' when not announced. */
  removedRelease: string;
}

/**
 * Parses the Prometheus text exposition of kube-apiserver's /metrics for
 * `apiserver_requested_deprecated_apis{group,version,resource,subresource,removed_release}` samples
 * with value 1 (the gauge is set when a deprecated API is requested, since the API server started).
 */
export function parseDeprecatedApis(metrics: string): DeprecatedApi[] {
  const out = new Map<string, DeprecatedApi>();
  for (const line of metrics.split('\n')) {
    const m = /^apiserver_requested_deprecated_apis\{(.*)\}\s+(\S+)/.exec(line.trim());
    if (!m || Number(m[2]) <= 0) continue;
    const labels: Record<string, string> = {};
    for (const l of m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    const api: DeprecatedApi = {
      group: labels.group ?? '',
      version: labels.version ?? '',
      resource: labels.resource ?? '',
      subresource: labels.subresource ?? '',
      removedRelease: labels.removed_release ?? '',
    };
    out.set(`${apiName(api)}|${api.removedRelease}`, api);
  }
  return [...out.values()];
}

const apiName = (a: DeprecatedApi) =>
  `${a.group ? `${a.group}/` : ''}${a.version} ${a.resource}${a.subresource ? `/${a.subresource}` : ''}`;

/** Minor of 'v1.34.4' or '1.35' as [major, minor]. */
const minorOf = (v: string): [number, number] | undefined => {
  const m = /^v?(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
};

/**
 * The deprecated-API item: an error for each requested API removed at or before the target minor
 * (clients still use it and break after the upgrade), normal otherwise (later removals are named).
 * `apis` undefined: the metrics could not be read (`error` says why), a warning.
 */
export function deprecatedApisItem(targetVersion: string, apis: readonly DeprecatedApi[] | undefined, error?: string): PrecheckItem {
  if (!apis)
    return item(
      'deprecated-apis',
      'warning',
      `could not read the API server's metrics to find deprecated APIs in use (${error ?? 'unknown error'}); ` +
        'the worker needs get on the non-resource URL /metrics (deploy/rbac.yaml)',
    );
  const target = minorOf(targetVersion)!;
  const removed = apis.filter((a) => {
    const r = minorOf(a.removedRelease);
    return r !== undefined && (r[0] < target[0] || (r[0] === target[0] && r[1] <= target[1]));
  });
  const later = apis.filter((a) => !removed.includes(a));
  const describe = (xs: readonly DeprecatedApi[]) =>
    list(
      xs.map((a) => `${apiName(a)} (removed in ${a.removedRelease || 'a future release'})`),
      8,
    );
  if (removed.length)
    return item(
      'deprecated-apis',
      'error',
      `clients requested APIs that ${targetVersion} no longer serves: ${describe(removed)}; ` +
        'move them to the replacement API first (kubectl get --raw /metrics | grep apiserver_requested_deprecated_apis, ' +
        'and the audit log, show who)',
    );
  return item(
    'deprecated-apis',
    'normal',
    later.length
      ? `no requested API is removed by ${targetVersion}; deprecated APIs in use, removed later: ${describe(later)}`
      : `no deprecated API was requested since the API server started (apiserver_requested_deprecated_apis)`,
  );
}
