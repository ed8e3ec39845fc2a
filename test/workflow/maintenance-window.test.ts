/**
 * Maintenance windows against a real Temporal dev server and a real Worker, with fake clusters
 * (test/helpers/fake-activities.ts). Windows are a few seconds long, in UTC, computed from now.
 */
import type { Client } from '@temporalio/client';
import { cancelUpgrade, getProgress, pauseUpgrade, resumeUpgrade, startUpgrade } from '../../src/api.js';
import type { ClusterNode, Progress, UpgradeRequest } from '../../src/planning/types.js';
import { resumeSignal } from '../../src/workflows/definitions.js';
import { makeNodes, type FakeCluster } from '../helpers/fake-activities.js';
import { expectRefused } from '../helpers/expect.js';
import { eventually } from '../helpers/poll.js';
import { FROM, TO, useFakeFleet } from '../helpers/fleet-env.js';
import { NO_GATE } from '../helpers/requests.js';

const DAY = 86_400_000;

const f = useFakeFleet();
let client: Client;
beforeAll(() => {
  client = f.client;
});

function cluster(name: string, nodes: ClusterNode[]): FakeCluster {
  return f.cluster(name, nodes);
}

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
const progress = (c: FakeCluster): Promise<Progress> => getProgress(client, c.clusterId);
const start = (c: FakeCluster, extra: Partial<UpgradeRequest> = {}) =>
  startUpgrade(client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO, ...extra });
const paused = (c: FakeCluster, reason: string) =>
  eventually(`paused (${reason})`, async () => {
    const p = await progress(c);
    return p.state === 'paused' && p.pause?.reason === reason ? p : null;
  });

/** "HH:MM:SS" in UTC of `ms`. */
const hms = (ms: number) => new Date(ms).toISOString().slice(11, 19);
/** ISO-8601 without milliseconds, as progress shows window edges. */
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
/** A UTC window opening `opensIn` ms and closing `closesIn` ms from the next whole second. */
function shortWindow(opensIn: number, closesIn: number) {
  const base = Math.ceil(Date.now() / 1000) * 1000;
  return {
    opens: base + opensIn,
    closes: base + closesIn,
    window: { start: hms(base + opensIn), end: hms(base + closesIn), timezone: 'UTC' },
  };
}

describe('maintenance window', () => {
  test('nothing starts outside the window; it resumes by itself when it opens; the in-flight batch finishes when it closes', async () => {
    const c = cluster('window', makeNodes({ edge: 20, version: FROM })); // cap 2
    c.hold = true;
    const { opens, closes, window } = shortWindow(4000, 10_000);
    const handle = await start(c, { window });

    const waiting = await paused(c, 'window');
    expect(waiting.pause).toMatchObject({ reason: 'window', autoCancelAt: null, opensAt: iso(opens) });
    expect(waiting.precheck.status).toBe('passed'); // the pre-check does not wait for the window
    expect(c.touchedNodes()).toEqual([]);

    await eventually('batch 1 once the window opened', () => c.held.length === 1);
    expect(Date.now()).toBeGreaterThanOrEqual(opens - 50);
    expect(await progress(c)).toMatchObject({
      state: 'running',
      pause: null,
      workers: { batch: { number: 1, size: 1, nodes: ['edge-1'] } },
    });
    c.release();
    await eventually('batch 2', () => c.held.length === 2);

    // The window closes while batch 2 is in flight: it still finishes, then the upgrade waits for tomorrow's window.
    await sleepUntil(closes + 300);
    expect((await progress(c)).state).toBe('running');
    c.release();
    const again = await paused(c, 'window');
    expect(again.pause).toMatchObject({ autoCancelAt: null, opensAt: iso(opens + DAY) });
    expect(again.workers.upgraded).toBe(3);
    expect(c.touchedNodes()).toEqual(['edge-1', 'edge-2', 'edge-3']);
    expect([...c.nodes.values()].some((n) => n.unschedulable)).toBe(false);
    await new Promise((r) => setTimeout(r, 500));
    expect(c.touchedNodes()).toHaveLength(3);

    // Cancel is accepted while waiting for the window (it is a pause).
    await cancelUpgrade(client, c.clusterId);
    c.hold = false;
    const result = await handle.result();
    expect(result).toMatchObject({ state: 'cancelled', cancelReason: 'user', workers: { total: 20, upgraded: 3 } });
    expect(c.callsOf('cleanupUpgrade').map((x) => x.args.deleteRecords)).toEqual([false]);
  });

  test('a window pause longer than pauseTimeout does not auto-cancel', async () => {
    const c = cluster('patient', makeNodes({ edge: 3, version: FROM }));
    const { opens, window } = shortWindow(6000, 60_000);
    const handle = await start(c, { window, pauseTimeout: '3s' });
    const waiting = await paused(c, 'window');
    expect(waiting.pause!.autoCancelAt).toBeNull();

    await sleepUntil(opens - 700); // well past the 3 s pause timeout
    const p = await progress(c);
    expect(p).toMatchObject({ state: 'paused', pause: { reason: 'window' }, cancelReason: null });
    expect(c.callsOf('cleanupUpgrade')).toHaveLength(0);
    expect(c.touchedNodes()).toEqual([]);

    const result = await handle.result();
    expect(result).toMatchObject({ state: 'succeeded', workers: { total: 3, upgraded: 3 } });
    expect(c.callsOf('cleanupUpgrade')).toHaveLength(0);
  });

  test('during a window pause resume is refused, a user pause wins (with its own timeout) even after the window opened', async () => {
    const c = cluster('userwins', makeNodes({ edge: 3, version: FROM }));
    const { opens, window } = shortWindow(4000, 60_000);
    const handle = await start(c, { window, pauseTimeout: '1h' });
    await paused(c, 'window');

    await expectRefused(
      resumeUpgrade(client, c.clusterId),
      `resume refused: the upgrade is waiting for its maintenance window, which opens at ${iso(opens)}; it resumes by itself then`,
    );
    const user = await pauseUpgrade(client, c.clusterId, 'hold on');
    expect(user.pause).toMatchObject({ reason: 'user', message: 'hold on' });
    expect(user.pause!.opensAt).toBeUndefined();
    expect(Date.parse(user.pause!.autoCancelAt!) - Date.parse(user.pause!.since)).toBe(3600_000);

    await sleepUntil(opens + 1000);
    expect(await progress(c)).toMatchObject({ state: 'paused', pause: { reason: 'user' } });
    expect(c.touchedNodes()).toEqual([]);

    const resumed = await resumeUpgrade(client, c.clusterId);
    expect(resumed.state).toBe('running');
    expect((await handle.result()).state).toBe('succeeded');
  });

  test('a user resume outside the window goes back to waiting for the window; the resume signal is refused and recorded', async () => {
    const c = cluster('backtowindow', makeNodes({ edge: 3, version: FROM }));
    const { opens, window } = shortWindow(2 * 3600_000, 3 * 3600_000);
    const handle = await start(c, { window });
    await paused(c, 'window');

    await handle.signal(resumeSignal);
    const refused = await eventually('refusal recorded', async () => (await progress(c)).refusals?.find((r) => r.command === 'resume'));
    expect(refused.reason).toMatch(/waiting for its maintenance window/);

    await pauseUpgrade(client, c.clusterId);
    const back = await resumeUpgrade(client, c.clusterId);
    expect(back).toMatchObject({ state: 'paused', pause: { reason: 'window', autoCancelAt: null, opensAt: iso(opens) } });
    expect(c.callsOf('deleteFailedUpgradePods')).toHaveLength(1);

    await cancelUpgrade(client, c.clusterId);
    expect(await handle.result()).toMatchObject({ state: 'cancelled', cancelReason: 'user', workers: { upgraded: 0 } });
    expect(c.touchedNodes()).toEqual([]);
  });
});
