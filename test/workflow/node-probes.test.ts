/**
 * The node probes in upgradeCluster's pre-check (`probeNodes`, after `precheck`), against a real
 * Temporal dev server with fake activities: their items join the report and its blocking rules,
 * `nodeProbes: false` skips them, and probes that cannot run are a warning, not a failed upgrade.
 */
import { getProgress, startUpgrade } from '../../src/api.js';
import type { PrecheckItem, UpgradeRequest } from '../../src/planning/types.js';
import { makeNodes, type FakeCluster } from '../helpers/fake-activities.js';
import { FROM, TO, useFakeFleet } from '../helpers/fleet-env.js';
import { NO_GATE } from '../helpers/requests.js';

const f = useFakeFleet();
const start = (c: FakeCluster, extra: Partial<UpgradeRequest> = {}) =>
  startUpgrade(f.client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, ...extra });
const swapOn: PrecheckItem = { id: 'swap', result: 'error', message: 'swap is on: edge-2', nodes: ['edge-2'] };
const lowDisk: PrecheckItem = { id: 'disk-space', result: 'warning', message: 'less than 2048 MiB free: edge-1 /usr', nodes: ['edge-1'] };

describe('node probes in the pre-check', () => {
  test('probeNodes runs after precheck with the request settings, and a probe error stops before any node is touched', async () => {
    const c = f.cluster('probe-error', makeNodes({ masters: 1, edge: 3, version: FROM }));
    c.probeItems = [swapOn];
    const handle = await start(c, { offline: 'defer', nodeProbes: { concurrency: 7, timeout: '45s' } });
    await expect(handle.result()).rejects.toThrow();
    const [probe] = c.callsOf('probeNodes');
    expect(probe!.args).toEqual({
      clusterId: c.clusterId,
      targetVersion: TO,
      upgradeId: handle.workflowId,
      runChain: handle.firstExecutionRunId,
      deferOffline: true,
      concurrency: 7,
      timeoutMs: 45_000,
    });
    expect(c.calls.map((x) => x.activity).slice(0, 3)).toEqual(['inventory', 'precheck', 'probeNodes']);
    const p = await getProgress(f.client, c.clusterId);
    expect(p.precheck).toEqual({ status: 'failed', items: [swapOn] });
    expect(p.failure).toContain('swap: swap is on: edge-2 (edge-2)');
    expect(c.touchedNodes()).toEqual([]);
  });

  test('a probe warning blocks unless acceptWarnings', async () => {
    const blocked = f.cluster('probe-warning', makeNodes({ edge: 2, version: FROM }));
    blocked.probeItems = [lowDisk];
    await expect((await start(blocked)).result()).rejects.toThrow();
    expect((await getProgress(f.client, blocked.clusterId)).failure).toContain('pre-check found warnings');
    expect(blocked.touchedNodes()).toEqual([]);

    const accepted = f.cluster('probe-warning-accepted', makeNodes({ edge: 2, version: FROM }));
    accepted.probeItems = [lowDisk];
    const result = await (await start(accepted, { acceptWarnings: true })).result();
    expect(result).toMatchObject({ state: 'succeeded', precheck: { status: 'warning', items: [lowDisk] } });
  });

  test('nodeProbes: false skips the probes and says so in the report', async () => {
    const c = f.cluster('probes-off', makeNodes({ edge: 2, version: FROM }));
    const result = await (await start(c, { nodeProbes: false })).result();
    expect(c.callsOf('probeNodes')).toEqual([]);
    expect(result.state).toBe('succeeded');
    expect(result.precheck.items).toEqual([
      expect.objectContaining({ id: 'node-probes', result: 'normal', message: expect.stringContaining('disabled') }),
    ]);
  });

  test('probes that cannot run at all are a warning item naming why, not a failed upgrade', async () => {
    const c = f.cluster('probes-broken', makeNodes({ edge: 2, version: FROM }));
    c.probeError = 'cannot create pods in kube-upgrade (403)';
    const result = await (await start(c, { acceptWarnings: true })).result();
    expect(result.state).toBe('succeeded');
    expect(result.precheck.items).toEqual([
      {
        id: 'node-probes',
        result: 'warning',
        message: 'the node probes could not run: cannot create pods in kube-upgrade (403)',
        nodes: [],
      },
    ]);
  });
});
