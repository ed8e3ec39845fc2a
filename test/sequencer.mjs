/**
 * Jest's test order: files that failed last time first (jest's own rule), then the longest first, so
 * the longest files do not start last and leave the other workers idle at the end. A file's length
 * is jest's own measurement from the last run on this machine, else its seconds in
 * test/durations.json (committed, so a fresh clone in CI orders well too; refresh it with
 * `EDGE_UPGRADE_WRITE_DURATIONS=1 scripts/test.sh`), else jest orders it by file size, first.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import Sequencer from '@jest/test-sequencer';

const durations = JSON.parse(readFileSync(new URL('./durations.json', import.meta.url), 'utf8'));

export default class LongestFirst extends (Sequencer.default ?? Sequencer) {
  time(test) {
    const measured = super.time(test);
    if (measured != null) return measured;
    const seconds = durations[relative(test.context.config.rootDir, test.path)];
    return seconds == null ? undefined : seconds * 1000;
  }
}
