/**
 * The worker's own probe endpoints (`healthAddress`), for the Deployment's probes, apart from /metrics:
 *   GET /livez   200 while the process answers and its worker has not failed: a wedged event loop answers nothing,
 *                so the kubelet's timeout restarts it.
 *   GET /readyz  200 while this worker polls Temporal: the worker RUNNING, its workflow and activity pollers
 *                POLLING, and the frontend answering a gRPC health check through the worker's own connection
 *                (its TLS and API key) within 2 s. Otherwise 503.
 * Each answer is one line of text saying why, e.g. `not ready: the Temporal frontend did not answer in 2 s`.
 */
import { createServer, type Server } from 'node:http';
import type { NativeConnection, WorkerStatus } from '@temporalio/worker';

/** A probe's answer: ok, and the line that says why. */
export interface Verdict {
  ok: boolean;
  reason: string;
}

/** What the probes read: the worker's status (undefined while it starts) and whether the frontend answers. */
export interface HealthSource {
  status(): Pick<WorkerStatus, 'runState' | 'workflowPollerState' | 'activityPollerState'> | undefined;
  frontend(): Promise<Verdict>;
}

/** How long /readyz waits for the frontend's health check. */
export const FRONTEND_CHECK_MS = 2_000;

/** Liveness: the process answers; only a worker that has failed is not alive (starting and draining ones are). */
export function liveness(status: ReturnType<HealthSource['status']>): Verdict {
  if (status?.runState === 'FAILED') return { ok: false, reason: 'not alive: the worker failed' };
  return { ok: true, reason: `alive: the worker is ${status ? status.runState.toLowerCase() : 'starting'}` };
}

/** Readiness: the worker runs, both pollers poll, and the frontend answered (`frontend`). */
export function readiness(status: ReturnType<HealthSource['status']>, frontend: Verdict): Verdict {
  if (!status) return { ok: false, reason: 'not ready: the worker is starting' };
  if (status.runState !== 'RUNNING') return { ok: false, reason: `not ready: the worker is ${status.runState.toLowerCase()}` };
  for (const [what, state] of [
    ['workflow', status.workflowPollerState],
    ['activity', status.activityPollerState],
  ] as const) {
    if (state !== 'POLLING') return { ok: false, reason: `not ready: the ${what} poller is ${state.toLowerCase()}` };
  }
  if (!frontend.ok) return { ok: false, reason: `not ready: ${frontend.reason}` };
  return { ok: true, reason: 'ready: polling the task queue' };
}

/** Asks the frontend's gRPC health service through `connection`, giving up after {@link FRONTEND_CHECK_MS}. */
export async function frontendHealth(connection: NativeConnection): Promise<Verdict> {
  try {
    const res = await connection.withDeadline(Date.now() + FRONTEND_CHECK_MS, () => connection.healthService.check({}));
    // 1 is SERVING in grpc.health.v1.
    if (res.status === 1) return { ok: true, reason: 'the Temporal frontend answers' };
    return { ok: false, reason: `the Temporal frontend reports status ${String(res.status)}` };
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? '';
    return { ok: false, reason: `the Temporal frontend did not answer in ${FRONTEND_CHECK_MS / 1000} s (${message})` };
  }
}

/** Serves /livez and /readyz on `address` (host:port) until the returned server is closed. */
export async function startHealthServer(address: string, source: HealthSource): Promise<Server> {
  const sep = address.lastIndexOf(':');
  const host = address.slice(0, sep);
  const port = Number(address.slice(sep + 1));
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer = (v: Verdict) => {
      res.writeHead(v.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(v.reason + '\n');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
    } else if (path === '/livez') {
      answer(liveness(source.status()));
    } else if (path === '/readyz') {
      const status = source.status();
      const pre = readiness(status, { ok: true, reason: '' });
      // The frontend is asked only when the worker itself is ready; a worker still starting answers at once.
      if (!pre.ok) answer(pre);
      else void source.frontend().then((f) => answer(readiness(source.status(), f)));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('try /livez or /readyz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
