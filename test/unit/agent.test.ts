/**
 * The node upgrade agent (agent/upgrade-node.sh), run against fake host binaries on PATH with
 * AGENT_HOST_EXEC='' (no nsenter): the command sequence for each role and package manager, the
 * failure paths, switching the host's per-minor package repository (fake repository files), and
 * shellcheck.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../agent/upgrade-node.sh', import.meta.url));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: string[];
  /** Each package-manager call with the Kubernetes repository minor(s) the host's files named at that moment. */
  repoAtCall: string[];
  /** The host's repository files after the run, by name, with the temp dir written as ${HOST}. */
  files: Record<string, string>;
}

/** A fake host's repository files: apt sources and yum/dnf repos, by file name; ${HOST} stands for the fake host's temp dir. */
interface HostFiles {
  apt?: Record<string, string>;
  yum?: Record<string, string>;
  /** Other files, by path relative to the fake host's temp dir (e.g. an existing keyring). */
  other?: Record<string, string>;
}

const PACKAGE_MANAGERS = ['apt-get', 'dnf', 'yum'];

/** Runs the agent with fake `tools` (names of host commands) on an otherwise empty PATH. */
function runAgent(env: Record<string, string>, tools: string[], fail: string[] = [], host: HostFiles = {}): Run {
  const dir = mkdtempSync(join(tmpdir(), 'agent-test-'));
  try {
    const bin = join(dir, 'bin');
    const calls = join(dir, 'calls');
    const repoLog = join(dir, 'repo-log');
    const apt = join(dir, 'etc/apt/sources.list.d');
    const yum = join(dir, 'etc/yum.repos.d');
    for (const d of [bin, apt, yum]) mkdirSync(d, { recursive: true });
    const put = (path: string, text: string) => {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text.replaceAll('${HOST}', dir));
    };
    for (const [name, text] of Object.entries(host.apt ?? {})) put(join(apt, name), text);
    for (const [name, text] of Object.entries(host.yum ?? {})) put(join(yum, name), text);
    for (const [name, text] of Object.entries(host.other ?? {})) put(join(dir, name), text);
    // Real tools the agent uses in the pod and on the host besides the faked ones.
    for (const real of ['sh', 'env', 'grep', 'sed', 'head'])
      symlinkSync(existsSync(`/bin/${real}`) ? `/bin/${real}` : `/usr/bin/${real}`, join(bin, real));
    for (const tool of tools) {
      const f = join(bin, tool);
      const exit = fail.includes(tool) ? 'echo "fake failure" >&2; exit 3' : 'exit 0';
      const repo = PACKAGE_MANAGERS.includes(tool)
        ? `echo "${tool} $* =>" $(grep -rhoE 'stable:/v[0-9]+[.][0-9]+/' '${apt}' '${yum}' ` +
          `| sed -E 's#stable:/(v[^/]*)/#\\1#') >> "${repoLog}"\n`
        : '';
      writeFileSync(f, `#!/bin/bash\necho "${tool} $*" >> "${calls}"\n${repo}${exit}\n`);
      chmodSync(f, 0o755);
    }
    const res = spawnSync('/bin/bash', [SCRIPT], {
      env: { PATH: bin, AGENT_HOST_EXEC: '', AGENT_APT_SOURCES_DIR: apt, AGENT_YUM_REPOS_DIR: yum, ...env },
      encoding: 'utf8',
    });
    const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean) : []);
    const files: Record<string, string> = {};
    for (const [d, names] of [
      [apt, Object.keys(host.apt ?? {})],
      [yum, Object.keys(host.yum ?? {})],
    ] as const) {
      for (const name of names) files[name] = readFileSync(join(d, name), 'utf8').replaceAll(dir, '${HOST}');
    }
    return {
      status: res.status,
      stdout: res.stdout,
      stderr: res.stderr,
      calls: lines(calls),
      repoAtCall: lines(repoLog).map((l) => l.trim()),
      files,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const env = (role: string, version = 'v1.34.4') => ({ TARGET_VERSION: version, NODE_NAME: 'cp-1', NODE_ROLE: role });
const APT = ['apt-get', 'apt-mark', 'kubeadm', 'systemctl'];

describe('agent/upgrade-node.sh', () => {
  it.each([
    ['first-control-plane', 'kubeadm upgrade apply -y v1.34.4'],
    ['control-plane', 'kubeadm upgrade node'],
    ['worker', 'kubeadm upgrade node'],
  ])('%s with apt-get: kubeadm, %s, kubelet and kubectl pinned, restart', (role, upgrade) => {
    const r = runAgent(env(role), APT);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([
      'apt-mark unhold kubeadm',
      'apt-get update',
      'apt-get install -y --allow-change-held-packages kubeadm=1.34.4-*',
      'apt-mark hold kubeadm',
      upgrade,
      'apt-mark unhold kubelet kubectl',
      'apt-get update',
      'apt-get install -y --allow-change-held-packages kubelet=1.34.4-* kubectl=1.34.4-*',
      'apt-mark hold kubelet kubectl',
      'systemctl daemon-reload',
      'systemctl restart kubelet',
    ]);
    expect(r.stdout).toContain('upgraded cp-1 to v1.34.4');
  });

  it.each(['dnf', 'yum'])('%s: packages pinned with --disableexcludes=kubernetes', (pm) => {
    const r = runAgent(env('worker', '1.34.4'), [pm, 'kubeadm', 'systemctl']);
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([
      `${pm} install -y --disableexcludes=kubernetes kubeadm-1.34.4`,
      'kubeadm upgrade node',
      `${pm} install -y --disableexcludes=kubernetes kubelet-1.34.4 kubectl-1.34.4`,
      'systemctl daemon-reload',
      'systemctl restart kubelet',
    ]);
  });

  it('a failing kubeadm stops before the kubelet is touched, with an error line in the log', () => {
    const r = runAgent(env('first-control-plane'), APT, ['kubeadm']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("error: 'kubeadm upgrade apply -y v1.34.4' failed on cp-1 (exit 3)");
    expect(r.calls.some((c) => c.startsWith('systemctl'))).toBe(false);
    expect(r.calls.some((c) => c.includes('kubelet='))).toBe(false);
  });

  it.each([
    [{ ...env('worker'), TARGET_VERSION: '1.34' }, 'is not a Kubernetes version'],
    [{ ...env('worker'), NODE_ROLE: 'master' }, 'NODE_ROLE'],
    [{ TARGET_VERSION: 'v1.34.4', NODE_NAME: 'cp-1' }, 'NODE_ROLE is required'],
  ])('refuses bad input %j', (e, message) => {
    const r = runAgent(e, APT);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(message);
    expect(r.calls).toEqual([]);
  });

  it('refuses a host without a supported package manager', () => {
    const r = runAgent(env('worker'), ['kubeadm', 'systemctl']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('no supported package manager');
    expect(r.calls).toEqual([]);
  });

  describe('switches the per-minor Kubernetes package repository to the target minor before installing', () => {
    const list = (minor: string, keyring = '${HOST}/etc/apt/keyrings/kubernetes-apt-keyring.gpg') =>
      `deb [signed-by=${keyring}] https://pkgs.k8s.io/core:/stable:/${minor}/deb/ /\n`;

    it('apt: a one-line source (and a mirror with the same layout) move from v1.33 to v1.34 before apt-get update', () => {
      const r = runAgent(env('worker'), APT, [], {
        apt: {
          'kubernetes.list': list('v1.33'),
          'mirror.list':
            'deb [signed-by=${HOST}/etc/apt/keyrings/kubernetes-apt-keyring.gpg] ' +
            'http://mirror.site-17.internal/k8s/core:/stable:/v1.33/deb/ /\n',
          'debian.list': 'deb http://deb.debian.org/debian bookworm main\n',
        },
        other: { 'etc/apt/keyrings/kubernetes-apt-keyring.gpg': 'KEY' },
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.files['kubernetes.list']).toBe(list('v1.34'));
      expect(r.files['mirror.list']).toContain('http://mirror.site-17.internal/k8s/core:/stable:/v1.34/deb/ /');
      expect(r.files['debian.list']).toBe('deb http://deb.debian.org/debian bookworm main\n');
      // Every apt-get call, the first update included, saw only v1.34; the key was there already.
      expect(r.repoAtCall.length).toBeGreaterThan(0);
      for (const c of r.repoAtCall) expect(c).toMatch(/=> v1\.34( v1\.34)*$/);
      expect(r.calls).not.toContainEqual(expect.stringMatching(/^curl /));
      expect(r.calls[1]).toBe('apt-get update');
    });

    it('apt: a deb822 source whose keyring is missing gets the key from the target minor, before apt-get update', () => {
      const sources =
        'Types: deb\nURIs: https://pkgs.k8s.io/core:/stable:/v1.33/deb/\nSuites: /\nSigned-By: ${HOST}/etc/apt/keyrings/k8s.gpg\n';
      const r = runAgent(env('worker'), [...APT, 'curl', 'gpg'], [], { apt: { 'kubernetes.sources': sources } });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.files['kubernetes.sources']).toBe(sources.replace('v1.33', 'v1.34'));
      // curl and gpg run as one pipeline, so either may record its call first.
      const curl = r.calls.findIndex((c) => c.startsWith('curl '));
      const gpg = r.calls.findIndex((c) => c.startsWith('gpg '));
      expect(r.calls[curl]).toBe('curl -fsSL https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release.key');
      expect(r.calls[gpg]).toMatch(/^gpg --dearmor --yes -o \/.*\/etc\/apt\/keyrings\/k8s\.gpg$/);
      expect(Math.abs(gpg - curl)).toBe(1);
      expect(Math.max(curl, gpg)).toBeLessThan(r.calls.indexOf('apt-get update'));
    });

    it.each(['dnf', 'yum'])('%s: baseurl and gpgkey of the repo file move to v1.34 before the install', (pm) => {
      const repo = (minor: string) =>
        `[kubernetes]\nname=Kubernetes\nbaseurl=https://pkgs.k8s.io/core:/stable:/${minor}/rpm/\nenabled=1\ngpgcheck=1\n` +
        `gpgkey=https://pkgs.k8s.io/core:/stable:/${minor}/rpm/repodata/repomd.xml.key\n` +
        'exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni\n';
      const r = runAgent(env('worker'), [pm, 'kubeadm', 'systemctl'], [], { yum: { 'kubernetes.repo': repo('v1.33') } });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.files['kubernetes.repo']).toBe(repo('v1.34'));
      expect(r.repoAtCall).toEqual([
        `${pm} install -y --disableexcludes=kubernetes kubeadm-1.34.4 => v1.34 v1.34`,
        `${pm} install -y --disableexcludes=kubernetes kubelet-1.34.4 kubectl-1.34.4 => v1.34 v1.34`,
      ]);
    });

    it('a repository already at the target minor is left as it is', () => {
      const r = runAgent(env('worker'), APT, [], {
        apt: { 'kubernetes.list': list('v1.34') },
        other: { 'etc/apt/keyrings/kubernetes-apt-keyring.gpg': 'KEY' },
      });
      expect(r.status).toBe(0);
      expect(r.files['kubernetes.list']).toBe(list('v1.34'));
      expect(r.stdout).not.toContain('+ sed');
    });

    it('the frozen legacy repository is refused with what to do, before anything is installed', () => {
      const r = runAgent(env('worker'), APT, [], { apt: { 'kubernetes.list': 'deb https://apt.kubernetes.io/ kubernetes-xenial main\n' } });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('legacy one (apt/yum.kubernetes.io)');
      expect(r.stderr).toContain('move cp-1 to pkgs.k8s.io');
      expect(r.calls).toEqual([]);
    });

    it('without a per-minor repository it says so and installs from what is configured', () => {
      const r = runAgent(env('worker'), APT, [], { apt: { 'internal.list': 'deb http://repo.internal/k8s stable main\n' } });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('no per-minor Kubernetes repository (pkgs.k8s.io)');
      expect(r.files['internal.list']).toBe('deb http://repo.internal/k8s stable main\n');
    });
  });

  it('is clean under shellcheck', () => {
    const r = spawnSync('shellcheck', ['--severity=style', SCRIPT], { encoding: 'utf8' });
    if (r.error) throw new Error('shellcheck is not installed: run scripts/ensure-shellcheck.sh (apt-get install -y shellcheck)');
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
