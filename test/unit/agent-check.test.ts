/**
 * The node agent's read-only check mode (agent/upgrade-node.sh --check, agent/check-node.sh), run
 * against fake host binaries on PATH with AGENT_HOST_EXEC='' (no nsenter), on apt and dnf hosts:
 * the JSON probe result in the termination message and the log, that nothing on the host is
 * changed (no package manager call that installs or refreshes, repository files untouched), and
 * shellcheck.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../agent/upgrade-node.sh', import.meta.url));
const CHECK_SCRIPT = fileURLToPath(new URL('../../agent/check-node.sh', import.meta.url));

/** The probe result the agent reports (the fields these tests look at). */
interface ProbeJson {
  v: number;
  node: string;
  role: string;
  target: string;
  time: string;
  pm: string;
  swap: { enabled: boolean; devices: string[]; kubeletAllows: boolean };
  disk: Array<{ path: string; freeMb?: number; error?: string }>;
  repo: { kind: string; url?: string; reachable?: boolean; error?: string; versions?: string[] | null };
  hopRepos: Array<{ version: string; kind: string; url?: string; reachable?: boolean; error?: string; versions?: string[] | null }>;
  certs: null | { checked: boolean; error?: string; certs?: Array<{ name: string; residual: string }> };
  runtime: { reachable: boolean | null; name?: string; version?: string; error?: string };
}

interface Host {
  /** Fake host commands: name → bash body (after the call is recorded); `$*` are its arguments. */
  tools: Record<string, string>;
  /** Repository files: apt sources and yum/dnf repos, by file name. */
  apt?: Record<string, string>;
  yum?: Record<string, string>;
  /** The kubelet's configuration file, when the host has one. */
  kubeletConfig?: string;
  /** More environment for the agent (e.g. HOP_VERSIONS). */
  env?: Record<string, string>;
}

interface CheckRun {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: string[];
  /** The termination message, parsed. */
  result: ProbeJson;
  /** The repository files after the run, by name. */
  files: Record<string, string>;
}

function runCheck(role: string, host: Host): CheckRun {
  const dir = mkdtempSync(join(tmpdir(), 'agent-check-'));
  try {
    const bin = join(dir, 'bin');
    const apt = join(dir, 'apt');
    const yum = join(dir, 'yum');
    for (const d of [bin, apt, yum]) mkdirSync(d, { recursive: true });
    for (const [n, t] of Object.entries(host.apt ?? {})) writeFileSync(join(apt, n), t);
    for (const [n, t] of Object.entries(host.yum ?? {})) writeFileSync(join(yum, n), t);
    if (host.kubeletConfig !== undefined) writeFileSync(join(dir, 'kubelet.yaml'), host.kubeletConfig);
    for (const real of ['sh', 'env', 'grep', 'sed', 'head', 'dirname', 'cat'])
      symlinkSync(existsSync(`/bin/${real}`) ? `/bin/${real}` : `/usr/bin/${real}`, join(bin, real));
    for (const [tool, body] of Object.entries(host.tools)) {
      writeFileSync(join(bin, tool), `#!/bin/bash\necho "${tool} $*" >> "${join(dir, 'calls')}"\n${body}\n`);
      chmodSync(join(bin, tool), 0o755);
    }
    const termination = join(dir, 'termination-log');
    const res = spawnSync('/bin/bash', [SCRIPT, '--check'], {
      env: {
        PATH: bin,
        AGENT_HOST_EXEC: '',
        AGENT_APT_SOURCES_DIR: apt,
        AGENT_YUM_REPOS_DIR: yum,
        AGENT_KUBELET_CONFIG: join(dir, 'kubelet.yaml'),
        AGENT_TERMINATION_LOG: termination,
        TARGET_VERSION: 'v1.34.4',
        NODE_NAME: 'cp-1',
        NODE_ROLE: role,
        ...host.env,
      },
      encoding: 'utf8',
    });
    const calls = existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') : [];
    const files: Record<string, string> = {};
    for (const n of Object.keys(host.apt ?? {})) files[n] = readFileSync(join(apt, n), 'utf8');
    for (const n of Object.keys(host.yum ?? {})) files[n] = readFileSync(join(yum, n), 'utf8');
    const text = existsSync(termination) ? readFileSync(termination, 'utf8') : 'null';
    return { status: res.status, stdout: res.stdout, stderr: res.stderr, calls, result: JSON.parse(text) as ProbeJson, files };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const APT_LIST = 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.33/deb/ /\n';
const YUM_REPO =
  '[kubernetes]\nname=Kubernetes\nbaseurl=https://pkgs.k8s.io/core:/stable:/v1.33/rpm/\nenabled=1\n' +
  'exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni\n';
const PACKAGES = [
  'Package: kubeadm',
  'Version: 1.34.3-1.1',
  '',
  'Package: kubelet',
  'Version: 1.34.9-1.1',
  '',
  'Package: kubeadm',
  'Version: 1.34.4-1.1',
  '',
].join('\n');
const REPOMD = '<repomd><data type="primary"><location href="repodata/abc-primary.xml.gz"/></data></repomd>';
const PRIMARY = [
  '<package type="rpm">',
  '  <name>kubeadm</name>',
  '  <arch>x86_64</arch>',
  '  <version epoch="0" ver="1.34.4" rel="150500.1.1"/>',
  '</package>',
  '<package type="rpm">',
  '  <name>kubectl</name>',
  '  <version epoch="0" ver="1.34.8" rel="150500.1.1"/>',
  '</package>',
].join('\n');
const CERTS = [
  'CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED',
  'admin.conf                 Dec 30, 2026 23:36 UTC   12d             ca                      no',
  'apiserver                  Nov 28, 2027 23:36 UTC   364d            ca                      no',
  '',
  'CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED',
  'ca                      Dec 28, 2035 23:36 UTC   9y              no',
].join('\n');
/** A fake `df -P -k` with `kb` KiB available. */
const df = (kb = 5242880) => `printf "Filesystem 1024-blocks Used Available Capacity Mounted on\\n/dev/sda1 100000000 1 ${kb} 1%% /\\n"`;

/** A healthy host's tools for package manager `pm`; `curl` answers per URL. */
function tools(pm: 'apt-get' | 'dnf', over: Record<string, string> = {}): Record<string, string> {
  return {
    [pm]: 'exit 0',
    swapon: 'exit 0',
    df: df(),
    curl: [
      'for a in "$@"; do url=$a; done',
      'case "$*" in *-sSI*) printf 200; exit 0 ;; esac',
      'case "$url" in',
      `  *Packages) printf '%s\\n' '${PACKAGES.replaceAll('\n', "' '")}' ;;`,
      `  *repomd.xml) printf '%s\\n' '${REPOMD}' ;;`,
      `  *primary.xml.gz) printf '%s\\n' '${PRIMARY.replaceAll('\n', "' '")}' ;;`,
      '  *) exit 22 ;;',
      'esac',
    ].join('\n'),
    gzip: 'cat',
    kubeadm: `[ "$1 $2" = "certs check-expiration" ] && printf '%s\\n' '${CERTS.replaceAll('\n', "' '")}'`,
    crictl: "printf 'Version:  0.1.0\\nRuntimeName:  containerd\\nRuntimeVersion:  v1.7.24\\nRuntimeApiVersion:  v1\\n'",
    ...over,
  };
}

/** The swap devices of the machine running the tests. */
const SWAPS = readFileSync('/proc/swaps', 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => l.split(/\s+/)[0]!)
  .filter(Boolean)
  .slice(0, 5);

/** Calls that would change a node: installs, refreshes, edits, restarts, upgrades. */
const CHANGING = /^(apt-get|apt-mark|dnf|yum) |^sed -i|^systemctl |^kubeadm upgrade|^gpg |^swapoff|^rm /;

describe('agent/upgrade-node.sh --check', () => {
  it('apt host, control plane: reads everything, reports the target minor repository and its kubeadm versions, changes nothing', () => {
    const r = runCheck('control-plane', { tools: tools('apt-get'), apt: { 'kubernetes.list': APT_LIST } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.result).toMatchObject({
      v: 1,
      node: 'cp-1',
      role: 'control-plane',
      target: 'v1.34.4',
      pm: 'apt',
      swap: { enabled: false, devices: [], kubeletAllows: false },
      disk: [
        { path: '/var/lib', freeMb: 5120 },
        { path: '/usr', freeMb: 5120 },
      ],
      repo: {
        kind: 'pkgs.k8s.io',
        url: 'https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release',
        reachable: true,
        versions: ['1.34.3-1.1', '1.34.4-1.1'],
      },
      certs: {
        checked: true,
        certs: [
          { name: 'admin.conf', residual: '12d' },
          { name: 'apiserver', residual: '364d' },
          { name: 'ca', residual: '9y' },
        ],
      },
      runtime: { reachable: true, name: 'containerd', version: 'v1.7.24' },
    });
    expect(r.result.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Math.abs(Date.parse(r.result.time) - Date.now())).toBeLessThan(60_000);
    // The same JSON is the last line of the log (the fallback when the termination message is lost).
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual(r.result);
    expect(r.calls).toContain('curl -sSI --max-time 15 -o /dev/null -w %{http_code} https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release');
    expect(r.calls.filter((c) => CHANGING.test(c))).toEqual([]);
    expect(r.files['kubernetes.list']).toBe(APT_LIST);
  });

  it('dnf host, worker: the rpm repository is read through repomd.xml and primary.xml; no certificate check on workers', () => {
    const r = runCheck('worker', { tools: tools('dnf'), yum: { 'kubernetes.repo': YUM_REPO } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.result.pm).toBe('dnf');
    expect(r.result.repo).toEqual({
      kind: 'pkgs.k8s.io',
      url: 'https://pkgs.k8s.io/core:/stable:/v1.34/rpm/repodata/repomd.xml',
      reachable: true,
      versions: ['1.34.4-150500.1.1'],
    });
    expect(r.result.certs).toBeNull();
    expect(r.calls).toContain('curl -fsS --max-time 60 https://pkgs.k8s.io/core:/stable:/v1.34/rpm/repodata/abc-primary.xml.gz');
    expect(r.calls.some((c) => c.startsWith('kubeadm'))).toBe(false);
    expect(r.calls.filter((c) => CHANGING.test(c))).toEqual([]);
    expect(r.files['kubernetes.repo']).toBe(YUM_REPO);
  });

  it.each([
    [
      'swap on, kubelet not configured for it',
      { swapon: 'echo /swapfile' },
      undefined,
      { enabled: true, devices: ['/swapfile'], kubeletAllows: false },
    ],
    [
      'swap on, kubelet allows it',
      { swapon: 'echo /dev/sdb2' },
      'failSwapOn: false\n',
      { enabled: true, devices: ['/dev/sdb2'], kubeletAllows: true },
    ],
    // Without a fake swapon the agent reads this machine's /proc/swaps.
    [
      'no swapon: /proc/swaps is read',
      { swapon: 'exit 127' },
      undefined,
      { enabled: SWAPS.length > 0, devices: SWAPS, kubeletAllows: false },
    ],
  ])('%s', (_name, over, kubeletConfig, swap) => {
    const r = runCheck('worker', { tools: tools('apt-get', over), apt: { 'kubernetes.list': APT_LIST }, kubeletConfig });
    expect(r.status).toBe(0);
    expect(r.result.swap).toEqual(swap);
    expect(r.calls.filter((c) => CHANGING.test(c))).toEqual([]);
  });

  it("reports an unreachable repository with curl's error, and no versions", () => {
    const curl = 'echo -n 000; echo "curl: (6) Could not resolve host: pkgs.k8s.io" >&2; exit 6';
    const r = runCheck('worker', { tools: tools('apt-get', { curl }), apt: { 'kubernetes.list': APT_LIST } });
    expect(r.status).toBe(0);
    expect(r.result.repo).toEqual({
      kind: 'pkgs.k8s.io',
      url: 'https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release',
      reachable: false,
      error: 'curl: (6) Could not resolve host: pkgs.k8s.io',
    });
  });

  it('reports an HTTP error of the repository (no Release for the target minor)', () => {
    const r = runCheck('worker', { tools: tools('apt-get', { curl: 'printf 404' }), apt: { 'kubernetes.list': APT_LIST } });
    expect(r.result.repo).toMatchObject({ reachable: false, error: 'HTTP 404' });
  });

  it('with HOP_VERSIONS, checks each hop minor repository too (hopRepos); without it, hopRepos is empty', () => {
    // v1.32 serves kubeadm 1.32.9; v1.33 has no Release (HTTP 404); v1.34 is the usual target repository.
    const curl = [
      'for a in "$@"; do url=$a; done',
      'case "$*" in *-sSI*v1.33/*) printf 404; exit 0 ;; *-sSI*) printf 200; exit 0 ;; esac',
      'case "$url" in',
      `  *v1.32/deb/Packages) printf '%s\\n' 'Package: kubeadm' 'Version: 1.32.8-1.1' '' 'Package: kubeadm' 'Version: 1.32.9-1.1' ;;`,
      `  *Packages) printf '%s\\n' '${PACKAGES.replaceAll('\n', "' '")}' ;;`,
      '  *) exit 22 ;;',
      'esac',
    ].join('\n');
    const apt = { 'kubernetes.list': APT_LIST };
    const r = runCheck('control-plane', { tools: tools('apt-get', { curl }), apt, env: { HOP_VERSIONS: 'v1.32.9,1.33.5' } });
    expect(r.stderr).toBe('');
    expect(r.result.repo).toMatchObject({
      url: 'https://pkgs.k8s.io/core:/stable:/v1.34/deb/Release',
      versions: ['1.34.3-1.1', '1.34.4-1.1'],
    });
    expect(r.result.hopRepos).toEqual([
      {
        version: 'v1.32.9',
        kind: 'pkgs.k8s.io',
        url: 'https://pkgs.k8s.io/core:/stable:/v1.32/deb/Release',
        reachable: true,
        versions: ['1.32.8-1.1', '1.32.9-1.1'],
      },
      {
        version: 'v1.33.5',
        kind: 'pkgs.k8s.io',
        url: 'https://pkgs.k8s.io/core:/stable:/v1.33/deb/Release',
        reachable: false,
        error: 'HTTP 404',
      },
    ]);
    expect(r.calls.filter((c) => CHANGING.test(c))).toEqual([]);
    expect(r.files['kubernetes.list']).toBe(APT_LIST);
    const plain = runCheck('control-plane', { tools: tools('apt-get'), apt });
    expect(plain.result.hopRepos).toEqual([]);
    const bad = runCheck('control-plane', { tools: tools('apt-get'), apt, env: { HOP_VERSIONS: 'v1.33,$(reboot)' } });
    expect(bad.status).toBe(0);
    expect(bad.result.hopRepos).toEqual([]);
    expect(bad.stderr).toContain("HOP_VERSIONS: 'v1.33' is not a Kubernetes version");
  });

  it('legacy repository, low disk, unreachable runtime and failing kubeadm are reported, not fatal', () => {
    const r = runCheck('first-control-plane', {
      tools: tools('apt-get', {
        df: df(204800),
        crictl: 'echo "validate service connection: connection refused" >&2; exit 1',
        kubeadm: 'echo "error: open /etc/kubernetes/pki/ca.crt: no such file" >&2; exit 1',
      }),
      apt: { 'kubernetes.list': 'deb https://apt.kubernetes.io/ kubernetes-xenial main\n' },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.result.repo).toEqual({ kind: 'legacy' });
    expect(r.result.disk).toEqual([
      { path: '/var/lib', freeMb: 200 },
      { path: '/usr', freeMb: 200 },
    ]);
    expect(r.result.runtime).toEqual({ reachable: false, error: 'validate service connection: connection refused' });
    expect(r.result.certs).toEqual({ checked: false, error: 'error: open /etc/kubernetes/pki/ca.crt: no such file' });
  });

  it.each([
    [
      'apt-get',
      'apt-cache',
      "printf '   kubeadm | 1.34.4-1.1 | http://repo.internal/k8s stable/main amd64 Packages\\n   kubeadm | 1.33.2-1.1 | x\\n'",
      { apt: { 'internal.list': 'deb http://repo.internal/k8s stable main\n' } },
      ['1.34.4-1.1'],
    ],
    [
      'dnf',
      'dnf',
      "printf 'Available Packages\\nkubeadm.x86_64   1.34.4-150500.1.1   internal\\n'",
      { yum: { 'internal.repo': '[internal]\nbaseurl=http://repo.internal/\n' } },
      ['1.34.4-150500.1.1'],
    ],
  ])(
    '%s host without a per-minor repository: the versions from the package cache, without refreshing it',
    (pm, tool, body, files, versions) => {
      const r = runCheck('worker', { tools: tools(pm as 'apt-get' | 'dnf', { [tool]: body }), ...files });
      expect(r.status).toBe(0);
      expect(r.result.repo).toEqual({ kind: 'other', versions });
      expect(r.calls.filter((c) => /^(apt-get|dnf) /.test(c) && !/ -C -q list /.test(c))).toEqual([]);
    },
  );

  it('a missing crictl is reported as unknown', () => {
    const t = tools('apt-get');
    delete (t as Record<string, string | undefined>).crictl;
    const r = runCheck('worker', { tools: t, apt: { 'kubernetes.list': APT_LIST } });
    expect(r.result.runtime).toEqual({ reachable: null, error: 'crictl not found on the node' });
  });

  it('refuses bad input before touching the host, as the upgrade does', () => {
    const r = spawnSync('/bin/bash', [SCRIPT, '--check'], {
      env: { PATH: '/usr/bin:/bin', TARGET_VERSION: '1.34', NODE_NAME: 'x', NODE_ROLE: 'worker' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('is not a Kubernetes version');
  });

  it('is clean under shellcheck', () => {
    const r = spawnSync('shellcheck', ['--severity=style', SCRIPT, CHECK_SCRIPT], { encoding: 'utf8' });
    if (r.error) throw new Error('shellcheck is not installed: run scripts/ensure-shellcheck.sh (apt-get install -y shellcheck)');
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
