import { ConnectionPool, POOL_RENEW_MS } from '../../src/activities/connections.js';

/** A stand-in for an undici dispatcher: only close() is used. */
const dispatcher = (name: string) => {
  const d = { name, closed: false, close: async () => void (d.closed = true) };
  return d;
};
type D = Parameters<ConnectionPool['take']>[0];

describe('ConnectionPool', () => {
  it('keeps the first dispatcher and leaves the unused fresh ones of later requests to the garbage collector', () => {
    const pool = new ConnectionPool(() => 0);
    const first = dispatcher('first');
    const second = dispatcher('second');
    expect(pool.take(first as unknown as D)).toBe(first);
    expect(pool.take(second as unknown as D)).toBe(first);
    // Closing an unused undici dispatcher only builds an error object with a stack trace.
    expect(second.closed).toBe(false);
    expect(first.closed).toBe(false);
    expect(pool.kept).toBe(1);
  });

  it(`renews the kept dispatcher after ${POOL_RENEW_MS / 60_000} minutes (rotated client certificates), closing the old one`, () => {
    let now = 0;
    const pool = new ConnectionPool(() => now);
    const first = dispatcher('first');
    pool.take(first as unknown as D);
    now = POOL_RENEW_MS;
    const renewed = dispatcher('renewed');
    expect(pool.take(renewed as unknown as D)).toBe(renewed);
    expect(first.closed).toBe(true);
    expect(pool.kept).toBe(2);
  });
});
