/** Worker configuration: clusters from file and environment, and the Temporal connection options built from them. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  healthChecksFor,
  imagePolicyFor,
  loadWorkerConfig,
  parseClustersEnv,
  temporalConnectionOptions,
  versionsFor,
} from '../../src/config.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-upgrade-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test.each([
  ['a=/k/a', [{ id: 'a', kubeconfig: '/k/a' }]],
  [
    'a=/k/a#ctx, b=/k/b',
    [
      { id: 'a', kubeconfig: '/k/a', context: 'ctx' },
      { id: 'b', kubeconfig: '/k/b' },
    ],
  ],
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
    file(
      'tls.yaml',
      `temporal:\n  address: t.example:7233\n  tls: { caFile: ${ca}, certFile: ${cert}, keyFile: ${key}, serverName: t.internal }\n` +
        'clusters:\n  - { id: shop, kubeconfig: /k/shop }\n',
    ),
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
  const opts = temporalConnectionOptions(
    loadWorkerConfig(undefined, { TEMPORAL_API_KEY: 'secret', TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233' }).temporal,
  );
  expect(opts).toEqual({ address: 'ns.acct.tmprl.cloud:7233', tls: {}, apiKey: 'secret' });
});

test('a certificate without its key is refused', () => {
  expect(() => loadWorkerConfig(undefined, { TEMPORAL_TLS_CERT: file('c.pem', 'C') })).toThrow(ConfigError);
});

describe('the upgrade image allow-list', () => {
  const D = 'sha256:' + '1'.repeat(64);
  const PINNED = `registry.example.com/edge-upgrade/agent@${D}`;
  const ARM = `registry.example.com/edge-upgrade/agent-arm@${D}`;

  test('worker-wide default and list, with a cluster that has its own', () => {
    const cfg = loadWorkerConfig(
      file(
        'images.yaml',
        `upgradeImage: ${PINNED}\nallowedImages: [${ARM}]\nclusters:\n  - { id: shop, kubeconfig: /k/shop }\n` +
          `  - { id: arm, kubeconfig: /k/arm, upgradeImage: ${ARM}, allowedImages: [] }\n`,
      ),
      {},
    );
    expect(imagePolicyFor(cfg, 'shop')).toEqual({ defaultImage: PINNED, allowed: [ARM] });
    expect(imagePolicyFor(cfg, 'arm')).toEqual({ defaultImage: ARM, allowed: [] });
  });

  test('no image configured means no default, not a built-in tag', () => {
    expect(imagePolicyFor(loadWorkerConfig(undefined, { EDGE_UPGRADE_CLUSTERS: 'shop=/k/shop' }), 'shop')).toEqual({ allowed: [] });
  });

  test.each([
    [
      `upgradeImage: ghcr.io/edge-upgrade/agent:0.1.0\n`,
      /^config file .*: upgradeImage: "ghcr\.io\/edge-upgrade\/agent:0\.1\.0" is not pinned by digest/,
    ],
    [`allowedImages: [${PINNED}, "evil:1"]\n`, /: allowedImages\.1: "evil:1" is not pinned by digest/],
    [
      `clusters:\n  - { id: shop, kubeconfig: /k, allowedImages: ["a b"] }\n`,
      /: clusters\.0\.allowedImages\.0: "a b" is not an image reference/,
    ],
    [`clusters:\n  - { id: shop, kubeconfig: /k, allowedImage: ${PINNED} }\n`, /clusters\.0: Unrecognized key: "allowedImage"/i],
  ])('refuses %j with one line', (yaml, message) => {
    let err: unknown;
    try {
      loadWorkerConfig(file('bad-images.yaml', yaml), {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  test('a tag-only image needs the explicit opt-in, in the file or the environment', () => {
    const tagged = file('tagged.yaml', 'upgradeImage: ghcr.io/edge-upgrade/agent:0.1.0\nallowTaggedImages: true\n');
    expect(loadWorkerConfig(tagged, {}).upgradeImage).toBe('ghcr.io/edge-upgrade/agent:0.1.0');
    expect(() => loadWorkerConfig(undefined, { EDGE_UPGRADE_IMAGE: 'ghcr.io/edge-upgrade/agent:0.1.0' })).toThrow(
      /^EDGE_UPGRADE_IMAGE: .*not pinned by digest/,
    );
    const env = loadWorkerConfig(undefined, {
      EDGE_UPGRADE_IMAGE: 'ghcr.io/edge-upgrade/agent:0.1.0',
      EDGE_UPGRADE_ALLOW_TAGGED_IMAGES: 'true',
      EDGE_UPGRADE_ALLOWED_IMAGES: `${PINNED}, ${ARM}`,
    });
    expect(env.upgradeImage).toBe('ghcr.io/edge-upgrade/agent:0.1.0');
    expect(env.allowedImages).toEqual([PINNED, ARM]);
    expect(() => loadWorkerConfig(undefined, { EDGE_UPGRADE_ALLOW_TAGGED_IMAGES: 'maybe' })).toThrow(
      /EDGE_UPGRADE_ALLOW_TAGGED_IMAGES "maybe" is not true or false/,
    );
  });
});

describe('healthChecks (extra health-gate checks)', () => {
  test('http and prometheus checks load; a cluster adds its own and replaces same-named ones', () => {
    const cfg = loadWorkerConfig(
      file(
        'checks.yaml',
        [
          'healthChecks:',
          '  shop-api: { http: { url: "https://shop.example.com/healthz", timeoutSeconds: 5 } }',
          "  error-rate: { prometheus: { url: 'http://prometheus:9090', query: 'up{job=\"pos\"} == 1' } }",
          'clusters:',
          '  - id: shop-17',
          '    kubeconfig: /k/shop-17',
          '    healthChecks:',
          '      shop-api: { http: { url: "https://shop-17.example.com/healthz" } }',
          '      till: { http: { url: "http://till:80/" } }',
        ].join('\n'),
      ),
      {},
    );
    expect(cfg.healthChecks).toEqual({
      'shop-api': { http: { url: 'https://shop.example.com/healthz', timeoutSeconds: 5 } },
      'error-rate': { prometheus: { url: 'http://prometheus:9090', query: 'up{job="pos"} == 1' } },
    });
    expect(Object.keys(healthChecksFor(cfg, 'shop-17')).sort()).toEqual(['error-rate', 'shop-api', 'till']);
    expect(healthChecksFor(cfg, 'shop-17')['shop-api']).toEqual({ http: { url: 'https://shop-17.example.com/healthz' } });
    expect(healthChecksFor(cfg, 'other')['shop-api']).toEqual({ http: { url: 'https://shop.example.com/healthz', timeoutSeconds: 5 } });
    expect(healthChecksFor(loadWorkerConfig(undefined, {}), 'shop-17')).toEqual({});
  });

  test.each([
    ['healthChecks: { a: { http: { url: "ftp://x" } } }', 'healthChecks.a.http.url: expected an http:// or https:// URL'],
    ['healthChecks: { a: { http: { url: "http://x" }, prometheus: { url: "http://p", query: up } } }', 'exactly one of http or prometheus'],
    ['healthChecks: { a: {} }', 'healthChecks.a: expected exactly one of http or prometheus'],
    ['healthChecks: { a: { grpc: {} } }', 'healthChecks.a: Unrecognized key: "grpc"'],
    ['healthChecks: { a: { prometheus: { url: "http://p" } } }', 'healthChecks.a.prometheus.query'],
    ['healthChecks: { a: { http: { url: "http://x", timeoutSeconds: 60 } } }', 'healthChecks.a.http.timeoutSeconds'],
    ['healthChecks: { nodes: { http: { url: "http://x" } } }', 'healthChecks.nodes: check name is taken by a built-in gate check'],
    ['healthChecks: { "a b": { http: { url: "http://x" } } }', 'check name may only hold letters, digits'],
  ])('%s is refused in one line', (yaml, message) => {
    const p = file('bad-checks.yaml', yaml);
    expect(() => loadWorkerConfig(p, {})).toThrow(ConfigError);
    expect(() => loadWorkerConfig(p, {})).toThrow(message);
  });
});

describe('versions for multi-minor hops', () => {
  test("a cluster's own list replaces the worker's; none when neither has one", () => {
    const cfg = loadWorkerConfig(
      file(
        'versions.yaml',
        [
          'versions: [v1.32.9, 1.33.5]',
          'clusters:',
          '  - { id: a, kubeconfig: /k/a, versions: [v1.32.11] }',
          '  - { id: b, kubeconfig: /k/b }',
        ].join('\n'),
      ),
      {},
    );
    expect(versionsFor(cfg, 'a')).toEqual(['v1.32.11']);
    expect(versionsFor(cfg, 'b')).toEqual(['v1.32.9', '1.33.5']);
    expect(versionsFor(loadWorkerConfig(undefined, {}), 'a')).toEqual([]);
  });

  test('a malformed version stops the worker with one line naming the key', () => {
    const bad = file('bad-versions.yaml', 'versions: [v1.32]');
    expect(() => loadWorkerConfig(bad, {})).toThrow(ConfigError);
    expect(() => loadWorkerConfig(bad, {})).toThrow(`config file ${bad}: versions.0: expected a Kubernetes version like v1.33.5`);
  });
});
