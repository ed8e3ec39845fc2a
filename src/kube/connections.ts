/**
 * Connection reuse for one cluster. @kubernetes/client-node 2.0 builds a new undici dispatcher for
 * every request (KubeConfig.applySecurityAuthentication → createDispatcher), so each request opened
 * its own TLS connection: at 1,000 nodes that was most of the worker's CPU and memory, and much of
 * the API server's. {@link ConnectionPool.middleware} swaps each request's fresh dispatcher for one
 * kept per cluster, so requests share keep-alive connections. The kept one is replaced every
 * {@link POOL_RENEW_MS} by a fresh one (closing the old gracefully), so rotated client
 * certificates in the kubeconfig's files are still picked up. {@link ConnectionPool.authentication}
 * skips building the fresh dispatcher while the kept one serves.
 */
import {
  IsomorphicFetchHttpLibrary,
  Observable,
  ResponseContext,
  type HttpLibrary,
  type KubeConfig,
  type Middleware,
  type RequestContext,
} from '@kubernetes/client-node';
import type { RequestOptions } from 'node:https';
import { Readable } from 'node:stream';

/** How long one dispatcher (and its connections) serves a cluster before a fresh one replaces it, in ms. */
export const POOL_RENEW_MS = 5 * 60_000;

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/** client-node's SecurityAuthentication (not exported by the package). */
export interface Authentication {
  getName(): string;
  applySecurityAuthentication(ctx: RequestContext): Promise<void>;
}

/** The dispatcher requests to one cluster share. */
export class ConnectionPool {
  private dispatcher: Dispatcher | undefined;
  private since = 0;
  /** How many dispatchers were kept (1 + renewals), for tests. */
  kept = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** A client-node middleware that makes each request use the shared dispatcher. */
  readonly middleware: Middleware = {
    pre: async (ctx) => {
      const fresh = ctx.getDispatcher();
      if (fresh) ctx.setDispatcher(this.take(fresh));
      return ctx;
    },
    post: async (res) => res,
  };

  /**
   * The authentication of `kc`'s requests. KubeConfig.applySecurityAuthentication decodes the TLS
   * options and builds a new undici dispatcher for every request; while the kept dispatcher serves,
   * this sets only `kc`'s headers (bearer token, exec or auth-provider plugin, basic auth,
   * impersonation), taken from its public `applyToHTTPSOptions`, and the kept dispatcher.
   */
  authentication(kc: KubeConfig): Authentication {
    return {
      getName: () => kc.getName(),
      applySecurityAuthentication: async (ctx) => {
        const kept = this.serving();
        if (!kept) return kc.applySecurityAuthentication(ctx);
        const opts: RequestOptions = {};
        await kc.applyToHTTPSOptions(opts);
        // The same order as client-node: basic auth first, so a token header wins.
        if (opts.auth) ctx.setHeaderParam('Authorization', `Basic ${Buffer.from(opts.auth).toString('base64')}`);
        for (const [key, value] of Object.entries(opts.headers ?? {})) ctx.setHeaderParam(key, `${value}`);
        ctx.setDispatcher(kept);
      },
    };
  }

  /** The kept dispatcher while it is not due for renewal. */
  private serving(): Dispatcher | undefined {
    return this.dispatcher && this.now() - this.since < POOL_RENEW_MS ? this.dispatcher : undefined;
  }

  /** The shared dispatcher; `fresh` becomes it when there is none yet or the current one is due for renewal. */
  take(fresh: Dispatcher): Dispatcher {
    if (this.dispatcher && (fresh === this.dispatcher || this.serving())) {
      // `fresh` was never used, so it holds no connection, timer or socket: the garbage collector
      // takes it. Closing it would cost more than building it: undici builds an error object, stack
      // trace included, for each dispatcher it destroys (about 1 s of CPU per 1,000 upgraded nodes).
      return this.dispatcher;
    }
    const old = this.dispatcher;
    this.dispatcher = fresh;
    this.since = this.now();
    this.kept++;
    // Requests in flight on the old one finish; then its connections close.
    if (old && old !== fresh) void old.close().catch(() => undefined);
    return fresh;
  }

  /**
   * Closes the shared dispatcher (worker shutdown, tests): requests in flight get `graceMs` to finish,
   * then they are aborted, so a request the API server never answers cannot hold a shutdown.
   */
  async close(graceMs = 5_000): Promise<void> {
    const d = this.dispatcher;
    this.dispatcher = undefined;
    if (!d) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), graceMs)));
    const closed = await Promise.race([
      d.close().then(
        () => 'closed' as const,
        () => 'closed' as const,
      ),
      late,
    ]);
    clearTimeout(timer);
    if (closed === 'late') await d.destroy().catch(() => undefined);
  }
}

/**
 * client-node's HTTP library on undici's `Dispatcher.request` instead of WHATWG `fetch`: the same
 * dispatcher (the pool's), the same headers, body, timeout signal and errors (undici's, with their
 * codes), at a fraction of the CPU per request; fetch builds Request, Response, Headers and web
 * streams for each. A request without a dispatcher (a plain-HTTP cluster) goes through fetch.
 */
export class DispatcherHttpLibrary implements HttpLibrary {
  private readonly viaFetch = new IsomorphicFetchHttpLibrary();

  send(request: RequestContext): Observable<ResponseContext> {
    const dispatcher = request.getDispatcher();
    if (!dispatcher) return this.viaFetch.send(request);
    return new Observable(sendWith(dispatcher, request));
  }
}

async function sendWith(dispatcher: Dispatcher, request: RequestContext): Promise<ResponseContext> {
  const url = new URL(request.getUrl());
  const body = request.getBody();
  if (body !== undefined && typeof body !== 'string') throw new Error(`unsupported request body for ${request.getUrl()}`);
  const res = await dispatcher.request({
    origin: url.origin,
    path: url.pathname + url.search,
    method: request.getHttpMethod() as Parameters<Dispatcher['request']>[0]['method'],
    headers: request.getHeaders(),
    body,
    signal: request.getSignal(),
  });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return new ResponseContext(res.statusCode, headers, {
    text: () => res.body.text(),
    binary: async () => Buffer.from(await res.body.arrayBuffer()),
    stream: () => Readable.toWeb(res.body) as ReadableStream<Uint8Array>,
  });
}
