/** The embedded dev server's dynamic config: the buffered-events limit is raised, and a given KEY=VALUE overrides it. */
import { DEV_SERVER_DYNAMIC_CONFIG, devServerDynamicConfig } from '../../src/local/temporal-dev.js';

describe('devServerDynamicConfig', () => {
  it('raises history.maximumBufferedEventsBatch above what a batch of 100 nodes brings at once (about 200 events)', () => {
    const value = devServerDynamicConfig().find((kv) => kv.startsWith('history.maximumBufferedEventsBatch='));
    expect(Number(value?.split('=')[1])).toBeGreaterThanOrEqual(400);
  });

  it('lets a given value of the same key replace the default, and adds other keys', () => {
    expect(devServerDynamicConfig(['history.maximumBufferedEventsBatch=100', 'limit.maxIDLength=255'])).toEqual([
      'history.maximumBufferedEventsBatch=100',
      'limit.maxIDLength=255',
    ]);
    expect(DEV_SERVER_DYNAMIC_CONFIG).toContain('history.maximumBufferedEventsBatch=1000');
  });

  it('refuses an entry that is not KEY=VALUE', () => {
    expect(() => devServerDynamicConfig(['history.maximumBufferedEventsBatch'])).toThrow('dynamic config must be KEY=VALUE');
  });
});
