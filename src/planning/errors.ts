/**
 * Typed error names shared by the workflow, the activities and the client. Retry behaviour is a
 * field of the failure (`ApplicationFailure.nonRetryable(message, type)`), never a subclass.
 */

/** ApplicationFailure types that appear in failures of this project. */
export const ErrorType = {
  /** Bad input: malformed version, downgrade, too large a jump, unknown cluster, bad durations. Never retried. */
  InvalidUpgradeRequest: 'InvalidUpgradeRequest',
  /** The clusterId is not configured on the worker. Thrown by the `inventory` activity; never retried. */
  UnknownCluster: 'UnknownCluster',
  /** A node step (cordon, drain, upgrade pod, uncordon) failed after the activity's own retries. */
  NodeStepFailed: 'NodeStepFailed',
  /** The node was deleted from the cluster mid-upgrade: it is skipped and listed as removed, not retried. */
  NodeRemoved: 'NodeRemoved',
  /**
   * The node was offline (NotReady, or its Lease expired) when its turn came; nothing was changed on
   * it. Details: `[{ node, reason }]`. The workflow pauses (step 'offline') or, with offline 'defer', defers it.
   */
  NodeOffline: 'NodeOffline',
  /** The pre-check found errors, or warnings that the request did not accept. */
  PrecheckFailed: 'PrecheckFailed',
  /**
   * The API server stayed unreachable (or kept failing) longer than an activity waits inside one
   * attempt. Retryable: Temporal's retry policy tries the activity again.
   */
  KubeApiUnavailable: 'KubeApiUnavailable',
} as const;

/** One of {@link ErrorType}'s values. */
export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** Failure types that activity retries must not retry: the activity already gave up, or retrying cannot help. */
export const nonRetryableActivityErrors: string[] = [
  ErrorType.UnknownCluster,
  ErrorType.InvalidUpgradeRequest,
  ErrorType.NodeStepFailed,
  ErrorType.NodeRemoved,
  ErrorType.NodeOffline,
];

/**
 * A request that cannot run, found by pure validation (planning). The workflow turns it into
 * `ApplicationFailure.nonRetryable(message, 'InvalidUpgradeRequest')`; the CLI prints the message.
 */
export class InvalidUpgradeRequestError extends Error {
  override readonly name = ErrorType.InvalidUpgradeRequest;
  /** The request field at fault, e.g. 'targetVersion'. */
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/** True if `err` is an {@link InvalidUpgradeRequestError} (also across realms, by name). */
export function isInvalidUpgradeRequest(err: unknown): err is InvalidUpgradeRequestError {
  return err instanceof Error && err.name === ErrorType.InvalidUpgradeRequest;
}

/** A second upgrade was started for a cluster while one runs; names the running upgrade's workflow ID. */
export class UpgradeAlreadyRunningError extends Error {
  override readonly name = 'UpgradeAlreadyRunning';
  readonly clusterId: string;
  readonly workflowId: string;

  constructor(clusterId: string, workflowId: string) {
    super(
      `an upgrade of cluster ${clusterId} is already running as workflow ${workflowId}; ` +
        'pause, resume or cancel it, or wait for it to finish',
    );
    this.clusterId = clusterId;
    this.workflowId = workflowId;
  }
}

/** A pause, resume or cancel was refused by the upgrade, or could not reach it. The message is one line. */
export class UpgradeCommandError extends Error {
  override readonly name = 'UpgradeCommandRefused';
  readonly command: string;
  readonly workflowId: string;

  constructor(command: string, workflowId: string, message: string) {
    super(message);
    this.command = command;
    this.workflowId = workflowId;
  }
}
