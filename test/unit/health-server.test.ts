/** The worker's probes (src/health-server.ts): what /livez and /readyz answer for each worker state. */
import { liveness, readiness } from '../../src/health-server.js';

const running = { runState: 'RUNNING', workflowPollerState: 'POLLING', activityPollerState: 'POLLING' } as const;
const answers = { ok: true, reason: 'the Temporal frontend answers' };

test.each([
  ['starting', undefined, answers, false, 'not ready: the worker is starting'],
  ['running and polling', running, answers, true, 'ready: polling the task queue'],
  ['draining', { ...running, runState: 'DRAINING' }, answers, false, 'not ready: the worker is draining'],
  ['a failed workflow poller', { ...running, workflowPollerState: 'FAILED' }, answers, false, 'not ready: the workflow poller is failed'],
  [
    'a stopped activity poller',
    { ...running, activityPollerState: 'SHUTDOWN' },
    answers,
    false,
    'not ready: the activity poller is shutdown',
  ],
  [
    'no frontend',
    running,
    { ok: false, reason: 'the Temporal frontend did not answer in 2 s (x)' },
    false,
    'not ready: the Temporal frontend did not answer in 2 s (x)',
  ],
] as const)('readiness: %s', (_what, status, frontend, ok, reason) => {
  expect(readiness(status, frontend)).toEqual({ ok, reason });
});

test.each([
  ['starting', undefined, true, 'alive: the worker is starting'],
  ['running', running, true, 'alive: the worker is running'],
  ['draining (a shutdown in progress is not a wedge)', { ...running, runState: 'DRAINING' }, true, 'alive: the worker is draining'],
  ['failed', { ...running, runState: 'FAILED' }, false, 'not alive: the worker failed'],
] as const)('liveness: %s', (_what, status, ok, reason) => {
  expect(liveness(status)).toEqual({ ok, reason });
});
