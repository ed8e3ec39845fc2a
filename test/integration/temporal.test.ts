/**
 * The Temporal half of the foundation: the dev server built from the Temporal CLI starts, registers
 * the contract's search attributes, and runs a workflow through a real worker.
 */
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fileURLToPath } from 'node:url';
import { startDevServer } from '../helpers/temporal.js';
import { hello } from '../fixtures/trivial-workflows.js';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await startDevServer();
}, 60_000);

afterAll(async () => {
  await env?.teardown();
});

test('a trivial workflow runs through a real worker on the dev server', async () => {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'foundation-check',
    workflowsPath: fileURLToPath(new URL('../fixtures/trivial-workflows.ts', import.meta.url)),
    activities: { shout: async (s: string) => s.toUpperCase() },
  });
  const result = await worker.runUntil(
    env.client.workflow.execute(hello, { taskQueue: 'foundation-check', workflowId: 'foundation-hello', args: ['edge'] }),
  );
  expect(result).toBe('hello, EDGE!');
  const history = await env.client.workflow.getHandle('foundation-hello').fetchHistory();
  expect(history.events?.some((e) => e.activityTaskCompletedEventAttributes)).toBe(true);
});

test('the dev server has the four search attributes of the contract', async () => {
  const res = await env.client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
  expect(Object.keys(res.customAttributes ?? {})).toEqual(
    expect.arrayContaining(['EdgeClusterId', 'EdgeUpgradeTarget', 'EdgeUpgradePhase', 'EdgeUpgradeState']),
  );
  for (const key of ['EdgeClusterId', 'EdgeUpgradeTarget', 'EdgeUpgradePhase', 'EdgeUpgradeState']) {
    // 2 is INDEXED_VALUE_TYPE_KEYWORD.
    expect(res.customAttributes?.[key]).toBe(2);
  }
});
