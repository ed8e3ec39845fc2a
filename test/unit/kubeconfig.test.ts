/**
 * Loading a cluster's kubeconfig: errors name the path and line:column and never quote the file (a
 * kubeconfig holds tokens), and token files work in kubectl's and client-node's spelling, trimmed
 * and re-read so a rotated ServiceAccount token is picked up.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterRegistry } from '../../src/cluster-registry.js';
import { ConfigError } from '../../src/config.js';
import { KubeconfigError, loadKubeconfig, TOKEN_FILE_TTL_MS, tokenFileAuthenticator } from '../../src/kubeconfig.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-upgrade-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const kubeconfig = (user: string) =>
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: c',
    '  cluster:',
    '    server: https://127.0.0.1:6443',
    'users:',
    '- name: u',
    '  user:',
    ...user.split('\n').map((l) => `    ${l}`),
    'contexts:',
    '- name: x',
    '  context: { cluster: c, user: u }',
    'current-context: x',
    '',
  ].join('\n');

/** The message of what `fn` throws. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

/** Authorization header the loaded config sends. */
async function authorization(path: string): Promise<string | undefined> {
  const opts: { headers?: Record<string, string> } = {};
  await loadKubeconfig(path).applyToHTTPSOptions(opts as never);
  return opts.headers?.Authorization;
}

describe('a malformed kubeconfig is reported by path and line:column, never by content', () => {
  it.each([
    ['bad indentation right after the token', kubeconfig('token: SECRET\n  bad: indentation'), /:10:\d+: not valid YAML \(/],
    ['an unterminated quote', kubeconfig('token: "SECRET'), /:\d+:\d+: not valid YAML \(/],
    ['a duplicate key', kubeconfig('token: SECRET\ntoken: SECRET2'), /:11:\d+: not valid YAML \(duplicate key\)/],
    ['a tab in the indentation', kubeconfig('token: SECRET').replace('  user:', '\tuser:'), /:\d+:\d+: not valid YAML \(/],
  ])('%s', (_what, text, position) => {
    const path = file('broken.kubeconfig', text);
    const err = thrown(() => loadKubeconfig(path));
    expect(err).toBeInstanceOf(KubeconfigError);
    expect(err.message.startsWith(`kubeconfig ${path}:`)).toBe(true);
    expect(err.message).toMatch(position);
    expect(err.message).not.toMatch(/SECRET|token/);
    expect(err.message).not.toContain('\n');
  });

  it.each([
    ['a scalar', 'SECRET\n', /not a kubeconfig/],
    ['a user without a name', kubeconfig('token: SECRET').replace('- name: u', '- nom: u'), /users\[0\]\.name is missing/],
    [
      'a current-context that is not in the file',
      kubeconfig('token: SECRET').replace('current-context: x', 'current-context: SECRET'),
      /current-context is not set or names no context/,
    ],
  ])('%s', (_what, text, message) => {
    const path = file('wrong.kubeconfig', text);
    const err = thrown(() => loadKubeconfig(path));
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('SECRET');
  });

  it('the worker registry reports it for the cluster, still without content', () => {
    const path = file('shop.kubeconfig', kubeconfig('token: SECRET\n  bad: indentation'));
    const err = thrown(() => new ClusterRegistry(new Map([['shop', { id: 'shop', kubeconfig: path }]])).kubeConfig('shop'));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(new RegExp(`^cluster "shop": kubeconfig ${path}:10:\\d+: not valid YAML`));
    expect(err.message).not.toContain('SECRET');
  });
});

describe('token files', () => {
  it.each(['tokenFile', 'token-file'])('%s is read, trimmed, relative to the kubeconfig', async (key) => {
    file('sa-token', 'abc.def.ghi\n');
    expect(await authorization(file(`tf-${key}.kubeconfig`, kubeconfig(`${key}: sa-token`)))).toBe('Bearer abc.def.ghi');
  });

  it('an inline token wins, as in kubectl', async () => {
    expect(await authorization(file('both.kubeconfig', kubeconfig(`token: inline\ntokenFile: ${join(dir, 'sa-token')}`)))).toBe(
      'Bearer inline',
    );
  });

  it('a rotated token is read again after a minute; a missing file names only the path', async () => {
    let now = 0;
    const auth = tokenFileAuthenticator(() => now);
    const tokenPath = file('rotating', 'one');
    const user = { name: 'u', authProvider: { name: 'edge-upgrade-token-file', config: { 'token-file': tokenPath } } };
    const header = async () => {
      const opts: { headers?: Record<string, string> } = {};
      await auth.applyAuthentication(user as never, opts as never);
      return opts.headers?.Authorization;
    };
    expect(await header()).toBe('Bearer one');
    writeFileSync(tokenPath, 'two');
    now += TOKEN_FILE_TTL_MS - 1;
    expect(await header()).toBe('Bearer one');
    now += 2;
    expect(await header()).toBe('Bearer two');
    rmSync(tokenPath);
    now += TOKEN_FILE_TTL_MS + 1;
    await expect(header()).rejects.toThrow(`cannot read token file ${tokenPath}: ENOENT`);
  });
});
