/**
 * What a failed Kubernetes API call means: its HTTP status and message, and whether it is transient
 * (connection refused or reset, timeouts, 5xx, 429 from API priority and fairness, 410 watch
 * expiry), a 409 conflict (re-read and re-apply), or permanent. No Temporal here: the activities
 * turn these into failures (../activities/kube.ts), the simulator only reads them.
 */
import { REQUEST_TIMEOUT_MS } from './clients.js';

/** HTTP status of a client-node ApiException, if any (a DOMException's numeric `code` is not one). */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof DOMException) return undefined;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

/** The API server's message from an ApiException body (a Status object), else the error's first line. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const status = JSON.parse(body) as { message?: string };
      if (status.message) return status.message;
    } catch {
      // not JSON: fall through
    }
  } else if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
    return (body as { message: string }).message;
  }
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** What a failed API call means for the step that made it. */
export interface KubeFault {
  /**
   * transient: retry (the API server is restarting, overloaded or unreachable); conflict: a 409,
   * re-read and re-apply; permanent: retrying the same request cannot help.
   */
  kind: 'transient' | 'conflict' | 'permanent';
  /** True when the API server could not be reached at all (no HTTP answer). */
  unreachable: boolean;
  /** One line for operators, e.g. 'connection refused' or '503 Service Unavailable: etcd leader changed'. */
  reason: string;
}

// System error codes (node:net, undici) of a connection that failed or broke, with the words we show.
const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ECONNABORTED: 'connection aborted',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host down',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network down',
  EAI_AGAIN: 'name lookup failed temporarily',
  ENOTFOUND: 'name not found',
  UND_ERR_SOCKET: 'connection closed by the other side',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
};

const STATUS_TEXT: Record<number, string> = {
  408: 'Request Timeout',
  410: 'Gone (watch expired)',
  429: 'Too Many Requests (API priority and fairness)',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The error and its causes, outermost first (undici wraps the socket error in `cause`). */
function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && out.length < 6; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

/**
 * Classifies a failed Kubernetes API call. Transient: no connection or a broken one, a request
 * timeout, 408, 410 (watch expired), 429 (API priority and fairness), 500, 502, 503, 504.
 * Conflict: 409. Everything else (400, 401, 403, 404, 422, TLS and programming errors) is
 * permanent; callers handle the 404s they expect before asking.
 */
export function classifyKubeError(err: unknown): KubeFault {
  const status = statusOf(err);
  if (status !== undefined) {
    const detail = apiMessage(err);
    const text = STATUS_TEXT[status] ? ` ${STATUS_TEXT[status]}` : '';
    const reason = `${status}${text}${detail && !/^HTTP-Code/.test(detail) ? `: ${detail}` : ''}`;
    if (status === 409) return { kind: 'conflict', unreachable: false, reason };
    if ([408, 410, 429, 500, 502, 503, 504].includes(status)) return { kind: 'transient', unreachable: false, reason };
    return { kind: 'permanent', unreachable: false, reason };
  }
  for (const e of causes(err)) {
    const name = (e as { name?: unknown }).name;
    if (name === 'TimeoutError') return { kind: 'transient', unreachable: true, reason: `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` };
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES[code]) return { kind: 'transient', unreachable: true, reason: NETWORK_CODES[code] };
    if (typeof code === 'string' && /CERT|TLS|SSL|SIGNATURE|SELF_SIGNED/.test(code)) {
      return { kind: 'permanent', unreachable: true, reason: `TLS failure (${code}): ${(e as Error).message}` };
    }
  }
  if (err instanceof Error && err.name === 'AbortError') return { kind: 'transient', unreachable: true, reason: 'request aborted' };
  const last = causes(err).at(-1);
  const message = last instanceof Error ? last.message.split('\n')[0] : String(last);
  return { kind: 'permanent', unreachable: false, reason: message || 'unknown error' };
}

/** True for errors worth retrying: transient faults and conflicts. */
export function isRetryableKubeError(err: unknown): boolean {
  return classifyKubeError(err).kind !== 'permanent';
}

/** 'unreachable for 75 s: connection refused' (or 'failing for …' when it answered with an error). */
export function outageMessage(server: string, forMs: number, fault: KubeFault): string {
  return `API server ${server} ${fault.unreachable ? 'unreachable' : 'failing'} for ${Math.round(forMs / 1000)} s: ${fault.reason}`;
}

/** Runs `fn`, treating a 404 as done (delete and evict of something already gone). */
export async function ignoreNotFound<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}
