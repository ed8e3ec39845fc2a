import { KubeConfig, RequestContext } from '@kubernetes/client-node';
import { jest } from '@jest/globals';
import { ConnectionPool, DispatcherHttpLibrary, POOL_RENEW_MS } from '../../src/kube/connections.js';

/** A stand-in for an undici dispatcher: only close() is used. */
const dispatcher = (name: string) => {
  const d = { name, closed: false, close: async () => void (d.closed = true) };
  return d;
};
type D = Parameters<ConnectionPool['take']>[0];

describe('ConnectionPool', () => {
  it('keeps the first dispatcher and leaves the unused fresh ones of later requests to the garbage collector', () => {
    const pool = new ConnectionPool(() => 0);
    const first = dispatcher('first');
    const second = dispatcher('second');
    expect(pool.take(first as unknown as D)).toBe(first);
    expect(pool.take(second as unknown as D)).toBe(first);
    // Closing an unused undici dispatcher only builds an error object with a stack trace.
    expect(second.closed).toBe(false);
    expect(first.closed).toBe(false);
    expect(pool.kept).toBe(1);
  });

  it(`renews the kept dispatcher after ${POOL_RENEW_MS / 60_000} minutes (rotated client certificates), closing the old one`, () => {
    let now = 0;
    const pool = new ConnectionPool(() => now);
    const first = dispatcher('first');
    pool.take(first as unknown as D);
    now = POOL_RENEW_MS;
    const renewed = dispatcher('renewed');
    expect(pool.take(renewed as unknown as D)).toBe(renewed);
    expect(first.closed).toBe(true);
    expect(pool.kept).toBe(2);
  });

  describe('authentication', () => {
    /** A kubeconfig whose requests get a TLS dispatcher (skip-TLS-verify) and the given user's credentials. */
    const kubeConfig = (user: Record<string, string>): KubeConfig => {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: true }],
        users: [{ name: 'u', ...user }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      return kc;
    };
    /** One request through the pool's authentication and middleware, as client-node sends it. */
    const send = async (pool: ConnectionPool, kc: KubeConfig) => {
      const ctx = new RequestContext('https://127.0.0.1:6443/api/v1/nodes/edge-001', 'GET' as never);
      await pool.authentication(kc).applySecurityAuthentication(ctx);
      await pool.middleware.pre(ctx);
      return ctx;
    };

    it('builds a dispatcher for the first request only; later ones carry the same credentials and the kept dispatcher', async () => {
      let now = 0;
      const pool = new ConnectionPool(() => now);
      const kc = kubeConfig({ token: 'secret-token' });
      const full = jest.spyOn(kc, 'applySecurityAuthentication');
      const first = await send(pool, kc);
      const kept = first.getDispatcher();
      expect(kept).toBeDefined();
      expect(first.getHeaders()['Authorization']).toBe('Bearer secret-token');
      const second = await send(pool, kc);
      expect(second.getDispatcher()).toBe(kept);
      expect(second.getHeaders()['Authorization']).toBe('Bearer secret-token');
      expect(full).toHaveBeenCalledTimes(1);
      // Due for renewal: a fresh dispatcher again.
      now = POOL_RENEW_MS;
      const renewed = await send(pool, kc);
      expect(full).toHaveBeenCalledTimes(2);
      expect(renewed.getDispatcher()).not.toBe(kept);
      expect(pool.kept).toBe(2);
      await pool.close();
    });

    it('sends basic auth and impersonation headers like client-node does', async () => {
      const pool = new ConnectionPool(() => 0);
      const kc = kubeConfig({ username: 'ops', password: 'pw', impersonateUser: 'edge-admin' });
      const first = await send(pool, kc);
      const second = await send(pool, kc);
      for (const ctx of [first, second]) {
        expect(ctx.getHeaders()['Authorization']).toBe(`Basic ${Buffer.from('ops:pw').toString('base64')}`);
        expect(ctx.getHeaders()['Impersonate-User']).toBe('edge-admin');
      }
      expect(second.getDispatcher()).toBe(first.getDispatcher());
      await pool.close();
    });
  });
});

describe('DispatcherHttpLibrary', () => {
  /** A stand-in dispatcher that records the request and answers with `status` and `text`. */
  const answering = (status: number, text: string, fail?: Error) => {
    const seen: Array<Record<string, unknown>> = [];
    const d = {
      seen,
      request: async (opts: Record<string, unknown>) => {
        seen.push(opts);
        if (fail) throw fail;
        return {
          statusCode: status,
          headers: { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] },
          body: { text: async () => text, arrayBuffer: async () => new TextEncoder().encode(text).buffer },
        };
      },
    };
    return d;
  };

  it("sends the request's method, path, headers, body and signal through its dispatcher; hands back status, headers, body", async () => {
    const d = answering(201, '{"kind":"Event"}');
    const ctx = new RequestContext('https://10.0.0.1:6443/api/v1/namespaces/default/events?dryRun=All', 'POST' as never);
    ctx.setHeaderParam('Content-Type', 'application/json');
    ctx.setHeaderParam('Authorization', 'Bearer t');
    ctx.setBody('{"reason":"UpgradeCordoned"}');
    const signal = AbortSignal.timeout(60_000);
    ctx.setSignal(signal);
    ctx.setDispatcher(d as never);
    const res = await new DispatcherHttpLibrary().send(ctx).toPromise();
    expect(d.seen).toEqual([
      {
        origin: 'https://10.0.0.1:6443',
        path: '/api/v1/namespaces/default/events?dryRun=All',
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer t' },
        body: '{"reason":"UpgradeCordoned"}',
        signal,
      },
    ]);
    expect(res.httpStatusCode).toBe(201);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['set-cookie']).toBe('a=1, b=2');
    expect(await res.body.text()).toBe('{"kind":"Event"}');
  });

  it("rejects with the dispatcher's own error (its code is what classifies a fault)", async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' });
    const ctx = new RequestContext('https://10.0.0.1:6443/api/v1/nodes/edge-001', 'GET' as never);
    ctx.setDispatcher(answering(200, '', refused) as never);
    await expect(new DispatcherHttpLibrary().send(ctx).toPromise()).rejects.toBe(refused);
  });
});
