/**
 * Scale benchmark on the real stack (issue #11): a real control plane (etcd, kube-apiserver,
 * controller manager, scheduler), the Temporal dev server, the simulator as its own process and the
 * real `edge-upgrade worker` process; ONE upgrade of N simulated workers to completion. Prints one
 * table: wall time against the ideal critical path, per-batch overhead, per-step latency (product vs
 * simulator), worker and simulator CPU and peak RSS, Kubernetes API requests per upgraded node
 * (counted by the worker's own client, scraped from its Prometheus endpoint), history events per run,
 * and the latency of a `progress` query sent every second throughout.
 *
 *   scripts/bench.sh upgrade-1000 [--workers 1000] [--upgrade-seconds 1] [--masters 0]
 *                                 [--lease-seconds 120] [--status-seconds 300] [--worker-node-options '...']
 *                                 [--worker-env K=V,…] [--mem-profile] [--plain-node] [--pre-phases]
 *                                 [--server-config KEY=VALUE,…]
 *
 * Measures only; nothing is asserted. Its parts are in bench/upgrade-1000/ (flags in options.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { workflowIdFor } from '../src/workflows/definitions.js';
import { Clock } from './lib/report.js';
import { readHistories, timeReplay, type Histories } from './upgrade-1000/histories.js';
import { readTimeline, type Timeline } from './upgrade-1000/latencies.js';
import { measureUpgrade, workerRequests } from './upgrade-1000/measure.js';
import { CLUSTER, parseOptions } from './upgrade-1000/options.js';
import { upgradeReport } from './upgrade-1000/report.js';
import { TestBed } from './upgrade-1000/test-bed.js';

async function main(): Promise<void> {
  const { log } = new Clock();
  const opt = parseOptions();
  const bed = await TestBed.start(opt, log);
  try {
    await bed.ready(opt, log);
    const m = await measureUpgrade(bed, opt, log);
    const { requests, metricName } = await workerRequests(bed.metricsPort);
    // Histories and the simulator's timeline (it writes its counters when stopped).
    const h = await readHistories(m.client, workflowIdFor(CLUSTER), m.firstRunId);
    await bed.stopSimulator();
    // With the simulator stopped, so that it does not share the cores with the replay.
    const replayMs = await timeReplay(h.largest.history);
    const timeline = readTimeline(bed.timelinePath);
    keepDetails(bed.dir, h, timeline);
    const report = upgradeReport({
      opt,
      edge: bed.edge,
      m,
      h,
      timeline,
      replayMs,
      requests,
      metricName,
      memProfilePath: bed.memProfilePath,
    });
    console.log(report.toString());
  } finally {
    await bed.stop();
  }
}

/** Every node's times and the largest run's history, for a closer look (kept with EDGE_UPGRADE_KEEP_BENCH_DIR=1). */
function keepDetails(dir: string, h: Histories, timeline: Timeline): void {
  writeFileSync(join(dir, 'largest-run.json'), historyToJSON(h.largest.history as never));
  writeFileSync(
    join(dir, 'nodes.json'),
    JSON.stringify({ history: Object.fromEntries(h.nodes), simulator: Object.fromEntries(timeline.sim) }),
  );
}

await main();
process.exit(0);
