/**
 * The CLI in-process, through the `main()` that bin/edge-upgrade.js calls: help, usage errors and
 * refusals of bad input, none of which may touch the network (Temporal points at a closed port here).
 * test/integration/cli.test.ts runs the real bin against a real stack.
 */
import { runInProcess as run } from '../helpers/in-process-cli.js';

/** The long options a command's `--help` lists, e.g. ['--cluster', '--to', …]. */
async function optionsOf(...command: string[]): Promise<string[]> {
  const help = await run(...command, '--help');
  expect(help.code).toBe(0);
  return [...help.stdout.matchAll(/^\s+(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!);
}

const saved = process.env.TEMPORAL_ADDRESS;
beforeAll(() => {
  // A refusal that needed the server would say "cannot reach Temporal".
  process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
});
afterAll(() => {
  if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
  else process.env.TEMPORAL_ADDRESS = saved;
});

test('--help lists every command and exits 0', async () => {
  const r = await run('--help');
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  for (const name of ['precheck', 'plan', 'start', 'status', 'pause', 'resume', 'cancel', 'schedule', 'worker', 'demo']) {
    expect(r.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
  }
});

test('schedule create takes the same request options as start (window, timeouts, image)', async () => {
  const start = await optionsOf('start');
  const create = await optionsOf('schedule', 'create');
  expect(start).toEqual(expect.arrayContaining(['--window', '--pause-timeout', '--drain-timeout', '--node-timeout', '--image']));
  expect(create).toEqual(expect.arrayContaining(start.filter((o) => o !== '--wait')));
});

describe('bad input is refused with one line and a non-zero exit, before anything is contacted', () => {
  const create = ['schedule', 'create', '--cluster', 'shop', '--to', 'v1.34.4', '--cron', '0 2 * * 6'];
  it.each<[string, string[], number, RegExp]>([
    ['unknown option', ['start', '--cluster', 'shop', '--to', 'v1.34.4', '--bogus'], 2, /unknown option '--bogus'/],
    ['missing --cluster', ['start', '--to', 'v1.34.4'], 2, /--cluster/],
    ['unknown command', ['frobnicate'], 2, /unknown command 'frobnicate'/],
    ['a near miss: the suggestion on the same line', ['stat'], 2, /unknown command 'stat' \(Did you mean start\?\) \(see edge-upgrade/],
    ['unknown option of a schedule subcommand', ['schedule', 'list', '--bogus'], 2, /unknown option '--bogus'/],
    ['percentage out of range', ['plan', '--cluster', 'shop', '--to', 'v1.34.4', '--max-percent', '0'], 2, /percentage/],
    ['malformed --window', [...create, '--window', 'nope'], 2, /--window expects "\[days\] HH:MM/],
    ['schedule delete without a schedule', ['schedule', 'delete'], 2, /give --cluster <id> or --id <scheduleId>/],
    ['malformed version', ['start', '--cluster', 'shop', '--to', 'v1.x'], 1, /targetVersion 'v1\.x' is not a Kubernetes version/],
    ['bad duration in a schedule', [...create, '--drain-timeout', 'forever'], 1, /drainTimeout 'forever' is not a duration/],
    ['unknown time zone in a window', [...create, '--window', 'sat 02:00-05:00 Mars/Base'], 1, /unknown time zone 'Mars\/Base'/],
  ])('%s', async (_name, args, code, pattern) => {
    const r = await run(...args);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^edge-upgrade: /);
    expect(lines[0]).toMatch(pattern);
  });
});
