/**
 * The node probe items (planning/probe-items.ts, probe-result.ts, deprecated-apis.ts): each rule
 * table-tested on probe results as the agent reports them, and the deprecated-API item on
 * kube-apiserver metrics text.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deprecatedApisItem, parseDeprecatedApis } from '../../src/planning/deprecated-apis.js';
import { clockSkewSeconds, evaluateProbes, probesDisabledItem, residualDays } from '../../src/planning/probe-items.js';
import { probeResultSchema, type NodeProbe, type ProbeResult } from '../../src/planning/probe-result.js';
import { buildUpgradePod } from '../../src/planning/upgrade-pod.js';
import { validateUpgradeRequest } from '../../src/planning/request.js';
import type { PrecheckItem } from '../../src/planning/types.js';

const NOW = '2026-11-29T06:00:00Z';
const WINDOW = { from: '2026-11-29T05:59:58Z', to: '2026-11-29T06:00:03Z' };

/** A healthy node's result, as agent/check-node.sh reports it, with `over` merged in. */
function result(node: string, over: Partial<ProbeResult> = {}): ProbeResult {
  return probeResultSchema.parse({
    v: 1,
    node,
    time: NOW,
    pm: 'apt',
    swap: { enabled: false, devices: [], kubeletAllows: false },
    disk: [
      { path: '/var/lib', freeMb: 40000 },
      { path: '/usr', freeMb: 9000 },
    ],
    repo: {
      kind: 'pkgs.k8s.io',
      url: 'https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release',
      reachable: true,
      versions: ['1.34.3-1.1', '1.34.4-1.1'],
    },
    certs: node.startsWith('cp') ? { checked: true, certs: [{ name: 'apiserver', residual: '300d' }] } : null,
    runtime: { reachable: true, name: 'containerd', version: 'v1.7.24' },
    ...over,
  });
}

const done = (node: string, over: Partial<ProbeResult> = {}, window = WINDOW): NodeProbe => ({
  node,
  outcome: 'done',
  result: result(node, over),
  window,
});

function items(probes: NodeProbe[], extra: { offline?: string[]; deferred?: string[] } = {}): Record<string, PrecheckItem> {
  const out = evaluateProbes({ targetVersion: 'v1.34.4', probes, offline: extra.offline ?? [], deferred: extra.deferred ?? [] });
  return Object.fromEntries(out.map((i) => [i.id, i]));
}

describe('node probe items', () => {
  it('healthy nodes: every item is normal, in a fixed order', () => {
    const out = evaluateProbes({ targetVersion: 'v1.34.4', probes: [done('cp-1'), done('edge-1')], offline: [], deferred: [] });
    expect(out.map((i) => [i.id, i.result])).toEqual([
      ['node-probes', 'normal'],
      ['package-repository', 'normal'],
      ['swap', 'normal'],
      ['disk-space', 'normal'],
      ['certificates', 'normal'],
      ['container-runtime', 'normal'],
      ['clock-skew', 'normal'],
    ]);
    expect(out[0]!.message).toBe('2 node(s) probed');
    expect(out[1]!.message).toContain('kubeadm 1.34.4 available');
    expect(out[5]!.message).toBe('container runtimes: containerd v1.7.24 on 2 node(s)');
  });

  it.each<[string, string, Partial<ProbeResult>, 'warning' | 'error', RegExp]>([
    [
      'package-repository',
      'unreachable',
      { repo: { kind: 'pkgs.k8s.io', url: 'https://x/Release', reachable: false, error: 'HTTP 404' } },
      'error',
      /edge-2 \(https:\/\/x\/Release unreachable: HTTP 404\)/,
    ],
    ['package-repository', 'legacy', { repo: { kind: 'legacy' } }, 'error', /legacy apt\/yum.kubernetes.io/],
    [
      'package-repository',
      'target missing',
      { repo: { kind: 'pkgs.k8s.io', reachable: true, versions: ['1.34.1-1.1', '1.34.2-1.1'] } },
      'error',
      /has 1.34.1, 1.34.2, not 1.34.4/,
    ],
    [
      'package-repository',
      'index unreadable',
      { repo: { kind: 'pkgs.k8s.io', reachable: true, versions: null } },
      'warning',
      /package index could not be read/,
    ],
    [
      'package-repository',
      'other repo, stale cache',
      { repo: { kind: 'other', versions: [] } },
      'warning',
      /package cache has no kubeadm v1.34.x/,
    ],
    [
      'swap',
      'on',
      { swap: { enabled: true, devices: ['/swapfile'], kubeletAllows: false } },
      'error',
      /swap is on .*: edge-2; turn swap off/,
    ],
    [
      'disk-space',
      'below the error level',
      { disk: [{ path: '/var/lib', freeMb: 300 }] },
      'error',
      /less than 512 MiB free: edge-2 \/var\/lib \(300 MiB\)/,
    ],
    [
      'disk-space',
      'below the warning level',
      { disk: [{ path: '/usr', freeMb: 1500 }] },
      'warning',
      /less than 2048 MiB free: edge-2 \/usr \(1500 MiB\)/,
    ],
    [
      'disk-space',
      'unknown',
      { disk: [{ path: '/usr', error: 'df: no such file' }] },
      'warning',
      /free space unknown \(df failed\): edge-2 \/usr/,
    ],
    [
      'container-runtime',
      'down',
      { runtime: { reachable: false, error: 'connection refused' } },
      'error',
      /does not answer .*edge-2 \(connection refused\)/,
    ],
    [
      'container-runtime',
      'unknown',
      { runtime: { reachable: null, error: 'crictl not found on the node' } },
      'warning',
      /no crictl\) on: edge-2/,
    ],
    ['clock-skew', '45 s ahead', { time: '2026-11-29T06:00:48Z' }, 'warning', /more than 30 s off .*: edge-2 \(45 s\)/],
    ['clock-skew', '10 minutes behind', { time: '2026-11-29T05:49:58Z' }, 'error', /more than 300 s off .*: edge-2 \(600 s\); fix NTP/],
  ])('%s: %s', (id, _case, over, level, message) => {
    const out = items([done('edge-1'), done('edge-2', over)]);
    expect(out[id]).toMatchObject({ result: level, nodes: ['edge-2'] });
    expect(out[id]!.message).toMatch(message);
    // Only that item changes.
    for (const other of Object.values(out)) if (other.id !== id) expect(other.result).toBe('normal');
  });

  const hopRepo = (version: string, over: Partial<NonNullable<ProbeResult['hopRepos']>[number]> = {}) => ({
    version,
    kind: 'pkgs.k8s.io' as const,
    url: `https://pkgs.k8s.io/core:/stable:/${version.replace(/\.\d+$/, '')}/deb/Release`,
    reachable: true,
    versions: [`${version.slice(1)}-1.1`],
    ...over,
  });
  const HOPS_OK = [hopRepo('v1.32.9'), hopRepo('v1.33.5')];

  it.each<[string, NonNullable<ProbeResult['hopRepos']>, 'normal' | 'warning' | 'error', RegExp]>([
    [
      'every hop served',
      HOPS_OK,
      'normal',
      /for v1\.34\.4, and masters theirs for the hops v1\.32\.9, v1\.33\.5; kubeadm 1\.34\.4 available/,
    ],
    [
      "a hop minor's repository unreachable",
      [hopRepo('v1.32.9'), hopRepo('v1.33.5', { reachable: false, versions: undefined, error: 'HTTP 404' })],
      'error',
      new RegExp(
        '^the packages of the target or of a hop cannot be downloaded on: ' +
          'cp-2 \\(hop v1\\.33\\.5: https://pkgs\\.k8s\\.io/core:/stable:/v1\\.33/deb/Release unreachable: HTTP 404\\)$',
      ),
    ],
    [
      "a hop's patch missing",
      [hopRepo('v1.32.9', { versions: ['1.32.7-1.1', '1.32.8-1.1'] }), hopRepo('v1.33.5')],
      'error',
      /cp-2 \(hop v1\.32\.9: repository has 1\.32\.7, 1\.32\.8, not 1\.32\.9\)/,
    ],
    [
      "a hop's index unreadable",
      [hopRepo('v1.32.9', { versions: null }), hopRepo('v1.33.5')],
      'warning',
      /cp-2 \(hop v1\.32\.9: repository reachable, but its package index could not be read\)/,
    ],
  ])('package-repository with hops: %s', (_case, hopRepos, level, message) => {
    const out = items([done('cp-1', { hopRepos: HOPS_OK }), done('cp-2', { hopRepos }), done('edge-1', { hopRepos: [] })]);
    expect(out['package-repository']).toMatchObject({ result: level, nodes: level === 'normal' ? [] : ['cp-2'] });
    expect(out['package-repository']!.message).toMatch(message);
  });

  it('package-repository: a result without hopRepos (an older agent) is judged by its target repository only', () => {
    const out = items([done('cp-1'), done('edge-1')]);
    expect(out['package-repository']).toMatchObject({ result: 'normal' });
    expect(out['package-repository']!.message).not.toMatch(/hops/);
  });

  it('package-repository: a legacy repository is one error per node, not one per hop', () => {
    const out = items([done('cp-1', { repo: { kind: 'legacy' }, hopRepos: [{ version: 'v1.33.5', kind: 'legacy' }] })]);
    expect(out['package-repository']).toMatchObject({ result: 'error', nodes: ['cp-1'] });
    expect(out['package-repository']!.message.match(/legacy/g)).toHaveLength(1);
    expect(out['package-repository']!.message).toMatch(/^the target's packages cannot be downloaded on: cp-1 \(legacy/);
  });

  it('swap on with a kubelet configured for it is normal, and says so', () => {
    const out = items([done('edge-1', { swap: { enabled: true, devices: ['/swapfile'], kubeletAllows: true } })]);
    expect(out.swap).toMatchObject({ result: 'normal', message: 'swap is on but the kubelet allows it (failSwapOn: false): edge-1' });
  });

  it.each([
    ['12d', 'warning', /expire within 30 days: cp-1 apiserver \(12d\)/],
    ['20h', 'warning', /cp-1 apiserver \(20h\)/],
    ['<invalid>', 'error', /expired kubeadm certificates: cp-1 apiserver \(<invalid>\); renew them/],
    ['45d', 'normal', /no kubeadm certificate expires within 30 days on 1 control-plane node/],
  ])('certificates: residual %s is %s', (residual, level, message) => {
    const out = items([done('cp-1', { certs: { checked: true, certs: [{ name: 'apiserver', residual }] } }), done('edge-1')]);
    expect(out.certificates!.result).toBe(level);
    expect(out.certificates!.message).toMatch(message);
  });

  it('certificates that could not be checked are a warning naming the node and why', () => {
    const out = items([done('cp-1', { certs: { checked: false, error: 'kubeadm: command not found' } })]);
    expect(out.certificates).toMatchObject({ result: 'warning', nodes: ['cp-1'] });
    expect(out.certificates!.message).toContain('cp-1 (kubeadm: command not found)');
  });

  it.each([
    ['364d', 364],
    ['9y', 9 * 365],
    ['23h', 23 / 24],
    ['<invalid>', -1],
    ['soon', undefined],
  ])('residualDays(%s) = %s', (r, days) => {
    expect(residualDays(r)).toBe(days);
  });

  it.each([
    ['inside the window', '2026-11-29T06:00:00Z', 0],
    ['one second of rounding before it', '2026-11-29T05:59:57Z', 0],
    ['ahead of its end', '2026-11-29T06:01:03Z', 60],
    ['behind its start', '2026-11-29T05:58:58Z', 60],
  ])('clock skew %s', (_c, time, s) => {
    expect(clockSkewSeconds(time, WINDOW)).toBe(s);
  });

  it('probes that timed out or failed, and offline nodes, are a warning naming them; deferred workers are only mentioned', () => {
    const out = items(
      [
        done('edge-1'),
        { node: 'edge-2', outcome: 'timeout', message: 'no result within 120 s' },
        { node: 'edge-3', outcome: 'failed', message: 'the check failed (exit 1) without a readable result' },
      ],
      { offline: ['cp-2', 'edge-4'], deferred: ['edge-4'] },
    );
    expect(out['node-probes']).toMatchObject({ result: 'warning', nodes: ['cp-2', 'edge-2', 'edge-3'] });
    expect(out['node-probes']!.message).toBe(
      '1 offline node(s) could not be probed: cp-2 (see nodes-ready); probes did not finish in time on edge-2; ' +
        'is the agent image pullable there?; probes failed on edge-3 (the check failed (exit 1) without a readable result); ' +
        '1 offline worker(s) will be deferred and were not probed: edge-4',
    );
    // The other items judge the nodes that answered.
    expect(out.swap!.result).toBe('normal');
  });

  it('only deferred offline workers: normal, naming them', () => {
    const out = items([done('edge-1')], { offline: ['edge-4'], deferred: ['edge-4'] });
    expect(out['node-probes']).toEqual({
      id: 'node-probes',
      result: 'normal',
      message: '1 node(s) probed; 1 offline worker(s) will be deferred and were not probed: edge-4',
      nodes: ['edge-4'],
    });
  });

  it('long node lists are capped in messages', () => {
    const probes = Array.from({ length: 25 }, (_, i) =>
      done(`edge-${String(i).padStart(2, '0')}`, { swap: { enabled: true, devices: [], kubeletAllows: false } }),
    );
    const out = items(probes);
    expect(out.swap!.message).toContain('edge-09 and 15 more');
    expect(out.swap!.nodes).toHaveLength(25);
  });

  it('refuses malformed agent output', () => {
    expect(probeResultSchema.safeParse({ v: 2 }).success).toBe(false);
    expect(probeResultSchema.safeParse({ ...result('x'), time: 'yesterday' }).success).toBe(false);
  });

  it('disabled probes: one normal item saying so', () => {
    expect(probesDisabledItem()).toMatchObject({
      id: 'node-probes',
      result: 'normal',
      message: expect.stringContaining('nodeProbes: false'),
    });
  });
});

/**
 * An excerpt of /metrics captured from the real v1.34.4 kube-apiserver of the local control plane
 * after clients used deprecated APIs (how: the fixture's header; test/integration/deprecated-apis.test.ts
 * makes the same kind of run), with other metrics around the one we read.
 */
const METRICS = readFileSync(fileURLToPath(new URL('../fixtures/apiserver-deprecated-apis.metrics.txt', import.meta.url)), 'utf8');

describe('deprecated APIs', () => {
  it('parses apiserver_requested_deprecated_apis samples set to 1', () => {
    expect(parseDeprecatedApis(METRICS)).toEqual([
      { group: '', version: 'v1', resource: 'componentstatuses', subresource: '', removedRelease: '' },
      { group: 'networking.k8s.io', version: 'v1beta1', resource: 'servicecidrs', subresource: '', removedRelease: '1.37' },
      { group: 'networking.k8s.io', version: 'v1beta1', resource: 'servicecidrs', subresource: 'status', removedRelease: '1.37' },
    ]);
    expect(parseDeprecatedApis('# nothing here\n')).toEqual([]);
    const zero =
      'apiserver_requested_deprecated_apis{group="batch",removed_release="1.25",resource="cronjobs",subresource="",version="v1beta1"} 0';
    expect(parseDeprecatedApis(zero)).toEqual([]);
  });

  it.each([
    [
      'v1.37.0',
      'error',
      /v1.37.0 no longer serves: networking.k8s.io\/v1beta1 servicecidrs \(removed in 1.37\), \S+ servicecidrs\/status \(removed in 1.37\)/,
    ],
    [
      'v1.36.2',
      'normal',
      /no requested API is removed by v1.36.2; deprecated APIs in use, removed later: v1 componentstatuses \(removed in a future/,
    ],
  ])('target %s: %s', (target, level, message) => {
    const item = deprecatedApisItem(target, parseDeprecatedApis(METRICS));
    expect(item.result).toBe(level);
    expect(item.message).toMatch(message);
  });

  it('an API without a removal release is never an error', () => {
    const item = deprecatedApisItem('v1.40.0', parseDeprecatedApis(METRICS));
    expect(item.result).toBe('error');
    expect(item.message).not.toContain('componentstatuses');
  });

  it('a removal in exactly the target minor is an error; the next minor is not', () => {
    const api = { group: 'x.io', version: 'v1beta1', resource: 'things', subresource: '' };
    expect(deprecatedApisItem('v1.35.0', [{ ...api, removedRelease: '1.35' }]).result).toBe('error');
    expect(deprecatedApisItem('v1.35.0', [{ ...api, removedRelease: '1.36' }]).result).toBe('normal');
  });

  it('nothing requested: normal; metrics unreadable: a warning naming the RBAC rule', () => {
    expect(deprecatedApisItem('v1.34.4', [])).toMatchObject({
      result: 'normal',
      message: expect.stringContaining('no deprecated API was requested'),
    });
    const w = deprecatedApisItem('v1.34.4', undefined, 'GET /metrics answered HTTP 403');
    expect(w.result).toBe('warning');
    expect(w.message).toContain('(GET /metrics answered HTTP 403)');
    expect(w.message).toContain('/metrics (deploy/rbac.yaml)');
  });
});

describe('check pods and the request', () => {
  const input = {
    node: 'edge-1',
    role: 'worker' as const,
    targetVersion: 'v1.34.4',
    upgradeId: 'edge-upgrade-x',
    image: 'agent:1',
    nodeTimeoutMs: 120_000,
  };

  it('a check pod is the upgrade pod with --check, AGENT_MODE, the agent-mode label, its own name and no PriorityClass', () => {
    const upgrade = buildUpgradePod(input);
    const check = buildUpgradePod({ ...input, mode: 'check' });
    expect(check.metadata!.name).toBe('check-edge-1-v1-34-4');
    expect(check.metadata!.labels).toEqual({ ...upgrade.metadata!.labels, 'edge-upgrade.io/agent-mode': 'check' });
    expect(check.spec!.containers[0]!.args).toEqual(['--check']);
    expect(check.spec!.containers[0]!.env).toContainEqual({ name: 'AGENT_MODE', value: 'check' });
    expect(check.spec!.priorityClassName).toBeUndefined();
    expect(check.spec!.activeDeadlineSeconds).toBe(120);
    // The upgrade pod is unchanged by the option.
    expect(upgrade.metadata!.name).toBe('upgrade-edge-1-v1-34-4');
    expect(upgrade.spec!.containers[0]!.args).toBeUndefined();
    expect(upgrade.spec!.priorityClassName).toBe('system-node-critical');
  });

  it.each<[string, 'control-plane' | 'first-control-plane' | 'worker', 'check' | undefined, string[] | undefined, string | undefined]>([
    ['a master probe in a multi-minor upgrade', 'control-plane', 'check', ['v1.32.9', 'v1.33.5', 'v1.34.4'], 'v1.32.9,v1.33.5'],
    ['the first master too', 'first-control-plane', 'check', ['v1.33.5', 'v1.34.4'], 'v1.33.5'],
    ['a worker (upgraded once, to the target)', 'worker', 'check', ['v1.32.9', 'v1.33.5', 'v1.34.4'], undefined],
    ['a single-minor upgrade', 'control-plane', 'check', undefined, undefined],
    ['an upgrade pod (not a probe)', 'control-plane', undefined, ['v1.33.5', 'v1.34.4'], undefined],
  ])('HOP_VERSIONS: %s', (_case, role, mode, hops, expected) => {
    const pod = buildUpgradePod({ ...input, role, ...(mode ? { mode } : {}), ...(hops ? { hops } : {}) });
    expect(pod.spec!.containers[0]!.env!.find((e) => e.name === 'HOP_VERSIONS')?.value).toBe(expected);
  });

  it.each([
    [{}, { enabled: true, concurrency: 20, timeoutMs: 120_000 }],
    [{ nodeProbes: false }, { enabled: false, concurrency: 20, timeoutMs: 120_000 }],
    [{ nodeProbes: { concurrency: 5, timeout: '30s' } }, { enabled: true, concurrency: 5, timeoutMs: 30_000 }],
  ])('request %j: nodeProbes %j', (extra, probes) => {
    expect(validateUpgradeRequest({ clusterId: 'x', targetVersion: 'v1.34.4', ...extra }).nodeProbes).toEqual(probes);
  });

  it('refuses a bad concurrency with a one-line message', () => {
    expect(() => validateUpgradeRequest({ clusterId: 'x', targetVersion: 'v1.34.4', nodeProbes: { concurrency: 0 } })).toThrow(
      'nodeProbes.concurrency must be a whole number from 1 to 500',
    );
  });
});
