/**
 * heartbeat(): an activity's repeated heartbeat with unchanged details is not sent again within a second.
 * keepHeartbeating(): a waiting activity with a heartbeat timeout still heartbeats, with its last details.
 */
import { jest } from '@jest/globals';
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { KEEPALIVE_HEARTBEAT_MS, SAME_HEARTBEAT_GAP_MS, heartbeat, keepHeartbeating } from '../../src/activities/kube.js';

function recording(info: ConstructorParameters<typeof MockActivityEnvironment>[0] = {}): { env: MockActivityEnvironment; sent: unknown[] } {
  const env = new MockActivityEnvironment(info);
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

describe('keepHeartbeating', () => {
  const fakeTime = () => jest.useFakeTimers({ now: 1_000_000, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });

  it("re-sends the activity's last details while it waits, and stops when told", async () => {
    fakeTime();
    const { env, sent } = recording({ heartbeatTimeoutMs: 10_000 });
    await env.run(async () => {
      const stop = keepHeartbeating(Context.current());
      heartbeat({ pod: 'Running' });
      // A long API call: nothing from the activity for 6 s.
      await jest.advanceTimersByTimeAsync(6_000);
      heartbeat({ pod: 'Succeeded' });
      await jest.advanceTimersByTimeAsync(KEEPALIVE_HEARTBEAT_MS - 1);
      stop();
      await jest.advanceTimersByTimeAsync(10 * KEEPALIVE_HEARTBEAT_MS);
    });
    expect(sent).toEqual([{ pod: 'Running' }, { pod: 'Running' }, { pod: 'Running' }, { pod: 'Succeeded' }]);
  });

  it("before the attempt's first heartbeat, keeps the previous attempt's details (what a retry resumes from)", async () => {
    fakeTime();
    const { env, sent } = recording({ heartbeatTimeoutMs: 10_000, heartbeatDetails: { evicted: 3 } });
    await env.run(async () => {
      const stop = keepHeartbeating(Context.current());
      await jest.advanceTimersByTimeAsync(KEEPALIVE_HEARTBEAT_MS);
      stop();
    });
    expect(sent).toEqual([{ evicted: 3 }]);
  });

  it('leaves an activity without a heartbeat timeout alone', async () => {
    fakeTime();
    const { env, sent } = recording();
    await env.run(async () => {
      const stop = keepHeartbeating(Context.current());
      await jest.advanceTimersByTimeAsync(5 * KEEPALIVE_HEARTBEAT_MS);
      stop();
    });
    expect(sent).toEqual([]);
  });
});
