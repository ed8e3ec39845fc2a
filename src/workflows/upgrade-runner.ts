/**
 * The runner of `upgradeCluster`: masters one at a time, then the workers' pass (./worker-pass.ts),
 * per hop in a multi-minor upgrade, with a safe point (./safe-point.ts) between nodes and batches
 * where pauses, the maintenance window, resume and cancel are handled. Nodes in flight always
 * finish; a Temporal cancel is honoured at the next safe point. When the run is due to continue as
 * new, it returns so, and `upgradeCluster` does it.
 */
import { deprecatePatch } from '@temporalio/workflow';
import { maxBatchSize } from '../planning/batches.js';
import type { LastError } from '../planning/types.js';
import { REMOVED } from './upgrade-activities.js';
import { upgradeNodes, type NodeLimits, type NodeSteps } from './node-steps.js';
import { runGate } from './upgrade-gate.js';
import { Patch } from './patches.js';
import { preparePhase } from './upgrade-prepare.js';
import type { UpgradeRun } from './upgrade-run.js';
import { SafePoint, nowIso, throwIfCancelledThroughTemporal, type Exit, type Next } from './safe-point.js';
import { upgradeWorkers, type PassContext } from './worker-pass.js';

/** How the run ended: all nodes done, cancelled (by the user, or by the pause timeout), or due to continue as new. */
export type Outcome = 'done' | Exit;

/** Drives masters and workers; returns how the run ended. */
export class Runner implements PassContext {
  readonly workerCap: number;
  private readonly safe: SafePoint;

  constructor(readonly run: UpgradeRun) {
    this.workerCap = maxBatchSize(run.state.workers.view.total, run.request.maxBatchPercent);
    this.safe = new SafePoint(run);
  }

  /** The safe point between nodes and batches (./safe-point.ts). */
  safePoint(nextNodes: () => number): Promise<Next> {
    return this.safe.at(nextNodes);
  }

  async upgrade(): Promise<Outcome> {
    const { state, publish } = this.run;
    const prepared = await preparePhase(this.run, (nextNodes) => this.safePoint(nextNodes));
    if (prepared !== 'go') return prepared;
    if (state.phase === 'precheck' || state.phase === 'prepare') {
      state.setPhase('masters');
      publish();
    }
    // One pass for a single-minor upgrade; a multi-minor one hops: masters (and, when planned, workers) per hop.
    for (;;) {
      const ended = (await this.upgradeMasters()) ?? (await upgradeWorkers(this));
      if (ended) return ended;
      if (!state.hasNextHop) break;
      if (state.leftBehind.length > 0) {
        const next = await this.holdForLeftBehind();
        if (next !== 'go') return next;
        continue;
      }
      state.nextHop();
      publish();
    }
    // A cancel accepted while the last nodes were in flight still cancels; so does a Temporal cancel.
    throwIfCancelledThroughTemporal();
    return state.cancelRequested ? 'user' : 'done';
  }

  /**
   * A worker pass left workers behind that the next hop would leave more than three minors behind
   * the API server: pauses naming them, and after a resume retries them (then the hop goes on).
   */
  private async holdForLeftBehind(): Promise<Next> {
    const { state, publish } = this.run;
    const behind = state.leftBehind;
    const names = behind.slice(0, 10).join(', ') + (behind.length > 10 ? ` and ${behind.length - 10} more` : '');
    const message =
      `${behind.length} worker(s) are not at ${state.hopVersion} (quarantined, or offline past the defer timeout): ${names}; ` +
      'the control plane cannot take its next hop without leaving them more than three minors behind. Fix them and resume ' +
      '(they are retried first), or cancel';
    state.recordError({ node: behind[0]!, step: 'version-skew', message, at: nowIso() });
    this.pauseForError(state.progress.lastError!);
    publish();
    const next = await this.safePoint(() => 1);
    if (next === 'go') {
      state.requeueLeftBehind();
      publish();
    }
    return next;
  }

  /** The masters one at a time, each followed by its health gate; then on to the workers (unless this hop has none). */
  private async upgradeMasters(): Promise<Exit | null> {
    const { state, publish } = this.run;
    while (state.phase === 'masters' && (state.todoMasters.length > 0 || state.pendingGate)) {
      const next = await this.safePoint(() => 1);
      if (next !== 'go') return next;
      if (state.pendingGate) await runGate(this.hopRun());
      else await this.upgradeMaster();
    }
    if (state.phase === 'masters' && state.hopHasWorkers) {
      state.setPhase('workers');
      publish();
    }
    return null;
  }

  /** The run as a node step sees it: in a multi-minor upgrade, the target is the current hop's version. */
  hopRun(): UpgradeRun {
    const version = this.run.state.hopVersion;
    return version ? { ...this.run, ref: { ...this.run.ref, targetVersion: version } } : this.run;
  }

  /** The next master, alone. */
  private async upgradeMaster(): Promise<void> {
    const { state, publish } = this.run;
    const master = state.todoMasters[0]!;
    state.masters.start(master);
    publish();
    const owners: string[] = [];
    const [result] = await upgradeNodes(this.nodeSteps(), [master.name], master.role, owners);
    if (result === REMOVED) {
      state.nodeRemoved(master.name, 'master');
    } else if (result) {
      state.recordError(result);
      this.pauseForError(result);
    } else {
      state.masters.done();
      this.gateNext('masters', [master.name], owners);
    }
    publish();
  }

  /** Sets the health gate that must pass before the next node starts, when the request has one. */
  gateNext(kind: 'masters' | 'workers', nodes: string[], owners: string[]): void {
    if (nodes.length === 0 || this.run.request.gate.stableForMs === 0) return;
    deprecatePatch(Patch.HealthGate);
    this.run.state.setPendingGate({ kind, nodes, owners: [...new Set(owners)] });
  }

  /** Auto-pause after a node failed (called once nothing is in flight). A resume still pending is dropped and fails with the error. */
  pauseForError(err: LastError): void {
    this.run.state.pause('error', new Date().toISOString(), `error on ${err.node} (${err.step})`);
  }

  /** The activities and the current hop's upgrade, as one node's steps need them. */
  nodeSteps(): NodeSteps {
    const { activities, request } = this.run;
    return { activities, ref: this.hopRun().ref, limits: nodeLimits(request) };
  }
}

/** What a node's steps need of the request. */
function nodeLimits(request: UpgradeRun['request']): NodeLimits {
  const { drainTimeoutMs, nodeTimeoutMs } = request;
  return { drainTimeoutMs, nodeTimeoutMs, ...(request.request.upgradeImage ? { upgradeImage: request.request.upgradeImage } : {}) };
}
