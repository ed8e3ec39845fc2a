/**
 * Control, one part of the upgrade's state (../upgrade-state.ts): the upgrade's state and phase, and
 * the rule book for pause, resume, cancel and `retryQuarantined`, used by signal handlers and Update
 * validators alike. Pure: callers pass `now` as an ISO string.
 */
import { isFinal, type CancelReason, type LastError, type Phase, type Progress, type UpgradeStatus } from '../../planning/types.js';
import type { UpgradeSnapshot } from '../upgrade-snapshot.js';

/** Commands an operator can send; used in refusals. */
export type Command = 'pause' | 'resume' | 'cancel' | 'retryQuarantined';

/** The part of `progress` control owns: everything but the node queues (masters, workers, prepare) and the hop. */
export type ControlView = Omit<Progress, 'masters' | 'workers' | 'prepare' | 'hop'>;

/** The commands accepted and not yet carried out, and the limits they run under (snapshot fields). */
export type ControlFlags = Pick<
  UpgradeSnapshot,
  'resumeRequested' | 'cancelRequested' | 'cancelling' | 'pauseTimeoutMs' | 'retryQuarantinedRequested'
>;

const MAX_REFUSALS = 10;

export class Control {
  constructor(
    readonly view: ControlView,
    readonly flags: ControlFlags,
  ) {}

  get phase(): Phase {
    return this.view.phase;
  }
  get state(): UpgradeStatus {
    return this.view.state;
  }
  /** True while paused only because the maintenance window is closed. */
  get waitingForWindow(): boolean {
    return this.view.state === 'paused' && this.view.pause?.reason === 'window';
  }
  /** True in 'succeeded', 'cancelled' and 'failed'. */
  get finished(): boolean {
    return isFinal(this.view.state);
  }

  /**
   * Why `command` does not apply now, or null when it does; `quarantined` is how many workers are.
   *
   * During a window pause: `pause` is accepted and turns it into a user pause (with its own
   * timeout; a later resume outside the window goes back to waiting for the window); `resume` is
   * refused, because the window is the policy the upgrade was started with and it resumes by itself
   * when the window opens; `cancel` is accepted (the upgrade is paused).
   */
  refusal(command: Command, quarantined: number): string | null {
    const { state } = this.view;
    const f = this.flags;
    if (this.finished) {
      const ended = state === 'succeeded' ? 'succeeded' : `been ${state === 'failed' ? 'marked failed' : 'cancelled'}`;
      return `the upgrade has already ${ended}`;
    }
    if (f.cancelling) {
      const why = f.cancelling === 'pause-timeout' ? 'the pause timeout was reached' : 'a cancel was accepted';
      const again = command === 'cancel' ? 'cancelled again' : `${command}d`;
      return `the upgrade is being cancelled (${why}); cordons are being restored and it cannot be ${again}`;
    }
    switch (command) {
      case 'pause':
        // A pause while a resume is still being carried out wins: the upgrade stays paused.
        return state === 'paused' && !this.waitingForWindow && !f.resumeRequested ? 'the upgrade is already paused' : null;
      case 'resume':
        if (state !== 'paused') return 'the upgrade is running, not paused; there is nothing to resume';
        if (this.waitingForWindow) {
          return (
            `the upgrade is waiting for its maintenance window, which opens at ${this.view.pause?.opensAt ?? 'its next start'}; ` +
            'it resumes by itself then. To upgrade outside the window, cancel it and start again without a window'
          );
        }
        if (f.cancelRequested) return 'a cancel was already accepted; the upgrade cannot be resumed';
        return null;
      case 'cancel':
        if (state !== 'paused') return 'cancel is accepted only while the upgrade is paused; pause it first';
        if (f.resumeRequested) return 'a resume was already accepted; pause again before cancelling';
        return null;
      case 'retryQuarantined':
        if (quarantined === 0) return 'no worker is quarantined';
        if (state === 'paused') return 'the upgrade is paused; resume retries the quarantined workers first';
        if (f.retryQuarantinedRequested) return 'a retry of the quarantined workers was already accepted';
        return null;
    }
  }

  /** Records a refused command (newest last, at most a few). */
  refuse(command: Command, reason: string, now: string): void {
    const list = (this.view.refusals ??= []);
    list.push({ command, reason, at: now });
    if (list.length > MAX_REFUSALS) list.splice(0, list.length - MAX_REFUSALS);
  }

  setPhase(phase: Phase): void {
    this.view.phase = phase;
  }

  setPrecheck(report: Progress['precheck']): void {
    this.view.precheck = report;
  }

  /**
   * Pauses now (user or error); it auto-cancels `pauseTimeoutMs` after `now`. Rules, in order:
   * - a pause that arrives while a resume is still being carried out wins: the resume is dropped
   *   (recorded as refused, so a waiting resume Update fails) and the pause starts afresh;
   * - an error while already paused keeps the timer running from the first pause, shows the error,
   *   and drops a pending resume (which fails with the error), so the evidence stays until the next resume;
   * - a user or error pause replaces a window pause (with its own timeout from `now`).
   */
  pause(reason: 'user' | 'error', now: string, message?: string): void {
    const v = this.view;
    const pendingResume = this.flags.resumeRequested;
    if (pendingResume) {
      this.flags.resumeRequested = false;
      const why =
        reason === 'error'
          ? `the upgrade paused on an error before the resume took effect: ${message ?? 'node failed'}`
          : 'a pause arrived before the resume took effect';
      this.refuse('resume', `${why}; still paused, resume again`, now);
    }
    if (v.state === 'paused' && v.pause && v.pause.reason !== 'window' && !(pendingResume && reason === 'user')) {
      if (reason === 'error') {
        v.pause.reason = 'error';
        if (message) v.pause.message = message;
      }
      return;
    }
    const timeout = this.flags.pauseTimeoutMs;
    v.state = 'paused';
    v.pause = { reason, since: now, autoCancelAt: new Date(Date.parse(now) + timeout).toISOString(), ...(message ? { message } : {}) };
  }

  /**
   * Pauses (or keeps waiting) because the maintenance window is closed until `opensAt` (ISO). Never
   * auto-cancels. Keeps `since` when already waiting for the window.
   */
  windowPause(now: string, opensAt: string): void {
    const v = this.view;
    const since = this.waitingForWindow && v.pause ? v.pause.since : now;
    v.state = 'paused';
    v.pause = {
      reason: 'window',
      since,
      autoCancelAt: null,
      opensAt,
      message: 'outside the maintenance window; no new node starts until it opens',
    };
  }

  /** Back to running after a resume (or the window opening). */
  resumed(): void {
    this.view.state = 'running';
    this.view.pause = null;
    this.flags.resumeRequested = false;
  }

  /** A resume could not be carried out: still paused, the reason recorded as a refusal. */
  resumeFailed(reason: string, now: string): void {
    this.flags.resumeRequested = false;
    this.refuse('resume', reason, now);
  }

  recordError(err: LastError): void {
    this.view.lastError = err;
  }

  /** All nodes are done; `partial` when some workers were left out. */
  succeeded(partial: boolean): void {
    const v = this.view;
    if (partial) v.partial = true;
    v.phase = 'done';
    v.state = 'succeeded';
    v.pause = null;
  }

  cancelled(reason: CancelReason): void {
    this.view.state = 'cancelled';
    this.view.cancelReason = reason;
    this.view.pause = null;
  }

  failed(message: string): void {
    this.view.state = 'failed';
    this.view.failure = message;
    this.view.pause = null;
  }
}
