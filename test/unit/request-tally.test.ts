/** RequestTally: requests are counted in JavaScript and reach the metric counter in one add per label set. */
import { jest } from '@jest/globals';
import { RequestTally, TALLY_FLUSH_MS } from '../../src/request-tally.js';

type Add = { n: number; tags: Record<string, string> };

function counter(): { adds: Add[]; add: (n: number, tags?: Record<string, string>) => void } {
  const adds: Add[] = [];
  return { adds, add: (n, tags = {}) => void adds.push({ n, tags }) };
}

afterEach(() => jest.useRealTimers());

describe('RequestTally', () => {
  it('adds each label set once with its count when flushed', () => {
    const c = counter();
    const tally = new RequestTally(c);
    for (let i = 0; i < 3; i++) tally.add('shop-17', 'get', 'nodes');
    tally.add('shop-17', 'patch', 'nodes');
    tally.add('shop-18', 'get', 'nodes');
    expect(c.adds).toEqual([]);
    tally.flush();
    expect(c.adds).toEqual([
      { n: 3, tags: { cluster: 'shop-17', verb: 'get', resource: 'nodes' } },
      { n: 1, tags: { cluster: 'shop-17', verb: 'patch', resource: 'nodes' } },
      { n: 1, tags: { cluster: 'shop-18', verb: 'get', resource: 'nodes' } },
    ]);
    tally.flush();
    expect(c.adds).toHaveLength(3);
  });

  it('flushes by itself within TALLY_FLUSH_MS of the first waiting count', () => {
    jest.useFakeTimers();
    const c = counter();
    const tally = new RequestTally(c);
    tally.add('shop-17', 'create', 'events');
    jest.advanceTimersByTime(TALLY_FLUSH_MS - 1);
    tally.add('shop-17', 'create', 'events');
    expect(c.adds).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(c.adds).toEqual([{ n: 2, tags: { cluster: 'shop-17', verb: 'create', resource: 'events' } }]);
    // Nothing waits, so no timer is left behind.
    expect(jest.getTimerCount()).toBe(0);
    tally.add('shop-17', 'create', 'events');
    jest.advanceTimersByTime(TALLY_FLUSH_MS);
    expect(c.adds.map((a) => a.n)).toEqual([2, 1]);
  });
});
