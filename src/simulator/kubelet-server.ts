/**
 * A tiny HTTPS endpoint that plays the kubelet's container-log API, so `kubectl logs` and the
 * API server's pods/log subresource work for simulated pods. The API server does not verify
 * kubelet serving certificates unless told to, so a self-signed one is enough.
 */
import { createServer, type Server } from 'node:https';
import { generate } from 'selfsigned';

/** Log lines per `namespace/pod/container`. */
export type LogStore = Map<string, string[]>;

/** Key of a container's log in the store. */
export const logKey = (namespace: string, pod: string, container: string): string => `${namespace}/${pod}/${container}`;

/** Starts the log server on 127.0.0.1 (port 0 picks a free one); resolves with the server and its port. */
export async function startKubeletServer(logs: LogStore, port = 0): Promise<{ server: Server; port: number }> {
  const pems = await generate([{ name: 'commonName', value: 'edge-upgrade-simulated-kubelet' }], { keyType: 'ec', curve: 'P-256' });
  const server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (!m) {
      res.writeHead(404).end('not found\n');
      return;
    }
    const lines = logs.get(logKey(m[1]!, m[2]!, m[3]!));
    if (!lines) {
      res.writeHead(404).end(`no logs for ${m[1]}/${m[2]}/${m[3]}\n`);
      return;
    }
    const tail = Number(url.searchParams.get('tailLines') ?? '0');
    const shown = tail > 0 ? lines.slice(-tail) : lines;
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end(shown.map((l) => l + '\n').join(''));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : port };
}
