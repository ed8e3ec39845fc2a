/**
 * Kubernetes API clients: every request with a timeout, optionally counted and on a shared
 * connection pool (./connections.ts); list pagination and JSON merge patches. No Temporal here:
 * the activities and the simulator both build their clients with it.
 */
import {
  createConfiguration,
  PatchStrategy,
  ServerConfiguration,
  setHeaderOptions,
  type KubeConfig,
  type Middleware,
} from '@kubernetes/client-node';
import { ConnectionPool, DispatcherHttpLibrary } from './connections.js';

/**
 * Longest a single API request may take, in ms. Without it a request to an API server that went
 * silent (not refusing, just gone) would hang for minutes and starve the activity's heartbeats.
 */
export const REQUEST_TIMEOUT_MS = 15_000;

/** Field manager of every write, so managedFields tell our changes from an operator's. */
export const FIELD_MANAGER = 'edge-upgrade';

/** Options for client-node calls that send a JSON merge patch (the default content type is JSON Patch). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Every item of a paginated list call. */
export async function listAll<T>(
  page: (cont: string | undefined) => Promise<{ items: T[]; metadata?: { _continue?: string } }>,
): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    const res = await page(cont);
    out.push(...res.items);
    cont = res.metadata?._continue || undefined;
  } while (cont);
  return out;
}

// Each request gets its own timeout signal.
const requestTimeout: Middleware = {
  pre: async (ctx) => {
    ctx.setSignal(AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    return ctx;
  },
  post: async (res) => res,
};

/** What {@link makeClient} adds to each request besides the timeout. */
export interface ClientOptions {
  /** Counts each request by its HTTP method and URL. */
  count?: (method: string, url: string) => void;
  /** Shares connections between requests (see connections.ts). */
  pool?: ConnectionPool;
}

/** The HTTP library of every pooled client (it holds no state of its own). */
const DISPATCHER_HTTP = new DispatcherHttpLibrary();

/** Builds an API client of `type` for `kc` whose requests time out after {@link REQUEST_TIMEOUT_MS}. */
export function makeClient<T>(
  kc: KubeConfig,
  type: new (config: ReturnType<typeof createConfiguration>) => T,
  opts: ClientOptions = {},
): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const { count, pool } = opts;
  const counting: Middleware = {
    pre: async (ctx) => {
      count?.(ctx.getHttpMethod(), ctx.getUrl());
      return ctx;
    },
    post: async (res) => res,
  };
  return new type(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: pool ? pool.authentication(kc) : kc },
      ...(pool ? { httpApi: DISPATCHER_HTTP } : {}),
      promiseMiddleware: [requestTimeout, ...(count ? [counting] : []), ...(pool ? [pool.middleware] : [])],
    }),
  );
}
