/** The CLI's patient reads: a watch outlasts a few failed polls (a server restart) but not a lasting failure. */
import { patient } from '../../src/cli/watch.js';

test('a read that fails a few times is tried again until it answers', async () => {
  let calls = 0;
  const read = patient(
    async () => {
      if (++calls < 3) throw new Error('connection refused');
      return 'progress';
    },
    1_000,
    10,
  );
  await expect(read()).resolves.toBe('progress');
  expect(calls).toBe(3);
});

test('a read that keeps failing gives up after forMs with the last error', async () => {
  let calls = 0;
  const read = patient(
    async () => {
      throw new Error(`failure ${++calls}`);
    },
    100,
    10,
  );
  const started = Date.now();
  await expect(read()).rejects.toThrow(/^failure \d+$/);
  expect(calls).toBeGreaterThan(3);
  expect(Date.now() - started).toBeLessThan(1_000);
});
