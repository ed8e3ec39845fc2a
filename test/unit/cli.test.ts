/**
 * The CLI in-process, through the `main()` that bin/edge-upgrade.js calls: help, usage errors and
 * refusals of bad input, none of which may touch the network (Temporal points at a closed port here).
 * test/integration/cli.test.ts runs the real bin against a real stack.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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
  // Only how long `start` waits is not the request's (a schedule does not wait).
  const waiting = ['--wait', '--wait-through-pause', '--timeout'];
  expect(create).toEqual(expect.arrayContaining(start.filter((o) => !waiting.includes(o))));
});

describe('bad input is refused with one line and a non-zero exit, before anything is contacted', () => {
  const create = ['schedule', 'create', '--cluster', 'shop', '--to', 'v1.34.4', '--cron', '0 2 * * 6'];
  it.each<[string, string[], number, RegExp]>([
    ['unknown option', ['start', '--cluster', 'shop', '--to', 'v1.34.4', '--bogus'], 2, /unknown option '--bogus'/],
    ['missing --cluster', ['start', '--to', 'v1.34.4'], 2, /--cluster/],
    ['unknown command', ['frobnicate'], 2, /unknown command 'frobnicate'/],
    [
      'a near miss: the suggestion on the same line',
      ['stauts'],
      2,
      /unknown command 'stauts' \(Did you mean status\?\) \(see edge-upgrade/,
    ],
    ['a typo never suggests a command that changes things: stat', ['stat'], 2, /unknown command 'stat' \(Did you mean status\?\) \(see/],
    ['a typo never suggests a command that changes things: paus', ['paus'], 2, /unknown command 'paus' \(see edge-upgrade --help\)$/],
    ['a typo never suggests a command that changes things: cancle', ['cancle'], 2, /unknown command 'cancle' \(see edge-upgrade --help\)$/],
    [
      'a bad --timeout',
      ['status', '--cluster', 'shop', '--watch', '--timeout', 'soon'],
      2,
      /argument 'soon' is invalid\. Expected a duration/,
    ],
    ['unknown option of a schedule subcommand', ['schedule', 'list', '--bogus'], 2, /unknown option '--bogus'/],
    ['percentage out of range', ['plan', '--cluster', 'shop', '--to', 'v1.34.4', '--max-percent', '0'], 2, /percentage/],
    ['malformed --window', [...create, '--window', 'nope'], 2, /--window expects "\[days\] HH:MM/],
    ['schedule delete without a schedule', ['schedule', 'delete'], 2, /give --cluster <id> or --id <scheduleId>/],
    ['malformed version', ['start', '--cluster', 'shop', '--to', 'v1.x'], 2, /targetVersion 'v1\.x' is not a Kubernetes version/],
    ['bad duration in a schedule', [...create, '--drain-timeout', 'forever'], 2, /drainTimeout 'forever' is not a duration/],
    ['unknown time zone in a window', [...create, '--window', 'sat 02:00-05:00 Mars/Base'], 2, /unknown time zone 'Mars\/Base'/],
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

test('--version prints the package version and exits 0', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const r = await run('--version');
  expect(r).toEqual({ code: 0, stdout: `edge-upgrade ${version}\n`, stderr: '' });
});

/** The commands `--help` of `parent` lists (not `help` itself). */
async function commandsOf(...parent: string[]): Promise<string[]> {
  const help = ((await run(...parent, '--help')).stdout.split('\nCommands:\n')[1] ?? '').split('\n\n')[0]!;
  return [...help.matchAll(/^ {2}([a-z-]+)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

test("every command's --help ends with examples of it and lists the global options", async () => {
  const top = await commandsOf();
  expect(top).toEqual(expect.arrayContaining(['start', 'status', 'list', 'schedule', 'completion']));
  const all = [...top.map((c) => [c]), ...(await commandsOf('schedule')).map((c) => ['schedule', c])];
  for (const command of all) {
    const r = await run(...command, '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Global Options:\n {2}--address <host:port>/m);
    const examples = r.stdout.split('\nExamples:\n')[1];
    expect([command.join(' '), examples]).toEqual([command.join(' '), expect.stringContaining(`edge-upgrade ${command.join(' ')}`)]);
  }
  // Those about one upgrade show --cluster in use.
  for (const command of [['start'], ['status'], ['schedule', 'create']]) {
    expect((await run(...command, '--help')).stdout).toMatch(new RegExp(`^ {2}edge-upgrade ${command.join(' ')} --cluster `, 'm'));
  }
});

test('the bin under a Node older than 24 says which it needs in one line, exit 1', async () => {
  const bin = fileURLToPath(new URL('../../bin/edge-upgrade.js', import.meta.url));
  // Node 20's own version numbers, in this Node (the bin must say so before it loads anything that needs 24).
  const asNode20 =
    'data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"20.20.2"}});' +
    'Object.defineProperty(process,"version",{value:"v20.20.2"});';
  const r = await promisify(execFile)(process.execPath, ['--import', asNode20, bin, 'status', '--cluster', 'x']).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^edge-upgrade: needs Node 24 or newer, this is v20\.20\.2; .*scripts\/edge-upgrade/);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
});

describe('shell completion', () => {
  const bin = fileURLToPath(new URL('../../bin/edge-upgrade.js', import.meta.url));
  const cliOut = async (...args: string[]) => (await promisify(execFile)(process.execPath, [bin, ...args])).stdout;

  test('completion bash prints a script that bash accepts and that completes edge-upgrade', async () => {
    const script = await cliOut('completion', 'bash');
    expect(script).toMatch(/^complete -F __edge_upgrade_complete edge-upgrade$/m);
    expect(script).toContain('edge-upgrade complete -- ');
    const dir = mkdtempSync(join(tmpdir(), 'completion-'));
    try {
      writeFileSync(join(dir, 'edge-upgrade.bash'), script);
      await promisify(execFile)('bash', ['-n', join(dir, 'edge-upgrade.bash')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('completion zsh prints a compdef for edge-upgrade', async () => {
    expect((await cliOut('completion', 'zsh')).split('\n')[0]).toBe('#compdef edge-upgrade');
  });

  test('the words the scripts ask for: commands, options of a command, the choices of --state', async () => {
    const words = async (...args: string[]) =>
      (await cliOut('complete', '--', ...args))
        .trimEnd()
        .split('\n')
        .filter((l) => !l.startsWith(':'))
        .map((l) => l.split('\t')[0]);
    expect(await words('st')).toEqual(['start', 'status']);
    expect(await words('status', '--')).toEqual(expect.arrayContaining(['--cluster', '--watch', '--timeout', '--wait-through-pause']));
    expect(await words('list', '--state', '')).toEqual(['running', 'paused', 'succeeded', 'cancelled', 'failed']);
  });
});

describe('scripts/demo.sh answers --help and a bad flag at once, before it builds anything', () => {
  const demo = fileURLToPath(new URL('../../scripts/demo.sh', import.meta.url));
  const sh = (...args: string[]) =>
    promisify(execFile)('bash', [demo, ...args]).then(
      (r) => ({ code: 0, ...r }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );

  test('--help lists the same options as `edge-upgrade demo --help`, exit 0', async () => {
    const r = await sh('--help');
    expect(r.code).toBe(0);
    const script = [...r.stdout.matchAll(/^\s+(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!).sort();
    const cli = (await optionsOf('demo')).filter((o) => !/^--(address|namespace|config|output|json|version)$/.test(o));
    expect(script).toEqual([...new Set(cli)].sort());
  });

  test('a mistyped flag: one line, exit 2', async () => {
    const r = await sh('--edges', '20');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("demo.sh: unknown option '--edges' (see scripts/demo.sh --help)\n");
  });
});
