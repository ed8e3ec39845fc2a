/**
 * Replay safety: every history recorded under test/histories/<label>/ (by scripts/record-histories.sh,
 * one folder per version of the workflow code) must replay against today's workflow code without a
 * nondeterminism error, so deploying a new worker never breaks an upgrade that is in flight or has
 * been paused for days. See CONTRIBUTING.md, "Changing workflow code".
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { installTestRuntime } from '../helpers/logs.js';
import { workflowBundle } from '../helpers/temporal.js';

// No dev server here to install the quiet runtime, and the replayer would create a loud one.
installTestRuntime();

const root = fileURLToPath(new URL('../histories/', import.meta.url));
const files = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) =>
    readdirSync(root + d.name)
      .filter((f) => f.endsWith('.json'))
      .map((f) => `${d.name}/${f}`),
  )
  .sort();

test('recorded histories cover every scenario the recorder knows', () => {
  const recorder = readFileSync(root + 'record.ts', 'utf8');
  // Scenario names are the `name:` lines at the scenario list's indentation.
  const scenarios = [...recorder.matchAll(/^ {4}name: '([a-z-]+)',$/gm)].map((m) => m[1]!);
  expect(scenarios.length).toBeGreaterThanOrEqual(12);
  for (const s of scenarios) expect(files.filter((f) => f.split('/')[1]!.startsWith(`${s}.`))).not.toEqual([]);
});

/** Each file's replay outcome (undefined: it replayed cleanly), from one replay worker for all of them. */
const outcomes = new Map<string, Error | undefined>();

beforeAll(async () => {
  // One replay worker for every history: a worker per history loads the workflow bundle each time (seconds of CPU).
  const histories = files.map((file) => ({
    workflowId: `replay-${file}`,
    history: JSON.parse(readFileSync(root + file, 'utf8')) as unknown,
  }));
  for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories))
    outcomes.set(r.workflowId, r.error);
}, 120_000);

test.each(files)('%s replays against the current workflow code', (file) => {
  expect(outcomes.has(`replay-${file}`)).toBe(true);
  const error = outcomes.get(`replay-${file}`);
  if (error) throw error;
});
