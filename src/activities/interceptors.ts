/**
 * The worker's activity interceptor: every failed attempt leaves one clear line and one clear
 * failure. It tags the SDK's own activity log lines with the node and step, and turns errors that
 * are not ApplicationFailures (a client-node "fetch failed", a multi-line ApiException) into a
 * retryable ApplicationFailure whose message says what failed and why (see kube.ts), keeping the
 * original error as its cause for debugging. It also keeps each attempt's heartbeat going while the
 * activity waits (kube.ts, keepHeartbeating), so a heartbeat timeout means a dead worker.
 */
import type { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptors } from '@temporalio/worker';
import { ErrorType } from '../planning/errors.js';
import type { NodeStep } from '../planning/types.js';
import { classifyKubeError } from '../kube/errors.js';
import { activityErrorMessage, keepHeartbeating } from './kube.js';

/** The node step each per-node activity performs. */
export const ACTIVITY_STEPS: Readonly<Record<string, NodeStep>> = {
  cordonNode: 'cordon',
  drainNode: 'drain',
  runUpgradePod: 'upgrade-pod',
  uncordonNode: 'uncordon',
};

/** Builds the interceptors of one activity attempt; `serverOf(clusterId)` names the API server in messages. */
export function activityInterceptors(serverOf: (clusterId: string) => string | undefined): (ctx: Context) => ActivityInterceptors {
  return (ctx) => {
    let attrs: Record<string, unknown> = {};
    return {
      inbound: {
        async execute(input, next) {
          const arg = (input.args[0] ?? {}) as { node?: unknown; clusterId?: unknown };
          const step = ACTIVITY_STEPS[ctx.info.activityType];
          attrs = {
            ...(typeof arg.clusterId === 'string' ? { clusterId: arg.clusterId } : {}),
            ...(typeof arg.node === 'string' ? { node: arg.node } : {}),
            ...(step ? { step } : {}),
          };
          const stopHeartbeating = keepHeartbeating(ctx);
          try {
            return await next(input);
          } catch (err) {
            if (err instanceof ApplicationFailure || err instanceof CancelledFailure || ctx.cancellationSignal.aborted) throw err;
            const clusterId = typeof arg.clusterId === 'string' ? arg.clusterId : undefined;
            let server: string | undefined;
            try {
              server = clusterId ? serverOf(clusterId) : undefined;
            } catch {
              // An unknown cluster has no server to name.
            }
            const fault = classifyKubeError(err);
            throw ApplicationFailure.create({
              message: activityErrorMessage(err, server),
              type: fault.kind === 'permanent' ? 'KubeApiError' : ErrorType.KubeApiUnavailable,
              cause: err instanceof Error ? err : undefined,
            });
          } finally {
            stopHeartbeating();
          }
        },
      },
      outbound: {
        getLogAttributes(input, next) {
          return next({ ...input, ...attrs });
        },
      },
    };
  };
}
