/**
 * The README's main command: `edge-upgrade demo` (what scripts/demo.sh runs) starts the dev server,
 * a control plane, simulated nodes and a worker, upgrades them all, and stops everything it started.
 */
import { existsSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import { etcdBinary, k8sBinDir, temporalCli } from '../helpers/tools.js';

test('demo upgrades every simulated node, prints the Web UI address and leaves nothing behind', async () => {
  const r = await runCli(
    ['demo', '--masters', '1', '--cloud', '1', '--edge', '3', '--upgrade-seconds', '1'],
    {
      TEMPORAL_CLI: temporalCli(),
      EDGE_UPGRADE_K8S_BIN: k8sBinDir(),
      EDGE_UPGRADE_ETCD: etcdBinary(),
    },
    240_000,
  );
  expect(r.stderr).not.toMatch(/edge-upgrade: /);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/Temporal Web UI: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/edge-upgrade-demo/);
  expect(r.stdout).toContain('simulating 5 nodes at v1.33.7');
  expect(r.stdout.trim().split('\n').at(-1)).toBe('upgrade succeeded: masters 1/1, workers 4/4');
  expectALogThatOnlySaysChanges(r.stdout);
  // Its working directory (data, logs, kubeconfig) is gone, and so are its servers.
  const dir = /--kubeconfig (\S+)\/k8s\/kubeconfig/.exec(r.stdout)?.[1];
  expect(dir).toBeDefined();
  expect(existsSync(dir!)).toBe(false);
  const port = /Web UI: http:\/\/127\.0\.0\.1:(\d+)/.exec(r.stdout)![1];
  await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
}, 300_000);

/**
 * The demo's stdout is not a terminal, so its progress is a log: each change of progress is a group of
 * lines with one time stamp, and a line is only there when it is new (no line of a group repeats a line
 * of the group before), each health-gate result on one line.
 */
function expectALogThatOnlySaysChanges(stdout: string): void {
  const groups = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (.*)$/.exec(line);
    if (m) groups.set(m[1]!, [...(groups.get(m[1]!) ?? []), m[2]!]);
  }
  const ordered = [...groups.values()];
  // Pre-check, prepare, the master, every batch of workers and their gates: many changes.
  expect(ordered.length).toBeGreaterThan(5);
  expect(ordered.flat().some((l) => /^Health gate on \d+ node\(s\) since .* · ok: nodes, /.test(l))).toBe(true);
  for (let i = 1; i < ordered.length; i++) {
    const before = new Set(ordered[i - 1]);
    expect(ordered[i]!.filter((l) => before.has(l))).toEqual([]);
  }
  expect(ordered.flat().filter((l) => /^\s+(ok|FAIL)\b/.test(l))).toEqual([]);
}
