/**
 * The node-probe options of the CLI: `--no-node-probes` and `--probe-concurrency` on start,
 * schedule create and precheck become the request's `nodeProbes`, and a bad value is refused
 * before anything is contacted.
 */
import { Command } from 'commander';
import { requestFrom, requestOptions, withOptions } from '../../src/cli/options.js';
import { runInProcess as run } from '../helpers/in-process-cli.js';

/** The request `start`'s options make of `args`. */
function requestOf(...args: string[]) {
  let out: unknown;
  const cmd = withOptions(new Command('start').requiredOption('--cluster <id>').requiredOption('--to <v>'), requestOptions());
  cmd.action((o: Record<string, unknown>) => {
    out = requestFrom(o);
  });
  cmd.parse(['--cluster', 'shop', '--to', 'v1.34.4', ...args], { from: 'user' });
  return out;
}

test.each([
  [[], undefined],
  [['--no-node-probes'], false],
  [['--probe-concurrency', '50'], { concurrency: 50 }],
])('start %j sends nodeProbes %j', (args, nodeProbes) => {
  expect(requestOf(...args)).toEqual({ clusterId: 'shop', targetVersion: 'v1.34.4', ...(nodeProbes === undefined ? {} : { nodeProbes }) });
});

test.each([['start'], ['schedule', 'create'], ['precheck']])('%s … --help lists the probe options', async (...command) => {
  const help = await run(...command, '--help');
  expect(help.stdout).toContain('--no-node-probes');
  expect(help.stdout).toContain('--probe-concurrency <n>');
});

test('a probe concurrency of 0 is refused in one line before anything is contacted', async () => {
  const saved = process.env.TEMPORAL_ADDRESS;
  process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
  try {
    const r = await run('precheck', '--cluster', 'shop', '--to', 'v1.34.4', '--probe-concurrency', '0');
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('nodeProbes.concurrency must be a whole number from 1 to 500');
  } finally {
    if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = saved;
  }
});
