/**
 * The node upgrade agent (agent/upgrade-node.sh), run against fake host binaries on PATH with
 * AGENT_HOST_EXEC='' (no nsenter): the command sequence for each role and package manager, the
 * failure paths, and shellcheck.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../agent/upgrade-node.sh', import.meta.url));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: string[];
}

/** Runs the agent with fake `tools` (names of host commands) on an otherwise empty PATH. */
function runAgent(env: Record<string, string>, tools: string[], fail: string[] = []): Run {
  const dir = mkdtempSync(join(tmpdir(), 'agent-test-'));
  try {
    const bin = join(dir, 'bin');
    const calls = join(dir, 'calls');
    spawnSync('mkdir', [bin]);
    for (const real of ['sh', 'env']) symlinkSync(existsSync(`/bin/${real}`) ? `/bin/${real}` : `/usr/bin/${real}`, join(bin, real));
    for (const tool of tools) {
      const f = join(bin, tool);
      const exit = fail.includes(tool) ? 'echo "fake failure" >&2; exit 3' : 'exit 0';
      writeFileSync(f, `#!/bin/bash\necho "${tool} $*" >> "${calls}"\n${exit}\n`);
      chmodSync(f, 0o755);
    }
    const res = spawnSync('/bin/bash', [SCRIPT], { env: { PATH: bin, AGENT_HOST_EXEC: '', ...env }, encoding: 'utf8' });
    const recorded = existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean) : [];
    return { status: res.status, stdout: res.stdout, stderr: res.stderr, calls: recorded };
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

  it('is clean under shellcheck', () => {
    const r = spawnSync('shellcheck', ['--severity=style', SCRIPT], { encoding: 'utf8' });
    if (r.error) throw new Error('shellcheck is not installed: run scripts/ensure-shellcheck.sh (apt-get install -y shellcheck)');
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
