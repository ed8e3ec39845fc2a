/** The worker's log lines: one line per entry, naming node and step; stack traces only at DEBUG. */
import { ApplicationFailure } from '@temporalio/common';
import type { LogEntry } from '@temporalio/worker';
import { formatLogEntry } from '../../src/worker.js';

const failure = ApplicationFailure.create({
  message: 'API server https://127.0.0.1:6443 unreachable for 47 s: connection refused',
  type: 'KubeApiUnavailable',
  cause: new TypeError('fetch failed'),
});
const entry = (level: LogEntry['level'], message: string, meta?: Record<string, unknown>): LogEntry => ({
  level,
  message,
  meta,
  timestampNanos: 1_780_000_000_000_000_000n,
});
const activityMeta = {
  sdkComponent: 'activity',
  namespace: 'default',
  taskQueue: 'edge-upgrade',
  activityType: 'cordonNode',
  activityId: '7',
  workflowId: 'edge-upgrade-shop',
  attempt: 2,
  node: 'edge-003',
  step: 'cordon',
  error: failure,
  durationMs: 45012,
};

describe('formatLogEntry', () => {
  it.each([['INFO' as const], ['WARN' as const]])(
    'a failed attempt is one line naming activity, node, step, attempt and reason (logger at %s)',
    (level) => {
      const line = formatLogEntry(entry('WARN', 'Activity failed', activityMeta), level);
      expect(line.split('\n')).toHaveLength(1);
      expect(line).toBe(
        '2026-05-28T20:26:40.000Z WARN Activity failed cordonNode: ' +
          'API server https://127.0.0.1:6443 unreachable for 47 s: connection refused ' +
          '[activityId=7 workflowId=edge-upgrade-shop attempt=2 node=edge-003 step=cordon durationMs=45012]',
      );
    },
  );

  it('at DEBUG the stack and its causes follow', () => {
    const lines = formatLogEntry(entry('WARN', 'Activity failed', activityMeta), 'DEBUG').split('\n');
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.some((l) => /^\s+at /.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('TypeError: fetch failed'))).toBe(true);
  });

  it('an entry without metadata is just time, level and message', () => {
    expect(formatLogEntry(entry('INFO', 'Worker state changed'), 'INFO')).toBe('2026-05-28T20:26:40.000Z INFO Worker state changed');
  });
});
