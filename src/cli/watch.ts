/**
 * Live progress for `status --watch` and `start --wait`: progress bars on a terminal, one line per
 * change otherwise (logs, CI). Returns the final progress.
 */
import cliProgress from 'cli-progress';
import { isFinal, type Progress } from '../planning/types.js';
import { summarize } from '../planning/summary.js';
import type { InFlightNode } from '../in-flight.js';
import { renderDetails, renderInFlight } from './render.js';

/**
 * `read`, tried again on errors for up to `forMs` (default a minute): a watch that runs for hours
 * must outlast a Temporal server restart, and a query sent right after a start may come before the
 * run's first workflow task. Throws the last error when it keeps failing.
 */
export function patient<T>(read: () => Promise<T>, forMs = 60_000, stepMs = 1000): () => Promise<T> {
  return async () => {
    const deadline = Date.now() + forMs;
    for (;;) {
      try {
        return await read();
      } catch (err) {
        if (Date.now() + stepMs > deadline) throw err;
        await new Promise((r) => setTimeout(r, stepMs));
      }
    }
  };
}

/** Options of {@link watchProgress}. */
export interface WatchOptions {
  intervalMs?: number;
  tty?: boolean;
  out?: NodeJS.WritableStream;
  /**
   * How the workflow closed without a final state of its own (terminated, timed out), null while it
   * runs: see api.ts upgradeClosedAs. Without it, a terminated upgrade would be watched forever.
   */
  closedAs?: () => Promise<string | null>;
  /**
   * Keep watching while the upgrade is paused by an operator or an error. Without it the watch ends
   * at such a pause (`as: 'paused'`), so a script or pipeline that waits is not held for days. A
   * pause for the maintenance window is always waited through: it resumes by itself.
   */
  throughPause?: boolean;
  /** Give up at this time (ms since the epoch): the watch ends with `as: 'timeout'`. */
  deadline?: number;
  /** The node steps in flight and what each waits on (../in-flight.ts), shown under the progress while it runs. */
  inFlight?: () => Promise<InFlightNode[]>;
}

/** Where a watch stops: the final progress, and a line to say when the workflow closed without one. */
interface Stop extends Ended {
  note?: string;
}

/** When the watch gives up before the upgrade ends: a pause it does not wait through, or the deadline. */
interface Limits {
  throughPause: boolean;
  deadline: number;
}

/**
 * A Stop when `p` is final, paused beyond `limits`, past the deadline, or the workflow has closed
 * without a final state (`as` then says how, and `note` says it in a line); undefined while it runs.
 */
async function stopAt(
  p: Progress,
  read: () => Promise<Progress>,
  closedAs: WatchOptions['closedAs'],
  limits: Limits = { throughPause: true, deadline: Infinity },
): Promise<Stop | undefined> {
  if (isFinal(p.state)) return { progress: p, as: p.state };
  if (p.state === 'paused' && p.pause?.reason !== 'window' && !limits.throughPause) return { progress: p, as: 'paused' };
  if (Date.now() >= limits.deadline) return { progress: p, as: 'timeout', note: `gave up waiting (--timeout): ${summarize(p)}\n` };
  const closed = closedAs ? await closedAs() : null;
  if (!closed) return undefined;
  // It may have just finished between the two reads: its own final state wins.
  const last = await read();
  if (isFinal(last.state)) return { progress: last, as: last.state };
  return { progress: last, as: closed, note: `the upgrade's workflow ended ${closed} before the upgrade did: ${summarize(last)}\n` };
}

/**
 * Polls `read` every `intervalMs` (default 1000) until the upgrade reaches a final state, pauses
 * (unless `throughPause`), the `deadline` passes (a line says so), or its workflow closed without a
 * final state (`closedAs`: terminated, timed out; a line says so); draws bars on a TTY, else prints
 * each changed line. The first read fails at once (no such upgrade, no server); later ones are
 * {@link patient}. `as` says where it stopped: see {@link exitCodeFor} in ./context.ts.
 */
export async function watchProgress(read: () => Promise<Progress>, opts: WatchOptions = {}): Promise<Ended> {
  const out = opts.out ?? process.stdout;
  const tty = opts.tty ?? Boolean((out as NodeJS.WriteStream).isTTY);
  const first = await read();
  const loop: WatchLoop = {
    read: patient(read),
    closedAs: opts.closedAs && patient(opts.closedAs),
    interval: opts.intervalMs ?? 1000,
    out,
    limits: { throughPause: opts.throughPause ?? false, deadline: opts.deadline ?? Infinity },
    lines: linesOf(opts.inFlight),
  };
  return tty ? watchBars(first, loop) : watchLines(first, loop);
}

/** What both ways of watching poll with. */
interface WatchLoop {
  read: () => Promise<Progress>;
  closedAs: WatchOptions['closedAs'];
  interval: number;
  out: NodeJS.WritableStream;
  limits: Limits;
  /** The lines that show a progress: summary, details, the nodes in flight. */
  lines: (p: Progress) => Promise<string[]>;
}

/** The lines of a progress, and of the node steps in flight while it runs (when `inFlight` is given; a failed read shows none). */
function linesOf(inFlight: WatchOptions['inFlight']): WatchLoop['lines'] {
  return async (p) => {
    const nodes = inFlight && !isFinal(p.state) ? await inFlight().catch(() => []) : [];
    return [summarize(p), ...renderDetails(p, { compact: true }), ...renderInFlight(nodes)];
  };
}

/**
 * For logs and CI: each line of the progress (summary, then details) printed when it is new, stamped
 * with the time; a detail that stays the same (cloud nodes prepared, a gate check's result) is not
 * printed again while other lines change.
 */
async function watchLines(first: Progress, { read, closedAs, interval, out, limits, lines: linesFor }: WatchLoop): Promise<Ended> {
  let p = first;
  let last = new Set<string>();
  for (;;) {
    const lines = await linesFor(p);
    const at = new Date().toISOString();
    for (const line of lines) if (!last.has(line)) out.write(`${at} ${line}\n`);
    last = new Set(lines);
    const stop = await stopAt(p, read, closedAs, limits);
    if (stop) {
      if (stop.note) out.write(stop.note);
      return { progress: stop.progress, as: stop.as };
    }
    await new Promise((r) => setTimeout(r, interval));
    p = await read();
  }
}

/** Progress bars for masters and workers, and a status line, on a terminal. */
async function watchBars(first: Progress, { read, closedAs, interval, out, limits, lines }: WatchLoop): Promise<Ended> {
  let p = first;
  const bars = new cliProgress.MultiBar(
    {
      clearOnComplete: false,
      hideCursor: true,
      format: '{label} {bar} {value}/{total} {info}',
      barsize: 30,
      stream: out as NodeJS.WriteStream,
    },
    cliProgress.Presets.shades_classic,
  );
  const masters = bars.create(Math.max(p.masters.total, 1), p.masters.upgraded, { label: 'Masters', info: '' });
  const workers = bars.create(Math.max(p.workers.total, 1), p.workers.upgraded, { label: 'Workers', info: '' });
  const status = bars.create(1, 0, { label: '', info: '' }, { format: '{info}' });
  let note: string | undefined;
  try {
    for (;;) {
      masters.setTotal(Math.max(p.masters.total, 1));
      masters.update(p.masters.upgraded, {
        info:
          p.masters.total === 0
            ? 'none (managed control plane)'
            : p.masters.current
              ? `master ${p.masters.current.serial} of ${p.masters.total}: ${p.masters.current.node}`
              : '',
      });
      workers.setTotal(Math.max(p.workers.total, 1));
      const batch = p.workers.batch;
      const more = batch && batch.nodes.length > 4 ? ', …' : '';
      workers.update(p.workers.upgraded, {
        info: batch ? `batch ${batch.number} (${batch.size}): ${batch.nodes.slice(0, 4).join(', ')}${more}` : '',
      });
      status.update(0, { info: (await lines(p)).join(' | ') });
      const stop = await stopAt(p, read, closedAs, limits);
      if (stop) {
        note = stop.note;
        return { progress: stop.progress, as: stop.as };
      }
      await new Promise((r) => setTimeout(r, interval));
      p = await read();
    }
  } finally {
    bars.stop();
    if (note) out.write(note);
  }
}

/** The line a wait that ended at a pause prints: what that means and what to do next. */
export function pausedHint(clusterId: string): string {
  return (
    `the upgrade is paused, so the wait ends here (exit code 3; --wait-through-pause waits on): ` +
    `see docs/operations/paused-upgrades.md, then edge-upgrade resume --cluster ${clusterId}\n`
  );
}

/** Polls progress until the pre-check phase is over (or the upgrade ended, or `timeoutMs` passed). */
export async function waitPastPrecheck(read: () => Promise<Progress>, timeoutMs = 120_000): Promise<Progress> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await read();
    if (p.phase !== 'precheck' || p.state !== 'running' || Date.now() > deadline) return p;
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** How an upgrade ended: its final progress, and `as`, its final state or how its workflow closed without one. */
export interface Ended {
  progress: Progress;
  /**
   * `progress.state` when final; 'paused' or 'timeout' when a watch gave up before the end; else how
   * the workflow closed, e.g. 'terminated' (progress then stays where it stopped).
   */
  as: string;
}

/**
 * Polls progress until the upgrade reaches a final state, or until `closedAs` (how the workflow
 * closed, null while it runs) says the workflow is gone without one: terminated or timed out, it
 * never will.
 */
export async function waitUntilEnded(read: () => Promise<Progress>, closedAs: () => Promise<string | null>): Promise<Ended> {
  for (;;) {
    const stop = await stopAt(await read(), read, closedAs);
    if (stop) return { progress: stop.progress, as: stop.as };
    await new Promise((r) => setTimeout(r, 500));
  }
}
