/**
 * A progress query every second (the next one a second after the previous one was sent, or at once if it took
 * longer), read as `edge-upgrade status` reads it: a query slower than STATUS_PATIENCE_MS gives way to the run's
 * published memo. It stops when the upgrade is no longer running, or at {@link ProgressSampler.stop}.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { readProgress, STATUS_PATIENCE_MS } from '../../src/api.js';
import type { Progress } from '../../src/planning/types.js';

/** What the queries saw and how long they took (ms). */
export interface ProgressSamples {
  queryMs: number[];
  /** How long `status` took to answer (the query, or the memo when the query was slow). */
  statusMs: number[];
  fromMemo: number;
  /** Queries that took over 1 s: when they were sent (ms since the epoch) and how long they took. */
  slowQueryLog: Array<{ at: number; ms: number }>;
  /** Failed queries by message (numbers replaced by N). */
  queryFailures: Map<string, number>;
  last: Progress | undefined;
  /** When the sampler first saw the upgrade past its pre-check (inventory, pre-check and, with --node-probes, the probes). */
  precheckDoneAt: number;
  /** When the sampler first saw the upgrade past its prepare phase (the cloud workers, with --pre-phases). */
  prepareDoneAt: number;
}

export class ProgressSampler {
  readonly samples: ProgressSamples = {
    queryMs: [],
    statusMs: [],
    fromMemo: 0,
    slowQueryLog: [],
    queryFailures: new Map(),
    last: undefined,
    precheckDoneAt: 0,
    prepareDoneAt: 0,
  };
  private done = false;
  private lastLogged = -1;
  private readonly loop: Promise<void>;

  /** Starts sampling `clusterId`'s upgrade; `onTick` runs after each query (e.g. to sample processes). */
  constructor(
    private readonly client: Client,
    private readonly clusterId: string,
    private readonly log: (line: string) => void,
    private readonly onTick: () => void,
  ) {
    this.loop = this.run();
  }

  /** Stops sampling, after the query in flight. */
  async stop(): Promise<void> {
    this.done = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.done) {
      const t = Date.now();
      await this.query(t);
      this.onTick();
      this.logProgress();
      await sleep(Math.max(0, 1000 - (Date.now() - t)));
    }
  }

  /** One reading, sent at `t`. */
  private async query(t: number): Promise<void> {
    const s = this.samples;
    try {
      const reading = await readProgress(this.client, this.clusterId, { patienceMs: STATUS_PATIENCE_MS });
      s.statusMs.push(Date.now() - t);
      if (reading.source === 'memo') s.fromMemo++;
      const last = await reading.query;
      s.last = last;
      if (!s.precheckDoneAt && last.phase !== 'precheck') s.precheckDoneAt = Date.now();
      if (!s.prepareDoneAt && last.phase !== 'precheck' && last.phase !== 'prepare') s.prepareDoneAt = Date.now();
      s.queryMs.push(Date.now() - t);
      if (Date.now() - t > 1000) s.slowQueryLog.push({ at: t, ms: Date.now() - t });
      if (last.state !== 'running') this.done = true;
    } catch (err) {
      const m = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.replace(/\d+/g, 'N').slice(0, 160);
      s.queryFailures.set(m, (s.queryFailures.get(m) ?? 0) + 1);
      s.queryMs.push(Date.now() - t);
    }
  }

  /** A log line each time another 100 nodes are upgraded. */
  private logProgress(): void {
    const last = this.samples.last;
    const upgraded = last ? last.masters.upgraded + last.workers.upgraded : 0;
    if (!last || Math.floor(upgraded / 100) === this.lastLogged) return;
    this.lastLogged = Math.floor(upgraded / 100);
    const { masters, workers } = last;
    this.log(
      `progress: ${last.phase} ${last.state}, masters ${masters.upgraded}/${masters.total}, workers ${workers.upgraded}/${workers.total}`,
    );
  }
}
