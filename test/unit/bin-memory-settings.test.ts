/**
 * The worker's memory settings live in the #! line of bin/edge-upgrade.js (docs/sizing.md, "The
 * worker's memory settings"). A line the kernel cannot read whole, a flag this Node refuses or a
 * lost variable would quietly bring back V8's and glibc's defaults (about twice the memory), so run
 * the bin as the image does and look at what the process got.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/edge-upgrade.js', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edge-upgrade-bin-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the bin through its #! line with a preload that reports the process's flags and malloc variables, then exits. */
function processSettings(): { execArgv: string[]; env: Record<string, string | undefined> } {
  const preload = join(dir, 'report.cjs');
  writeFileSync(
    preload,
    `const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_')));
     process.stdout.write(JSON.stringify({ execArgv: process.execArgv, env }));
     process.exit(0);`,
  );
  const res = spawnSync(bin, ['--version'], {
    env: {
      ...process.env,
      PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      NODE_OPTIONS: `--require ${preload}`,
      MALLOC_ARENA_MAX: '8',
    },
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`bin/edge-upgrade.js exited ${res.status ?? res.signal}: ${res.stderr}`);
  return JSON.parse(res.stdout) as { execArgv: string[]; env: Record<string, string | undefined> };
}

test('the #! line fits in what Linux reads of it (255 characters)', () => {
  const first = readFileSync(bin, 'utf8').split('\n')[0]!;
  expect(first.startsWith('#!/usr/bin/env -S ')).toBe(true);
  expect(Buffer.byteLength(first)).toBeLessThan(256);
});

test('run as the image runs it, the worker gets the young-generation and heap-growth flags and the malloc settings', () => {
  const { execArgv, env } = processSettings();
  expect(execArgv).toEqual(expect.arrayContaining(['--max-semi-space-size=8', '--heap-growing-percent=30']));
  // The #! line's values win over any the caller's environment holds.
  expect(env).toMatchObject({ MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_MMAP_THRESHOLD_: '131072' });
});
