/**
 * The worker's activity interceptor (src/activities/interceptors.ts) with a fake next(): a raw
 * network error escaping an activity becomes a one-line retryable failure, and that line is what
 * reaches the workflow's lastError and the worker's log, tagged with node and step.
 */
import type { Context } from '@temporalio/activity';
import { ActivityFailure, ApplicationFailure, DefaultFailureConverter, RetryState, defaultPayloadConverter } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityOutboundCallsInterceptor } from '@temporalio/worker';
import { activityInterceptors } from '../../src/activities/interceptors.js';
import { ErrorType } from '../../src/planning/errors.js';
import { formatLogEntry } from '../../src/worker.js';
import { stepError } from '../../src/workflows/upgrade-activities.js';

const SERVER = 'https://10.0.0.1:6443';
// What client-node (undici) throws when the API server's port is closed.
const refused = () =>
  new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' }) });

/** The interceptors of one attempt of `activityType`, as the worker builds them. */
function interceptorsFor(activityType: string, aborted = false) {
  const controller = new AbortController();
  if (aborted) controller.abort();
  const ctx = { info: { activityType }, cancellationSignal: controller.signal } as unknown as Context;
  const built = activityInterceptors((id) => (id === 'shop' ? SERVER : undefined))(ctx);
  return {
    inbound: built.inbound as Required<ActivityInboundCallsInterceptor>,
    outbound: built.outbound as Required<ActivityOutboundCallsInterceptor>,
  };
}

const input = (args: unknown[]): ActivityExecuteInput => ({ args, headers: {} });
const drainArgs = { clusterId: 'shop', targetVersion: 'v1.34.4', upgradeId: 'edge-upgrade-shop', node: 'edge-003', role: 'worker' };

/** What the activity attempt threw after the interceptor. */
async function thrownBy(inbound: Required<ActivityInboundCallsInterceptor>, args: unknown[], err: unknown): Promise<unknown> {
  return inbound
    .execute(input(args), () => Promise.reject(err))
    .then(
      () => {
        throw new Error('expected the activity to fail');
      },
      (e: unknown) => e,
    );
}

test('a raw "fetch failed" (ECONNREFUSED) becomes a one-line retryable failure naming the API server and why', async () => {
  const { inbound } = interceptorsFor('drainNode');
  const raw = refused();
  const err = await thrownBy(inbound, [drainArgs], raw);
  expect(err).toBeInstanceOf(ApplicationFailure);
  const failure = err as ApplicationFailure;
  expect(failure.message).toBe(`API server ${SERVER} unreachable: connection refused`);
  expect(failure.type).toBe(ErrorType.KubeApiUnavailable);
  expect(failure.nonRetryable).toBe(false);
  expect(failure.cause).toBe(raw); // kept for debugging (the worker log prints it at DEBUG)
});

test('that line is what reaches lastError, through the failure converter, with the node and step', async () => {
  const { inbound } = interceptorsFor('drainNode');
  const failure = (await thrownBy(inbound, [drainArgs], refused())) as ApplicationFailure;
  // As the workflow sees it once the retries are spent: an ActivityFailure whose cause came over the wire.
  const converter = new DefaultFailureConverter();
  const wire = converter.errorToFailure(
    new ActivityFailure('Activity task failed', 'drainNode', '7', RetryState.MAXIMUM_ATTEMPTS_REACHED, 'worker', failure),
    defaultPayloadConverter,
  );
  const seen = converter.failureToError(wire, defaultPayloadConverter);
  expect(stepError(seen, 'edge-003', 'drain')).toMatchObject({
    node: 'edge-003',
    step: 'drain',
    message: `API server ${SERVER} unreachable: connection refused`,
  });
});

test('the worker log line of the failed attempt is one line with that message, the node and the step', async () => {
  const { inbound, outbound } = interceptorsFor('drainNode');
  const failure = await thrownBy(inbound, [drainArgs], refused());
  // The SDK asks the outbound interceptor for the attributes of its "Activity failed" line.
  const meta = outbound.getLogAttributes({ activityType: 'drainNode', attempt: 2, error: failure }, (a) => a);
  expect(meta).toMatchObject({ clusterId: 'shop', node: 'edge-003', step: 'drain' });
  const line = formatLogEntry({ level: 'WARN', message: 'Activity failed', meta, timestampNanos: 1_780_000_000_000_000_000n }, 'INFO');
  expect(line.split('\n')).toHaveLength(1);
  expect(line).toContain(`Activity failed drainNode: API server ${SERVER} unreachable: connection refused`);
  expect(line).toMatch(/node=edge-003 step=drain/);
  expect(line).not.toContain('fetch failed');
});

test('an unknown cluster still gets a one-line message, without a server to name', async () => {
  const { inbound } = interceptorsFor('cordonNode');
  const err = (await thrownBy(inbound, [{ ...drainArgs, clusterId: 'nowhere' }], refused())) as ApplicationFailure;
  expect(err.message).toBe('API server unreachable: connection refused');
  expect(err.nonRetryable).toBe(false);
});

test('ApplicationFailures and errors after a cancellation pass through unchanged', async () => {
  const stepFailed = ApplicationFailure.nonRetryable('drain of edge-003 blocked', ErrorType.NodeStepFailed);
  expect(await thrownBy(interceptorsFor('drainNode').inbound, [drainArgs], stepFailed)).toBe(stepFailed);
  const raw = refused();
  expect(await thrownBy(interceptorsFor('drainNode', true).inbound, [drainArgs], raw)).toBe(raw);
});
