/**
 * A jest reporter that prints, after every run, the slowest test files with their wall seconds
 * (from each file's start to its end, set-up included), so a slow file shows in every CI log.
 * `EDGE_UPGRADE_SLOWEST=N` prints N files instead of 10. `EDGE_UPGRADE_WRITE_DURATIONS=1` also writes
 * the seconds of the files it ran into test/durations.json, which test/sequencer.mjs orders a fresh clone's run by.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export default class SlowestFilesReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    this.count = Number(process.env.EDGE_UPGRADE_SLOWEST ?? 10);
  }

  onRunComplete(_contexts, results) {
    const files = results.testResults
      .map((r) => ({
        file: relative(this.rootDir, r.testFilePath),
        seconds: (r.perfStats.end - r.perfStats.start) / 1000,
        failed: r.numFailingTests > 0 || Boolean(r.testExecError),
      }))
      .filter((f) => Number.isFinite(f.seconds) && f.seconds > 0)
      .sort((a, b) => b.seconds - a.seconds);
    if (!files.length) return;
    if (process.env.EDGE_UPGRADE_WRITE_DURATIONS === '1') this.writeDurations(files);
    const total = files.reduce((s, f) => s + f.seconds, 0);
    const wall = (Date.now() - results.startTime) / 1000;
    const lines = files.slice(0, this.count).map((f) => `${f.seconds.toFixed(1).padStart(8)} s  ${f.file}${f.failed ? '  (failed)' : ''}`);
    process.stderr.write(
      `\nSlowest ${Math.min(this.count, files.length)} of ${files.length} test files (seconds each; ${total.toFixed(0)} s in all files, ${wall.toFixed(0)} s wall):\n${lines.join('\n')}\n`,
    );
  }

  writeDurations(files) {
    const path = join(this.rootDir, 'test', 'durations.json');
    let byFile = {};
    try {
      byFile = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      // None yet.
    }
    for (const f of files) byFile[f.file] = Math.round(f.seconds);
    byFile = Object.fromEntries(Object.entries(byFile).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
    writeFileSync(path, `${JSON.stringify(byFile, null, 2)}\n`);
    process.stderr.write(`wrote ${path}\n`);
  }
}
