/** upgrade-1000's flags (see bench/upgrade-1000.ts) and the fixed settings of its run. */
import { parseArgs } from 'node:util';
import { usageError } from '../lib/usage.js';

export const CLUSTER = 'bench';
export const START = 'v1.33.7';
export const TARGET = 'v1.34.4';
/** The simulator's restarted kubelet posts NotReady at once and Ready 2 s later (src/simulator). */
export const SIM_READY_DELAY_S = 2;

/** The flags, checked: counts and seconds as numbers. */
export interface Options {
  workers: number;
  masters: number;
  upgradeS: number;
  leaseS: number;
  statusS: number;
  /** NODE_OPTIONS for the worker process only. */
  workerNodeOptions: string;
  /** Extra environment for the worker process only, comma-separated K=V. */
  workerEnv: string;
  /** Dynamic config of the Temporal dev server, KEY=VALUE each. */
  serverConfig: string[];
  memProfile: boolean;
  plainNode: boolean;
  prePhases: boolean;
}

const FLAGS = {
  workers: { type: 'string', default: '1000' },
  'upgrade-seconds': { type: 'string', default: '1' },
  masters: { type: 'string', default: '0' },
  'lease-seconds': { type: 'string', default: '120' },
  'status-seconds': { type: 'string', default: '300' },
  /** NODE_OPTIONS for the worker process only, e.g. '--max-old-space-size=256'. */
  'worker-node-options': { type: 'string', default: '' },
  /** Extra environment for the worker process only, e.g. 'MALLOC_ARENA_MAX=2' (comma-separated K=V). */
  'worker-env': { type: 'string', default: '' },
  /** Dynamic config of the Temporal dev server (comma-separated KEY=VALUE), e.g. 'history.maximumBufferedEventsBatch=1000'. */
  'server-config': { type: 'string', default: '' },
  /** Samples the worker's memory every second (bench/mem-sampler.cjs) and prints where it is at the peak. */
  'mem-profile': { type: 'boolean', default: false },
  /** Starts the worker as `node bin/edge-upgrade.js worker`, without the settings of the bin's #! line (for comparison). */
  'plain-node': { type: 'boolean', default: false },
  /**
   * Runs the phases before the first node is touched as a user gets them: the pre-check's read-only node probes
   * (one agent --check pod per node) and the prepare phase on the cloud workers. Off by default (no probes, the
   * worker's cloudNodeLabel set to ''), so the rollout figures compare across versions.
   */
  'pre-phases': { type: 'boolean', default: false },
} as const;

/** The flags of `argv` (default: this process'); a bad one exits 2 with one line (see {@link usageError}). */
export function parseOptions(argv?: string[]): Options {
  let opt: ReturnType<typeof parseArgs<{ args: string[] | undefined; options: typeof FLAGS }>>['values'];
  try {
    opt = parseArgs({ args: argv, options: FLAGS }).values;
  } catch (err) {
    return usageError('upgrade-1000', err instanceof Error ? err.message.replace(/\s*\n\s*/g, ' ') : String(err));
  }
  for (const name of ['workers', 'upgrade-seconds', 'masters', 'lease-seconds', 'status-seconds'] as const) {
    const value = Number(opt[name]);
    const whole = name === 'workers' || name === 'masters';
    if (!Number.isFinite(value) || value < 0 || (whole && !Number.isInteger(value))) {
      usageError('upgrade-1000', `--${name} must be ${whole ? 'a whole number' : 'a number'} ≥ 0, not "${opt[name]}"`);
    }
  }
  return {
    workers: Number(opt.workers),
    masters: Number(opt.masters),
    upgradeS: Number(opt['upgrade-seconds']),
    leaseS: Number(opt['lease-seconds']),
    statusS: Number(opt['status-seconds']),
    workerNodeOptions: opt['worker-node-options'],
    workerEnv: opt['worker-env'],
    serverConfig: opt['server-config'].split(',').filter(Boolean),
    memProfile: opt['mem-profile'],
    plainNode: opt['plain-node'],
    prePhases: opt['pre-phases'],
  };
}
