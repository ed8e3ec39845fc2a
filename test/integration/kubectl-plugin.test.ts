/**
 * The bin is also a kubectl plugin: installed as `kubectl-edge_upgrade` on PATH (package.json's
 * second bin name), `kubectl edge-upgrade …` runs it, as kubectl's plugin discovery finds it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { k8sBinDir } from '../helpers/tools.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubectl-plugin-'));
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  // What `npm install -g` does with each bin name.
  for (const [name, path] of Object.entries(pkg.bin)) symlinkSync(join(root, path), join(dir, name));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const kubectl = (...args: string[]) =>
  promisify(execFile)(join(k8sBinDir(), 'kubectl'), args, {
    // This Node first (the bin's #! line runs `node`), then the plugin's folder.
    env: { ...process.env, PATH: [dirname(process.execPath), dir, process.env.PATH].join(':') },
  });

test('kubectl plugin list finds edge-upgrade, and `kubectl edge-upgrade --version` runs it', async () => {
  expect((await kubectl('plugin', 'list')).stdout).toContain(join(dir, 'kubectl-edge_upgrade'));
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  expect((await kubectl('edge-upgrade', '--version')).stdout).toBe(`edge-upgrade ${version}\n`);
});

test("kubectl edge-upgrade passes the arguments through: a usage error is the CLI's own line, exit 2", async () => {
  const err = (await kubectl('edge-upgrade', 'stat').then(
    () => undefined,
    (e: unknown) => e,
  )) as { code: number; stderr: string };
  expect(err.code).toBe(2);
  expect(err.stderr).toMatch(/^edge-upgrade: unknown command 'stat' \(Did you mean status\?\)/);
});
