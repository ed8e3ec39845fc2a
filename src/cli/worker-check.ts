/**
 * Whether a worker polls the task queue, so a command that needs one (start, and the Updates pause,
 * resume, retry-quarantined and cancel; a status query) says so in one line instead of hanging or
 * failing with "Failed to query Workflow".
 */
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { TASK_QUEUE } from '../workflows/definitions.js';

/** The line a command says when no worker polls its task queue. */
export function noWorkerMessage(namespace: string, queue = TASK_QUEUE): string {
  return `no worker is polling task queue ${queue} in namespace ${namespace}: start one with \`edge-upgrade worker\``;
}

/**
 * True when a worker polls `queue` for workflow tasks (Temporal's DescribeTaskQueue), asking again
 * for up to `forMs` (a worker that has just started); also true when the server does not say (no
 * permission to describe task queues): then the command goes ahead as it would have.
 */
export async function workerPolling(client: Client, queue = TASK_QUEUE, forMs = 5000): Promise<boolean> {
  const deadline = Date.now() + forMs;
  for (;;) {
    try {
      const { pollers } = await client.workflowService.describeTaskQueue({
        namespace: client.options.namespace,
        taskQueue: { name: queue, kind: proto.temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      if (pollers?.length) return true;
    } catch {
      return true;
    }
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Throws the one-line {@link noWorkerMessage} unless a worker polls the task queue. */
export async function requireWorker(client: Client): Promise<void> {
  if (!(await workerPolling(client))) throw new Error(noWorkerMessage(client.options.namespace));
}

/**
 * `read`, saying the no-worker line instead when no worker polls and `read` fails or is still
 * waiting after `patienceMs` (a query of an upgrade no worker runs waits about 30 s before it fails).
 * An answer (a running upgrade's published progress needs no worker) or a refusal (no such upgrade)
 * stays as it was.
 */
export function explainingNoWorker<T>(client: Client, read: () => Promise<T>, patienceMs = 2000): () => Promise<T> {
  const noWorker = () => new Error(noWorkerMessage(client.options.namespace));
  return async () => {
    // Aborted when the answer is the no-worker line: a query left waiting would outlive the connection.
    const abort = new AbortController();
    const reading = client.withAbortSignal(abort.signal, read).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    const slow = new Promise<'slow'>((r) => setTimeout(() => r('slow'), patienceMs).unref());
    const first = await Promise.race([reading, slow]);
    if (first === 'slow') {
      if (!(await workerPolling(client, TASK_QUEUE, 0))) {
        abort.abort();
        throw noWorker();
      }
    } else if ('error' in first) {
      const refused = first.error instanceof Error && / refused: /.test(first.error.message);
      if (!refused && !(await workerPolling(client, TASK_QUEUE, 0))) throw noWorker();
    }
    const done = await reading;
    if ('error' in done) throw done.error;
    return done.value;
  };
}
