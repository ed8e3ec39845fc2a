/**
 * Benchmark tool (not a test): runs a command and prints where its CPU went, by kind of process.
 * Samples /proc once a second and counts every process started after this tool (the command and
 * everything it starts: jest workers, dev servers, API servers, etcd...), each at its last sample,
 * so a process that lives less than a second is missed. Run it on a quiet machine.
 *   node bench/cpu-by-process.mjs -- bash scripts/test.sh
 * Prints CPU seconds, process count and kind, then the total, the wall time and the cores' use.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';

const TICKS_PER_SECOND = 100;

/** Clock ticks since boot now. */
const bootTicksNow = () => Math.floor(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * TICKS_PER_SECOND);

/** Node processes (named `node`, or `MainThread` by Node 24) are told apart by their command line, the others by their name. */
const NODE_KINDS = [
  [/processChild|jest-worker/, 'jest worker (tests, simulator, in-process worker)'],
  [/jest\.js/, 'jest (main)'],
  [/edge-upgrade(\.js)? worker/, 'edge-upgrade worker (process)'],
  [/eslint/, 'check: eslint'],
  [/\btsc\b|typescript\/bin/, 'check: tsc'],
  [/prettier/, 'check: prettier'],
  [/check-shape/, 'check: shape'],
  [/bundle-workflows/, 'build: workflow bundle'],
];

function kindOf(comm, cmdline) {
  if (comm === 'node' || comm === 'MainThread') {
    for (const [re, kind] of NODE_KINDS) if (re.test(cmdline)) return kind;
    return `node ${cmdline
      .split(' ')
      .slice(1, 3)
      .join(' ')
      .replace(/^.*\/(?=[^/ ]+ )/, '')
      .slice(0, 50)}`;
  }
  if (comm.includes('chrom')) return 'chromium';
  return comm;
}

/**
 * Reads every process started at or after `since` (clock ticks since boot) into `seen`: `pid/start` → { kind, ticks },
 * the ticks at this sample.
 */
function sample(since, seen) {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[19]) < since) continue;
      const key = `${pid}/${fields[19]}`;
      let entry = seen.get(key);
      if (!entry) {
        const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
        entry = { kind: kindOf(comm, cmdline), ticks: 0 };
        seen.set(key, entry);
      }
      entry.ticks = Number(fields[11]) + Number(fields[12]);
    } catch {
      // Gone between the listing and the read.
    }
  }
}

/** Runs the command after `--`, sampling every second; prints where the CPU went and returns the command's exit code. */
async function main() {
  const at = process.argv.indexOf('--');
  const command = at < 0 ? [] : process.argv.slice(at + 1);
  if (command.length === 0) {
    console.error('usage: node bench/cpu-by-process.mjs -- <command> [args...]');
    return 2;
  }
  // Only processes started after this tool are counted.
  const since = bootTicksNow();
  const seen = new Map();
  const started = Date.now();
  const child = spawn(command[0], command.slice(1), { stdio: 'inherit' });
  const timer = setInterval(() => sample(since, seen), 1000);
  const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  clearInterval(timer);
  printByKind(seen, (Date.now() - started) / 1000);
  return code;
}

/** The CPU seconds and count of the processes in `seen` by kind, most first, then the total over `wall` seconds. */
function printByKind(seen, wall) {
  const byKind = new Map();
  for (const { kind, ticks } of seen.values()) {
    const k = byKind.get(kind) ?? { seconds: 0, count: 0 };
    k.seconds += ticks / TICKS_PER_SECOND;
    k.count += 1;
    byKind.set(kind, k);
  }
  const rows = [...byKind].sort((a, b) => b[1].seconds - a[1].seconds);
  const total = rows.reduce((sum, [, k]) => sum + k.seconds, 0);
  console.error('\nCPU by kind of process (seconds, processes):');
  for (const [kind, k] of rows.filter(([, k]) => k.seconds >= 0.5)) {
    console.error(`${k.seconds.toFixed(1).padStart(9)} ${String(k.count).padStart(4)}  ${kind}`);
  }
  const cores = cpus().length;
  const use = ((100 * total) / (wall * cores)).toFixed(0);
  console.error(`${total.toFixed(1).padStart(9)}       in all, over ${wall.toFixed(0)} s of wall time: ${use} % of ${cores} cores`);
}

process.exit(await main());
