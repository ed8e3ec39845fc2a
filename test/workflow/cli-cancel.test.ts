/**
 * `edge-upgrade cancel` in-process (the `main()` bin/edge-upgrade.js calls) against a real dev
 * server running the workflow with in-memory fake clusters, so a cancel can race the last batch
 * exactly: what the CLI says without --wait, with --wait, and when the upgrade then ends some other
 * way (terminated), with the documented exit codes.
 */
import { pauseUpgrade, startUpgrade, type UpgradeHandle } from '../../src/api.js';
import { cancelUpdate, TASK_QUEUE, WORKFLOW_TYPE, workflowIdFor } from '../../src/workflows/definitions.js';
import type { upgradeCluster } from '../../src/workflows/upgrade-cluster.js';
import { makeNodes, type FakeCluster } from '../helpers/fake-activities.js';
import { FROM, TO, useFakeFleet } from '../helpers/fleet-env.js';
import { eventually } from '../helpers/poll.js';
import { NO_GATE } from '../helpers/requests.js';
import { runInProcess, type CliRun } from '../helpers/in-process-cli.js';

const f = useFakeFleet();

/** Runs `edge-upgrade --address <dev server> ...args` in-process. */
const cli = (...args: string[]): Promise<CliRun> => runInProcess('--address', f.env.address, ...args);

/** An upgrade of three workers (batches of one), paused while the last one is still upgrading. */
async function pausedDuringLastBatch(name: string): Promise<{ c: FakeCluster; handle: UpgradeHandle }> {
  const c = f.cluster(name, makeNodes({ edge: 3, version: FROM }));
  c.hold = true;
  const handle = await startUpgrade(f.client, { clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO });
  for (const n of ['edge-1', 'edge-2']) {
    await eventually(`${n} in flight`, () => c.held.includes(n));
    c.release();
  }
  await eventually('edge-3 (the last node) in flight', () => c.held.includes('edge-3'));
  await pauseUpgrade(f.client, c.clusterId);
  return { c, handle };
}

/** True once the workflow has accepted a `cancelUpdate`. */
async function cancelAccepted(handle: UpgradeHandle): Promise<boolean> {
  const { events } = await handle.fetchHistory();
  return (events ?? []).some((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === cancelUpdate.name);
}

test('cancel without --wait during the last batch: "cancel accepted" and what happens next, exit 0; it ends cancelled', async () => {
  const { c, handle } = await pausedDuringLastBatch('cli-cancel');
  const r = await cli('cancel', '--cluster', c.clusterId);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(new RegExp(`^cancel: ${handle.workflowId}: .*paused`));
  expect(lines[1]).toBe(
    'cancel accepted: nodes already started finish, then the cordons this upgrade made are removed; nothing is rolled back',
  );
  c.hold = false;
  c.release();
  expect(await handle.result()).toMatchObject({ state: 'cancelled', cancelReason: 'user', workers: { total: 3, upgraded: 3 } });
});

test('cancel --wait during the last batch waits for the node in flight, then says "cancelled", exit 0', async () => {
  const { c, handle } = await pausedDuringLastBatch('cli-cancel-wait');
  const run = cli('cancel', '--cluster', c.clusterId, '--wait');
  await eventually('the cancel accepted', () => cancelAccepted(handle));
  c.hold = false;
  c.release();
  const r = await run;
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(new RegExp(`^cancelled: ${handle.workflowId}: .*cancelled \\(user\\)`));
});

test('cancel --wait, then the upgrade is terminated: "cancel accepted, but the upgrade ended terminated", exit 1', async () => {
  const { c, handle } = await pausedDuringLastBatch('cli-cancel-terminated');
  const run = cli('cancel', '--cluster', c.clusterId, '--wait');
  await eventually('the cancel accepted', () => cancelAccepted(handle));
  await handle.terminate('an operator gave up on it');
  const r = await run;
  c.hold = false;
  c.release();
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('');
  expect(r.stdout).toMatch(new RegExp(`^cancel accepted, but the upgrade ended terminated: ${handle.workflowId}: `));
  expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
});

describe('every waiting command ends when the workflow closes without a final state (#25)', () => {
  test('status --watch on an upgrade that is then terminated: says it ended terminated, exit 1', async () => {
    const { c, handle } = await pausedDuringLastBatch('watch-terminated');
    // Through the pause (without it, the watch ends at the pause: test/workflow/cli-wait.test.ts).
    const run = cli('status', '--cluster', c.clusterId, '--watch', '--wait-through-pause');
    await handle.terminate('an operator gave up on it');
    const r = await run;
    c.hold = false;
    c.release();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^the upgrade's workflow ended terminated before the upgrade did: .*paused/);
  });

  test('status --watch on an upgrade whose workflow times out: say it ended timed out, exit 1', async () => {
    const c = f.cluster('watch-timed-out', makeNodes({ edge: 2, version: FROM }));
    c.hold = true;
    // An execution timeout: set by whoever started the workflow (here the test, as a scheduler or a script could).
    const handle = await f.client.workflow.start<typeof upgradeCluster>(WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUE,
      workflowId: workflowIdFor(c.clusterId),
      args: [{ clusterId: c.clusterId, gate: NO_GATE, targetVersion: TO }],
      workflowExecutionTimeout: '8s',
    });
    await eventually('edge-1 in flight', () => c.held.includes('edge-1'));
    const r = await cli('status', '--cluster', c.clusterId, '--watch');
    c.hold = false;
    c.release();
    expect((await handle.describe()).status.name).toBe('TIMED_OUT');
    expect(r.code).toBe(1);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^the upgrade's workflow ended timed out before the upgrade did: /);
  });

  test('start --wait on an upgrade that is then terminated: the same line, exit 1', async () => {
    const c = f.cluster('start-wait-terminated', makeNodes({ edge: 2, version: FROM }));
    c.hold = true;
    const run = cli('start', '--cluster', c.clusterId, '--to', TO, '--gate-stable-for', '0', '--wait');
    await eventually('edge-1 in flight', () => c.held.includes('edge-1'));
    await f.client.workflow.getHandle(workflowIdFor(c.clusterId)).terminate('an operator gave up on it');
    const r = await run;
    c.hold = false;
    c.release();
    expect(r.code).toBe(1);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^the upgrade's workflow ended terminated before the upgrade did: /);
  });
});
