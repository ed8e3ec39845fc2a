/**
 * Temporal Cloud's API key (#26): a local server cannot check one, so this test stands in for the
 * frontend with a TLS HTTP/2 server that records what a client sends and refuses it. The CLI and the
 * worker, given `temporal.apiKeyFile`, must send the key as a bearer token over TLS on their first
 * call, and neither may print the key.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer, type IncomingHttpHeaders } from 'node:http2';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { makeCertificates } from '../../src/local/prod-temporal-files.js';
import { runCli } from '../helpers/cli.js';

const KEY = 'edge-test-api-key-0123456789';
let dir: string;
let server: Http2SecureServer;
let address: string;
/** The headers of every gRPC call the server received. */
const calls: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edge-upgrade-apikey-'));
  makeCertificates(join(dir, 'certs'));
  server = createSecureServer({
    cert: readFileSync(join(dir, 'certs', 'server.pem')),
    key: readFileSync(join(dir, 'certs', 'server.key')),
  });
  server.on('stream', (stream, headers) => {
    calls.push(headers);
    // As Temporal Cloud answers a key it does not accept.
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '16', 'grpc-message': 'Request unauthorized.' }));
    stream.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  address = `127.0.0.1:${port}`;
  writeFileSync(join(dir, 'api-key'), `${KEY}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'kubeconfig'), 'apiVersion: v1\nkind: Config\n');
  const config = {
    temporal: {
      address,
      namespace: 'edge.a1b2c',
      apiKeyFile: join(dir, 'api-key'),
      tls: { caFile: join(dir, 'certs', 'ca.pem'), serverName: 'localhost' },
    },
    clusters: [{ id: 'shop', kubeconfig: join(dir, 'kubeconfig') }],
  };
  writeFileSync(join(dir, 'edge-upgrade.yaml'), stringify(config));
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.each([
  ['the CLI', ['status', '--cluster', 'shop']],
  ['the worker', ['worker']],
])(
  '%s sends the API key from apiKeyFile as a bearer token over TLS, and never prints it',
  async (_who, args) => {
    const from = calls.length;
    const r = await runCli(args, { EDGE_UPGRADE_CONFIG: join(dir, 'edge-upgrade.yaml') }, 60_000);
    expect(r.code).not.toBe(0);
    const sent = calls.slice(from);
    expect(sent.length).toBeGreaterThanOrEqual(1);
    for (const h of sent) {
      expect(h.authorization).toBe(`Bearer ${KEY}`);
      expect(h['content-type']).toMatch(/^application\/grpc/);
    }
    // The first call is the connection's check (GetSystemInfo), which names no namespace; the server refuses it.
    expect(sent[0]![':path']).toBe('/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo');
    expect(r.stdout + r.stderr).not.toContain(KEY);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  },
  90_000,
);
