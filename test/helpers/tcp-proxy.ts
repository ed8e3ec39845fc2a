/**
 * A loopback TCP proxy for API server outages: tests point the worker's kubeconfig at it (TLS
 * passes through untouched, and the API server's certificate is for 127.0.0.1, any port) while
 * the simulator keeps talking to the API server directly. `outage(ms)` drops every connection and
 * refuses new ones for that long, as a restarting kube-apiserver or a broken link would. Its port
 * is reserved outside the ephemeral range (src/local/ports.ts): while it is down, no other file's
 * `listen(0)` server or outgoing connection can take it, so it comes back on the same port.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { releasePort, reservePort } from '../../src/local/ports.js';

export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private reopen: NodeJS.Timeout | undefined;
  private closed = false;
  /** Outages so far: when each started and ended (ms since the epoch). */
  readonly outages: Array<{ from: number; to?: number }> = [];
  /** Connections accepted so far. */
  connections = 0;

  private constructor(
    private readonly target: { host: string; port: number },
    /** The port the proxy listens on (127.0.0.1). */
    readonly port: number,
  ) {}

  /** Starts a proxy to `target` on a reserved loopback port. */
  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target, await reservePort());
    try {
      await proxy.listen(proxy.port);
    } catch (err) {
      releasePort(proxy.port);
      throw err;
    }
    return proxy;
  }

  /** `https://127.0.0.1:<port>`. */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** True while connections are refused. */
  get down(): boolean {
    return this.server === undefined;
  }

  /** Drops all connections and refuses new ones for `ms`, then accepts again. Resolves when the outage has begun. */
  async outage(ms: number): Promise<void> {
    if (this.closed) return;
    this.outages.push({ from: Date.now() });
    if (this.reopen) clearTimeout(this.reopen);
    await this.closeListener();
    this.reopen = setTimeout(() => {
      this.reopen = undefined;
      void this.relisten();
    }, ms);
  }

  /** Resolves when the current outage (if any) has ended and the proxy accepts again. */
  async restored(): Promise<void> {
    while (!this.closed && this.down) await new Promise((r) => setTimeout(r, 100));
  }

  /** Stops the proxy for good. */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.reopen) clearTimeout(this.reopen);
    await this.closeListener();
    releasePort(this.port);
  }

  /** Listens on the same port again; its reservation keeps others off it, so a failure here is a bug worth seeing. */
  private async relisten(): Promise<void> {
    try {
      await this.listen(this.port);
      this.outages.at(-1)!.to = Date.now();
    } catch (err) {
      console.error(`TcpProxy: could not listen on its reserved port ${this.port} again: ${(err as Error).message}`);
      this.closed = true;
    }
  }

  private async closeListener(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private listen(port: number): Promise<number> {
    const server = createServer((client) => {
      this.connections++;
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        if (this.closed) {
          server.close();
          resolve(port);
          return;
        }
        this.server = server;
        resolve((server.address() as { port: number }).port);
      });
    });
  }
}
