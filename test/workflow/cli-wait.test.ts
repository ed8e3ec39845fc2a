/**
 * How `start --wait` and `status --watch` end, in-process (the `main()` bin/edge-upgrade.js calls)
 * against a real dev server running the workflow with in-memory fake clusters: exit 3 at a pause
 * (unless --wait-through-pause), 4 for a partial success, 5 when --timeout runs out; `list` with
 * `--state` and `-o yaml`; and what `start` and `status` say when no worker polls the task queue.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { parse as parseYaml } from 'yaml';
import { getProgress, pauseUpgrade, resumeUpgrade, startUpgrade, upgradeHandle, type UpgradeListing } from '../../src/api.js';
import { makeNodes } from '../helpers/fake-activities.js';
import { FROM, TO, useFakeFleet } from '../helpers/fleet-env.js';
import { runInProcess, type CliRun } from '../helpers/in-process-cli.js';
import { eventually } from '../helpers/poll.js';
import { NO_GATE } from '../helpers/requests.js';
import { startDevServer } from '../helpers/temporal.js';

const f = useFakeFleet();

/** Runs `edge-upgrade --address <dev server> ...args` in-process. */
const cli = (...args: string[]): Promise<CliRun> => runInProcess('--address', f.env.address, ...args);

/** `start --wait` of `clusterId` to TO without a health gate, plus `extra` arguments. */
const startWait = (clusterId: string, ...extra: string[]): Promise<CliRun> =>
  cli('start', '--cluster', clusterId, '--to', TO, '--gate-stable-for', '0', '--wait', ...extra);

test('start --wait ends with exit 3 when a node fails and the upgrade pauses, saying what to do; the upgrade stays paused', async () => {
  const c = f.cluster('wait-paused', makeNodes({ edge: 3, version: FROM }));
  c.failUpgrade.add('edge-2');
  const r = await startWait(c.clusterId);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(3);
  const last = r.stdout.trimEnd().split('\n').at(-1)!;
  expect(last).toMatch(/^the upgrade is paused, so the wait ends here \(exit code 3; --wait-through-pause waits on\)/);
  expect(last).toContain(`edge-upgrade resume --cluster ${c.clusterId}`);
  expect(await getProgress(f.client, c.clusterId)).toMatchObject({
    state: 'paused',
    pause: { reason: 'error' },
    lastError: { node: 'edge-2' },
  });
  await upgradeHandle(f.client, c.clusterId).terminate('test over');
});

test('start --wait with a failure budget ends with exit 4 when a worker is quarantined (succeeded partially)', async () => {
  const c = f.cluster('wait-partial', makeNodes({ edge: 3, version: FROM }));
  c.failUpgrade.add('edge-3');
  const r = await startWait(c.clusterId, '--max-failures', '1');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(4);
  expect(r.stdout).toMatch(/succeeded partially/);
  expect(await getProgress(f.client, c.clusterId)).toMatchObject({ state: 'succeeded', partial: true });
});

test('status --watch --timeout ends with exit 5 while nodes are still in flight, saying it gave up', async () => {
  const c = f.cluster('wait-timeout', makeNodes({ edge: 2, version: FROM }));
  c.hold = true;
  await startUpgrade(f.client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO });
  await eventually('edge-1 in flight', () => c.held.includes('edge-1'));
  const began = Date.now();
  const r = await cli('status', '--cluster', c.clusterId, '--watch', '--timeout', '2s');
  expect(Date.now() - began).toBeGreaterThanOrEqual(2000);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(5);
  expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^gave up waiting \(--timeout\): /);
  expect((await getProgress(f.client, c.clusterId)).state).toBe('running');
  c.hold = false;
  c.release();
  expect(await upgradeHandle(f.client, c.clusterId).result()).toMatchObject({ state: 'succeeded' });
});

test('status --watch of a paused upgrade: exit 3 at once; with --wait-through-pause it waits for the resume and ends 0', async () => {
  const c = f.cluster('wait-through', makeNodes({ edge: 2, version: FROM }));
  c.hold = true;
  await startUpgrade(f.client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO });
  await eventually('edge-1 in flight', () => c.held.includes('edge-1'));
  await pauseUpgrade(f.client, c.clusterId, 'lunch rush');
  c.hold = false;
  c.release();
  await eventually('paused with nothing in flight', async () => (await getProgress(f.client, c.clusterId)).workers.upgraded === 1);

  const atOnce = await cli('status', '--cluster', c.clusterId, '--watch');
  expect(atOnce).toMatchObject({ code: 3, stderr: '' });
  expect(atOnce.stdout).toMatch(/paused/);

  const through = cli('status', '--cluster', c.clusterId, '--watch', '--wait-through-pause');
  // Still watching a second later: the pause did not end it.
  const early = await Promise.race([through.then(() => 'ended'), new Promise((r) => setTimeout(() => r('watching'), 1500))]);
  expect(early).toBe('watching');
  await resumeUpgrade(f.client, c.clusterId);
  const r = await through;
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/succeeded: all nodes at/);
});

test('list: every upgrade newest first; --state paused -o yaml gives the paused one with its pause time', async () => {
  const done = f.cluster('list-done', makeNodes({ edge: 1, version: FROM }));
  await startUpgrade(f.client, { clusterId: done.clusterId, gate: NO_GATE, targetVersion: TO });
  await upgradeHandle(f.client, done.clusterId).result();
  const paused = f.cluster('list-paused', makeNodes({ edge: 2, version: FROM }));
  paused.hold = true;
  await startUpgrade(f.client, { clusterId: paused.clusterId, gate: NO_GATE, targetVersion: TO });
  await eventually('edge-1 in flight', () => paused.held.includes('edge-1'));
  const pause = await pauseUpgrade(f.client, paused.clusterId, 'inventory');

  // Visibility follows the workflows within a moment.
  const yaml = await eventually('the paused upgrade listed', async () => {
    const r = await cli('list', '--state', 'paused', '-o', 'yaml');
    return r.code === 0 && r.stdout.includes(paused.clusterId) ? r : undefined;
  });
  expect(yaml.stderr).toBe('');
  const listed = parseYaml(yaml.stdout) as UpgradeListing[];
  expect(listed.every((u) => u.state === 'paused')).toBe(true);
  expect(listed.find((u) => u.clusterId === paused.clusterId)).toEqual({
    clusterId: paused.clusterId,
    targetVersion: TO,
    phase: 'workers',
    state: 'paused',
    startedAt: expect.any(String),
    pausedSince: pause.pause!.since,
    workflowId: upgradeHandle(f.client, paused.clusterId).workflowId,
  });

  const all = await eventually('both listed, the finished one as succeeded', async () => {
    const r = await cli('list');
    return r.code === 0 && new RegExp(`^${done.clusterId} .* succeeded`, 'm').test(r.stdout) ? r : undefined;
  });
  const rows = all.stdout.trimEnd().split('\n');
  expect(rows[0]).toMatch(/^CLUSTER +TARGET +PHASE +STATE +STARTED +PAUSED SINCE$/);
  const at = (id: string) => rows.findIndex((row) => row.startsWith(`${id} `));
  // Newest first: the paused one started last.
  expect(at(paused.clusterId)).toBeGreaterThan(0);
  expect(at(paused.clusterId)).toBeLessThan(at(done.clusterId));
  paused.hold = false;
  paused.release();
  await upgradeHandle(f.client, paused.clusterId).terminate('test over');
});

describe('no worker polls the task queue', () => {
  let bare: TestWorkflowEnvironment;
  beforeAll(async () => {
    bare = await startDevServer();
  }, 120_000);
  afterAll(async () => {
    await bare?.teardown();
  });
  const message = /^edge-upgrade: no worker is polling task queue edge-upgrade in namespace default: start one with `edge-upgrade worker`$/;

  test('start says so in one line, exit 1, and starts nothing', async () => {
    const r = await runInProcess('--address', bare.address, 'start', '--cluster', 'shop', '--to', TO);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr.trimEnd()).toMatch(message);
    await expect(upgradeHandle(bare.client, 'shop').describe()).rejects.toThrow(/not found/i);
  });

  test('status of an upgrade no worker runs says so in one line, exit 1, instead of a query failure', async () => {
    await startUpgrade(bare.client, { clusterId: 'depot', targetVersion: TO });
    const r = await runInProcess('--address', bare.address, 'status', '--cluster', 'depot');
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr.trimEnd()).toMatch(message);
    await upgradeHandle(bare.client, 'depot').terminate('test over');
  });
});
