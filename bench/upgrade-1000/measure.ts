/** The measured span of upgrade-1000: one upgrade, from its start to its result, with the processes followed throughout. */
import type { ChildProcess } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { getProgress, startUpgrade } from '../../src/api.js';
import { TALLY_FLUSH_MS } from '../../src/request-tally.js';
import type { Progress } from '../../src/planning/types.js';
import { NO_GATE } from '../../test/helpers/requests.js';
import { cpuSince, descendantsCpu, ProcessMeter, type ProcessUsage } from '../lib/processes.js';
import { CLUSTER, TARGET, type Options } from './options.js';
import { ProgressSampler, type ProgressSamples } from './sampler.js';
import type { TestBed } from './test-bed.js';

/** What the upgrade took and what was seen during it. */
export interface Measurement {
  client: Client;
  firstRunId: string;
  /** When it was started (ms since the epoch) and how long until its result (ms). */
  started: number;
  wallMs: number;
  /** Whether the pre-check ran its node probes (--pre-phases). */
  nodeProbes: boolean;
  worker: ProcessUsage;
  /** The worker's CPU seconds, read every second: what each batch cost it. */
  workerCpuSamples: Array<{ t: number; cpu: number }>;
  simulator: ProcessUsage;
  /** This process' own CPU (queries, sampling) and the rest of the test bed's, by command. */
  selfCpu: NodeJS.CpuUsage;
  others: Array<{ comm: string; cpu: number }>;
  progress: ProgressSamples;
  final: Progress | undefined;
}

/** Starts the upgrade on `bed` and follows it to its result; throws when the worker or the simulator dies on the way. */
export async function measureUpgrade(bed: TestBed, opt: Options, log: (line: string) => void): Promise<Measurement> {
  const workerPid = bed.worker.child.pid!;
  const simPid = bed.simulator.pid!;
  const before = descendantsCpu(process.pid);
  const selfCpu0 = process.cpuUsage();
  const worker = new ProcessMeter(workerPid);
  const simulator = new ProcessMeter(simPid);

  const client = await bed.client();
  const started = Date.now();
  const nodeProbes = opt.prePhases;
  const handle = await startUpgrade(client, { clusterId: CLUSTER, gate: NO_GATE, nodeProbes, targetVersion: TARGET });
  log(`upgrade started: ${opt.masters} masters + ${opt.workers} workers, ${opt.upgradeS} s per upgrade pod`);
  const sampler = new ProgressSampler(client, CLUSTER, log, () => {
    worker.sample();
    simulator.sample();
  });
  const result = await Promise.race([
    handle.result().catch((err: unknown) => err),
    died('worker', bed.worker.child),
    died('simulator', bed.simulator),
  ]);
  if (result instanceof Error && /process exited/.test(result.message)) throw result;
  const wallMs = Date.now() - started;
  await sampler.stop();
  // Figures at the end of the upgrade, before anything else runs.
  const [workerUsage, simulatorUsage] = [worker.end(), simulator.end()];
  const selfCpu = process.cpuUsage(selfCpu0);
  const others = cpuSince(before, [workerPid, simPid]);
  const final = await getProgress(client, CLUSTER).catch(() => sampler.samples.last);
  log(`upgrade ended: ${final?.state ?? 'unknown'} (${result instanceof Error ? result.message : 'result received'})`);
  return {
    client,
    firstRunId: handle.firstExecutionRunId,
    started,
    wallMs,
    nodeProbes,
    worker: workerUsage,
    workerCpuSamples: worker.cpuSamples,
    simulator: simulatorUsage,
    selfCpu,
    others,
    progress: sampler.samples,
    final,
  };
}

/** A worker or simulator that dies would leave the upgrade waiting for ever: this resolves to what happened. */
const died = (what: string, child: ChildProcess) =>
  new Promise<Error>((resolve) =>
    child.once('exit', (code, signal) => resolve(new Error(`the ${what} process exited (${signal ?? `code ${code}`}) mid-upgrade`))),
  );

/** The worker's own count of API requests (its Prometheus endpoint), which reaches its counter within TALLY_FLUSH_MS. */
export async function workerRequests(metricsPort: number): Promise<{ requests: Map<string, number>; metricName: string }> {
  await new Promise((r) => setTimeout(r, TALLY_FLUSH_MS + 500));
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const requests = new Map<string, number>();
  let metricName = '';
  for (const line of metrics.split('\n')) {
    const m = /^(\w*edge_upgrade_kube_requests\w*)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    metricName = m[1]!;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const key = `${labels.verb} ${labels.resource}`;
    requests.set(key, (requests.get(key) ?? 0) + Number(m[3]));
  }
  return { requests, metricName };
}
