/**
 * Per-step and per-batch figures of upgrade-1000, from the product's side (activity times in the histories)
 * and the simulator's (its timeline: when it saw each upgrade pod, ran it, and posted the node Ready).
 */
import { readFileSync } from 'node:fs';
import type { UpgradeStep } from '../../src/simulator/index.js';
import { cpuAt } from '../lib/stats.js';
import { STEPS, type ActivityTimes, type NodeHistory } from './histories.js';

/** The simulator's timeline: when each node reached each step (ms since the epoch), and its counters. */
export interface Timeline {
  sim: Map<string, Partial<Record<UpgradeStep, number>>>;
  simStats: Record<string, number>;
}

/** Reads the timeline the simulator wrote (its counters come last, written when it is stopped). */
export function readTimeline(path: string): Timeline {
  const sim = new Map<string, Partial<Record<UpgradeStep, number>>>();
  let simStats: Record<string, number> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as { node: string; step: UpgradeStep; at: number; stats?: Record<string, number> };
    if (e.stats) {
      simStats = e.stats;
      continue;
    }
    const s = sim.get(e.node) ?? {};
    s[e.step] ??= e.at;
    sim.set(e.node, s);
  }
  return { sim, simStats };
}

/** Step latencies (ms) of worker nodes, by step; `gaps`: the workflow's own reaction, one step completed → the next scheduled. */
export type Latencies = Record<
  'cordon' | 'drain' | 'createToSeen' | 'seenToRunning' | 'run' | 'succeededToReady' | 'readyToDone' | 'uncordon' | 'gaps',
  number[]
>;

/** One node's step latencies (ms), by the keys of {@link Latencies} but `gaps`. */
export function nodeLatencies(timeline: Timeline, name: string, h: NodeHistory): Record<string, number> {
  const s = timeline.sim.get(name) ?? {};
  const out: Record<string, number> = {};
  const d = (a?: ActivityTimes) => (a?.completed !== undefined ? a.completed - a.scheduled : undefined);
  const put = (k: string, v: number | undefined) => {
    if (v !== undefined && Number.isFinite(v)) out[k] = v;
  };
  put('cordon', d(h.steps.cordonNode));
  put('drain', d(h.steps.drainNode));
  put('uncordon', d(h.steps.uncordonNode));
  const up = h.steps.runUpgradePod;
  if (up && s.seen !== undefined) put('createToSeen', s.seen - up.scheduled);
  if (s.seen !== undefined && s.running !== undefined) put('seenToRunning', s.running - s.seen);
  if (s.running !== undefined && s.succeeded !== undefined) put('run', s.succeeded - s.running);
  if (s.succeeded !== undefined && s.ready !== undefined) put('succeededToReady', s.ready - s.succeeded);
  if (up?.completed !== undefined && s.ready !== undefined) put('readyToDone', up.completed - s.ready);
  return out;
}

/** The step latencies of every worker node. */
export function stepLatencies(workerNodes: Array<[string, NodeHistory]>, timeline: Timeline): Latencies {
  const lat: Latencies = {
    cordon: [],
    drain: [],
    createToSeen: [],
    seenToRunning: [],
    run: [],
    succeededToReady: [],
    readyToDone: [],
    uncordon: [],
    gaps: [],
  };
  for (const [name, h] of workerNodes) {
    for (const [k, v] of Object.entries(nodeLatencies(timeline, name, h))) lat[k as keyof Latencies].push(v);
    for (let i = 1; i < STEPS.length; i++) {
      const a = h.steps[STEPS[i - 1]!];
      const b = h.steps[STEPS[i]!];
      if (a?.completed !== undefined && b) lat.gaps.push(b.scheduled - a.completed);
    }
  }
  return lat;
}

/** One batch of workers, as the cordon order groups them. */
export interface Batch {
  size: number;
  /** Previous batch done → its last uncordon done (ms). */
  wall: number;
  /** The slowest simulator run in it, pod seen → node Ready (ms), and the wall time beyond it. */
  slowest: number;
  overhead: number;
  /** The worst of each step in the batch, and how late its first cordon started (`start`), in ms. */
  worst: Record<string, number>;
  /** The worker's CPU seconds from the previous batch's end to this one's. */
  cpu: number;
}

/**
 * The batches of the product's own plan (`sizes`), their nodes taken in the order their cordon was scheduled; none
 * unless all `workers` have complete histories. `overlap`: a batch started before the previous one ended.
 */
export function batchesOf(
  workerNodes: Array<[string, NodeHistory]>,
  timeline: Timeline,
  sizes: number[],
  workers: number,
  workerCpuSamples: Array<{ t: number; cpu: number }>,
): { batches: Batch[]; overlap: boolean; complete: number } {
  const ordered = workerNodes
    .filter(([, h]) => h.steps.cordonNode && h.steps.uncordonNode?.completed !== undefined)
    .sort((a, b) => a[1].steps.cordonNode!.scheduled - b[1].steps.cordonNode!.scheduled);
  const batches: Batch[] = [];
  let overlap = false;
  if (ordered.length !== workers) return { batches, overlap, complete: ordered.length };
  let at = 0;
  let prevEnd = ordered[0]![1].steps.cordonNode!.scheduled;
  for (const size of sizes) {
    const members = ordered.slice(at, at + size);
    at += size;
    const firstStart = Math.min(...members.map(([, h]) => h.steps.cordonNode!.scheduled));
    if (firstStart < prevEnd && batches.length > 0) overlap = true;
    const end = Math.max(...members.map(([, h]) => h.steps.uncordonNode!.completed!));
    const sim = timeline.sim;
    const slowest = Math.max(...members.map(([n]) => (sim.get(n)?.ready ?? NaN) - (sim.get(n)?.seen ?? NaN)));
    const worst: Record<string, number> = { start: firstStart - prevEnd };
    for (const [n, h] of members) {
      for (const [k, v] of Object.entries(nodeLatencies(timeline, n, h))) worst[k] = Math.max(worst[k] ?? -Infinity, v);
    }
    const cpu = cpuAt(workerCpuSamples, end) - cpuAt(workerCpuSamples, prevEnd);
    batches.push({ size, wall: end - prevEnd, slowest, overhead: end - prevEnd - slowest, worst, cpu });
    prevEnd = end;
  }
  return { batches, overlap, complete: ordered.length };
}
