/** The query, signal and Update handlers of `upgradeCluster`; the rules live in `UpgradeState.refusal()`. */
import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import {
  cancelSignal,
  cancelUpdate,
  pauseSignal,
  pauseUpdate,
  progressQuery,
  resumeSignal,
  resumeUpdate,
  retryQuarantinedUpdate,
} from './definitions.js';
import type { Command, UpgradeState } from './upgrade-state.js';

/**
 * Sets the query, signal and Update handlers. Signals and Updates share one rule book,
 * `UpgradeState.refusal()`: a refused signal is recorded in progress, a refused Update is rejected
 * by its (synchronous) validator and never reaches history.
 */
export function registerHandlers(state: UpgradeState, now: () => string, publish: () => void): void {
  const pauseNow = (reason?: string) => {
    state.pause('user', now(), reason);
    publish();
  };
  const refusedSignal = (command: Command): boolean => {
    const reason = state.refusal(command);
    if (reason) state.refuse(command, reason, now());
    return reason !== null;
  };
  const check = (command: Command): void => {
    const reason = state.refusal(command);
    if (reason) throw new Error(`${command} refused: ${reason}`);
  };
  setHandler(progressQuery, () => state.progress);
  registerRetryQuarantined(state, check);
  setHandler(pauseSignal, (reason?: string) => {
    if (!refusedSignal('pause')) pauseNow(reason);
  });
  setHandler(resumeSignal, () => {
    if (!refusedSignal('resume')) state.requestResume();
  });
  setHandler(cancelSignal, () => {
    if (!refusedSignal('cancel')) state.requestCancel();
  });
  setHandler(
    pauseUpdate,
    (reason: string | null) => {
      pauseNow(reason ?? undefined);
      return state.progress;
    },
    { validator: (_reason: string | null) => check('pause') },
  );
  setHandler(
    resumeUpdate,
    async () => {
      state.requestResume();
      await condition(() => state.state !== 'paused' || !state.resumeRequested);
      // Running again, finished by it, or (resumed while the maintenance window is closed) waiting for the window.
      if (state.state === 'running' || state.state === 'succeeded' || state.waitingForWindow) return state.progress;
      const why =
        state.state === 'paused'
          ? (state.progress.refusals?.findLast((r) => r.command === 'resume')?.reason ?? 'the resume was not carried out')
          : `the upgrade was ${state.state} before the resume took effect`;
      throw ApplicationFailure.create({ message: `resume failed: ${why}`, nonRetryable: true });
    },
    { validator: () => check('resume') },
  );
  setHandler(
    cancelUpdate,
    () => {
      state.requestCancel();
      return state.progress;
    },
    { validator: () => check('cancel') },
  );
}

/** The `retryQuarantined` Update: completes once the quarantined workers are queued again (or the upgrade ended). */
function registerRetryQuarantined(state: UpgradeState, check: (command: Command) => void): void {
  setHandler(
    retryQuarantinedUpdate,
    async () => {
      state.requestRetryQuarantined();
      await condition(() => !state.retryQuarantinedRequested || state.finished);
      return state.progress;
    },
    { validator: () => check('retryQuarantined') },
  );
}
