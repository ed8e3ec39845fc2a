/** Worker configuration: clusters from file and environment, and the Temporal connection options built from them. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadWorkerConfig, parseClustersEnv, temporalConnectionOptions } from '../../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-upgrade-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test.each([
  ['a=/k/a', [{ id: 'a', kubeconfig: '/k/a' }]],
  ['a=/k/a#ctx, b=/k/b', [{ id: 'a', kubeconfig: '/k/a', context: 'ctx' }, { id: 'b', kubeconfig: '/k/b' }]],
  ['', []],
])('EDGE_UPGRADE_CLUSTERS=%j', (value, expected) => {
  expect(parseClustersEnv(value)).toEqual(expected);
});

test('plain settings give a plain connection', () => {
  const cfg = loadWorkerConfig(undefined, {});
  expect(temporalConnectionOptions(cfg.temporal)).toEqual({ address: '127.0.0.1:7233' });
});

test('TLS and mTLS from the config file reach the connection options', () => {
  const ca = file('ca.pem', 'CA');
  const cert = file('cert.pem', 'CERT');
  const key = file('key.pem', 'KEY');
  const cfg = loadWorkerConfig(
    file('tls.yaml', `temporal:\n  address: t.example:7233\n  tls: { caFile: ${ca}, certFile: ${cert}, keyFile: ${key}, serverName: t.internal }\nclusters:\n  - { id: shop, kubeconfig: /k/shop }\n`),
    { EDGE_UPGRADE_CLUSTERS: 'shop=/k/override' },
  );
  expect(cfg.clusters.get('shop')).toEqual({ id: 'shop', kubeconfig: '/k/override' });
  const opts = temporalConnectionOptions(cfg.temporal);
  expect(opts.address).toBe('t.example:7233');
  expect(opts.tls?.serverNameOverride).toBe('t.internal');
  expect(opts.tls?.serverRootCACertificate?.toString()).toBe('CA');
  expect(opts.tls?.clientCertPair?.crt.toString()).toBe('CERT');
  expect(opts.tls?.clientCertPair?.key.toString()).toBe('KEY');
});

test('an API key implies TLS (Temporal Cloud)', () => {
  const opts = temporalConnectionOptions(loadWorkerConfig(undefined, { TEMPORAL_API_KEY: 'secret', TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233' }).temporal);
  expect(opts).toEqual({ address: 'ns.acct.tmprl.cloud:7233', tls: {}, apiKey: 'secret' });
});

test('a certificate without its key is refused', () => {
  expect(() => loadWorkerConfig(undefined, { TEMPORAL_TLS_CERT: file('c.pem', 'C') })).toThrow(ConfigError);
});
