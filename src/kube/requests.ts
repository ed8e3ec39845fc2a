/**
 * Each Kubernetes request's verb and resource, as the API server's audit log names them, for the
 * worker's request counter (`edge_upgrade_kube_requests`). No Temporal here: the simulator uses it too.
 */

/** Counts one API request the worker sends to a cluster, by verb and resource (see {@link classifyKubeRequest}). */
export type KubeRequestCounter = (clusterId: string, verb: string, resource: string) => void;

/** A request's Kubernetes verb ('get', 'list', 'watch', 'create', …) and resource ('nodes', 'pods/eviction', 'version'). */
export interface KubeRequestKind {
  verb: string;
  resource: string;
}

// Subresources of a namespace, so /api/v1/namespaces/x/status is not read as resource 'status' in namespace x.
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/**
 * The verb and resource of a request, as the API server's audit log names them: GET of a named
 * object is `get`, of a collection `list` (or `watch` with ?watch=true or the legacy /watch/
 * prefix); POST `create`, PUT `update`, PATCH `patch`, DELETE `delete` (`deletecollection` without
 * a name). Subresources join with a slash ('pods/eviction', 'nodes/status'). Paths outside /api
 * and /apis ('/version', '/readyz') are their own resource.
 */
export function classifyKubeRequest(method: string, url: string): KubeRequestKind {
  const parsed = new URL(url, 'http://x');
  const segments = parsed.pathname.split('/').filter(Boolean);
  const m = method.toUpperCase();
  let rest: string[];
  if (segments[0] === 'api') rest = segments.slice(2);
  else if (segments[0] === 'apis') rest = segments.slice(3);
  else return { verb: m === 'GET' ? 'get' : m.toLowerCase(), resource: segments.join('/') || '/' };
  let watch = ['true', '1'].includes(parsed.searchParams.get('watch') ?? '');
  if (rest[0] === 'watch') {
    watch = true;
    rest = rest.slice(1);
  }
  if (rest[0] === 'namespaces' && rest.length >= 3 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
  const [type = '', name, sub] = rest;
  const resource = sub ? `${type}/${sub}` : type;
  const verbs: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch' };
  let verb: string;
  if (m === 'GET') verb = watch ? 'watch' : name ? 'get' : 'list';
  else if (m === 'DELETE') verb = name ? 'delete' : 'deletecollection';
  else verb = verbs[m] ?? m.toLowerCase();
  return { verb, resource };
}
