/** heartbeat(): an activity's repeated heartbeat with unchanged details is not sent again within a second. */
import { jest } from '@jest/globals';
import { MockActivityEnvironment } from '@temporalio/testing';
import { SAME_HEARTBEAT_GAP_MS, heartbeat } from '../../src/activities/kube.js';

function recording(): { env: MockActivityEnvironment; sent: unknown[] } {
  const env = new MockActivityEnvironment();
  const sent: unknown[] = [];
  env.on('heartbeat', (d: unknown) => sent.push(d));
  return { env, sent };
}

afterEach(() => jest.useRealTimers());

describe('heartbeat', () => {
  it('sends changed details at once, and the same details again only after the gap', async () => {
    jest.useFakeTimers({ now: 1_000_000, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const { env, sent } = recording();
    await env.run(async () => {
      heartbeat({ phase: 'Pending' });
      heartbeat({ phase: 'Pending' });
      heartbeat({ phase: 'Running' });
      heartbeat({ phase: 'Running' });
      jest.setSystemTime(1_000_000 + SAME_HEARTBEAT_GAP_MS - 1);
      heartbeat({ phase: 'Running' });
      jest.setSystemTime(1_000_000 + SAME_HEARTBEAT_GAP_MS);
      heartbeat({ phase: 'Running' });
      heartbeat();
      heartbeat();
    });
    expect(sent).toEqual([{ phase: 'Pending' }, { phase: 'Running' }, { phase: 'Running' }, undefined]);
  });

  it('keeps each activity to its own last heartbeat', async () => {
    const a = recording();
    const b = recording();
    await a.env.run(async () => heartbeat({ n: 1 }));
    await b.env.run(async () => heartbeat({ n: 1 }));
    await a.env.run(async () => heartbeat({ n: 1 }));
    expect(a.sent).toEqual([{ n: 1 }]);
    expect(b.sent).toEqual([{ n: 1 }]);
  });

  it('does nothing outside an activity', () => {
    expect(() => heartbeat({ n: 1 })).not.toThrow();
  });
});
