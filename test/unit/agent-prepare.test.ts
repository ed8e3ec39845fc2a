/**
 * The agent's prepare mode (agent/upgrade-node.sh --prepare, agent/prepare-node.sh), run against
 * fake host binaries on PATH with AGENT_HOST_EXEC='' (no nsenter): on apt and dnf hosts it checks
 * free space, switches the per-minor repository, downloads the target's packages without
 * installing them, and pulls the target's images; it never installs, upgrades or restarts anything.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const AGENT = fileURLToPath(new URL('../../agent/upgrade-node.sh', import.meta.url));
const PREPARE = fileURLToPath(new URL('../../agent/prepare-node.sh', import.meta.url));

/** `df -Pk` output with `freeMiB` available. */
const df = (freeMiB: number) =>
  `printf 'Filesystem 1024-blocks Used Available Capacity Mounted on\\n/dev/sda1 41152736 1000 ${freeMiB * 1024} 9%% /\\n'`;

/** kubeadm's image list for v1.34.4, with whatever --image-repository it was given. */
const KUBEADM = `if [ "$1 $2 $3" = "config images list" ]; then
  repo=registry.k8s.io; prev=""; for a in "$@"; do [ "$prev" = "--image-repository" ] && repo="$a"; prev="$a"; done
  for i in kube-apiserver:v1.34.4 kube-controller-manager:v1.34.4 kube-scheduler:v1.34.4 kube-proxy:v1.34.4 coredns/coredns:v1.12.1 \\
    pause:3.10.1 etcd:3.6.4-0; do echo "$repo/$i"; done
fi`;

/** crictl: `images` shows the node's current kube-proxy from `repo`. */
const crictl = (repo: string) => `if [ "$1" = images ]; then
  echo "IMAGE TAG IMAGE ID SIZE"; echo "${repo}/kube-proxy v1.33.7 0123456789ab 30.5MB"; echo "${repo}/pause 3.10 0123456789ac 320kB"
fi`;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: string[];
  repoFile: string;
}

/** Runs the agent with `--prepare` and fake host tools (name → extra shell run after the call is recorded). */
function prepare(
  env: Record<string, string>,
  tools: Record<string, string>,
  repo?: { dir: 'apt' | 'yum'; name: string; text: string },
): Run {
  const dir = mkdtempSync(join(tmpdir(), 'agent-prepare-'));
  try {
    const bin = join(dir, 'bin');
    const calls = join(dir, 'calls');
    const apt = join(dir, 'etc/apt/sources.list.d');
    const yum = join(dir, 'etc/yum.repos.d');
    for (const d of [bin, apt, yum]) mkdirSync(d, { recursive: true });
    if (repo) writeFileSync(join(repo.dir === 'apt' ? apt : yum, repo.name), repo.text);
    for (const real of ['sh', 'env', 'grep', 'sed', 'head'])
      symlinkSync(existsSync(`/bin/${real}`) ? `/bin/${real}` : `/usr/bin/${real}`, join(bin, real));
    for (const [tool, body] of Object.entries(tools)) {
      writeFileSync(join(bin, tool), `#!/bin/bash\necho "${tool} $*" >> "${calls}"\n${body}\n`);
      chmodSync(join(bin, tool), 0o755);
    }
    const res = spawnSync('/bin/bash', [AGENT, '--prepare'], {
      env: { PATH: bin, AGENT_HOST_EXEC: '', AGENT_APT_SOURCES_DIR: apt, AGENT_YUM_REPOS_DIR: yum, AGENT_MODE: 'prepare', ...env },
      encoding: 'utf8',
    });
    const lines = existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean) : [];
    const repoFile = repo ? readFileSync(join(repo.dir === 'apt' ? apt : yum, repo.name), 'utf8') : '';
    return { status: res.status, stdout: res.stdout, stderr: res.stderr, calls: lines, repoFile };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const env = (role = 'worker') => ({ TARGET_VERSION: 'v1.34.4', NODE_NAME: 'cloud-001', NODE_ROLE: role });
const host = (pm: string, free = 10_000, repo = 'registry.k8s.io') => ({
  [pm]: 'exit 0',
  df: df(free),
  kubeadm: KUBEADM,
  crictl: crictl(repo),
  systemctl: 'exit 0',
  'apt-mark': 'exit 0',
});
const APT_LIST = 'deb [signed-by=/nonexistent-is-fine-when-present] https://pkgs.k8s.io/core:/stable:/v1.33/deb/ /\n';
const DNF_REPO = '[kubernetes]\nbaseurl=https://pkgs.k8s.io/core:/stable:/v1.33/rpm/\nexclude=kubelet kubeadm kubectl\n';

/** Calls that would change what runs on the node: installing, upgrading, holds, restarts, kubeadm upgrade. */
const changesNode = (c: string) =>
  /^systemctl|^apt-mark|kubeadm upgrade/.test(c) || (/ install /.test(c) && !/--download-?only/.test(c)) || / upgrade /.test(c);

describe('agent prepare mode (upgrade-node.sh --prepare)', () => {
  it('apt host: space checked, repository to v1.34, packages downloaded only, kube-proxy and pause pulled; nothing installed', () => {
    const r = prepare(
      env(),
      { ...host('apt-get'), curl: 'exit 0', gpg: 'exit 0' },
      { dir: 'apt', name: 'kubernetes.list', text: APT_LIST },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.repoFile).toContain('core:/stable:/v1.34/deb/');
    expect(r.calls.filter((c) => !c.startsWith('sh ') && !c.startsWith('curl') && !c.startsWith('gpg'))).toEqual([
      'df -Pk /var',
      'apt-get update',
      'apt-get install -y --download-only --allow-change-held-packages kubeadm=1.34.4-* kubelet=1.34.4-* kubectl=1.34.4-*',
      'crictl images',
      'kubeadm config images list --kubernetes-version v1.34.4 --image-repository registry.k8s.io',
      'crictl pull registry.k8s.io/kube-proxy:v1.34.4',
      'crictl pull registry.k8s.io/pause:3.10.1',
    ]);
    expect(r.calls.filter(changesNode)).toEqual([]);
    expect(r.stdout).toContain('prepared cloud-001 for v1.34.4');
  });

  it.each(['dnf', 'yum'])('%s host: repo file to v1.34, packages --downloadonly; a control plane pulls every image of the target', (pm) => {
    const r = prepare(env('control-plane'), host(pm, 10_000, 'registry.example.com/k8s'), {
      dir: 'yum',
      name: 'kubernetes.repo',
      text: DNF_REPO,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.repoFile).toBe(DNF_REPO.replace('v1.33', 'v1.34'));
    expect(r.calls).toContain(`${pm} install -y --downloadonly --disableexcludes=kubernetes kubeadm-1.34.4 kubelet-1.34.4 kubectl-1.34.4`);
    const pulls = r.calls.filter((c) => c.startsWith('crictl pull '));
    expect(pulls).toHaveLength(7);
    // From the registry the node's images came from (the cluster's own imageRepository).
    expect(pulls.every((c) => c.startsWith('crictl pull registry.example.com/k8s/'))).toBe(true);
    expect(r.calls.filter(changesNode)).toEqual([]);
  });

  it('too little free space fails first, saying how much there is and is needed, before anything else', () => {
    const r = prepare(env(), host('apt-get', 812), { dir: 'apt', name: 'kubernetes.list', text: APT_LIST });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("only 812 MiB free in /var on cloud-001; the target's packages and images need 2048 MiB");
    expect(r.calls.filter((c) => !c.startsWith('sh '))).toEqual(['df -Pk /var']);
    expect(r.repoFile).toBe(APT_LIST);
  });

  it('a package repository without the target fails naming the download, and pulls no image', () => {
    const r = prepare(env(), { ...host('dnf'), dnf: 'echo "No match for argument: kubeadm-1.34.4" >&2; exit 1' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(
      "'dnf install -y --downloadonly --disableexcludes=kubernetes kubeadm-1.34.4 kubelet-1.34.4 kubectl-1.34.4' failed",
    );
    expect(r.calls.some((c) => c.startsWith('crictl pull'))).toBe(false);
  });

  it('a failing image pull fails the prepare with the image named', () => {
    const r = prepare(env(), { ...host('dnf'), crictl: `${crictl('registry.k8s.io')}\n[ "$1" = pull ] && exit 1; exit 0` });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("'crictl pull registry.k8s.io/kube-proxy:v1.34.4' failed on cloud-001");
  });

  it('without a kube-proxy image on the node, kubeadm lists its default registry', () => {
    const r = prepare(env(), { ...host('dnf'), crictl: 'exit 0' });
    expect(r.status).toBe(0);
    expect(r.calls).toContain('kubeadm config images list --kubernetes-version v1.34.4');
    expect(r.calls).toContain('crictl pull registry.k8s.io/kube-proxy:v1.34.4');
  });

  it('prepare-node.sh and upgrade-node.sh are clean under shellcheck, following the source', () => {
    const r = spawnSync('shellcheck', ['--severity=style', '-x', AGENT, PREPARE], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    if (r.error) throw new Error('shellcheck is not installed: run scripts/ensure-shellcheck.sh (apt-get install -y shellcheck)');
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
