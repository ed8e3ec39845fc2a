/**
 * The extra health-gate checks of the worker configuration (`healthChecks`): an HTTP GET that
 * must return 2xx, a Prometheus instant query that must return a non-empty result. They use
 * Node's fetch with a timeout and never throw: a failure is a not-ok GateCheck. Messages name the
 * check, never its URL or query (GateChecks end up in workflow history; the endpoints stay in the
 * worker's configuration).
 */
import { HEALTH_CHECK_TIMEOUT_SECONDS, type HealthCheckSpec } from '../config.js';
import { prometheusVerdict } from '../planning/health.js';
import type { GateCheck } from './types.js';

/** Runs the configured check `name` (`spec` undefined: not configured on this worker). */
export async function runHealthProbe(name: string, spec: HealthCheckSpec | undefined): Promise<GateCheck> {
  if (!spec) return { name, ok: false, message: `check "${name}" is not configured on this worker (healthChecks)` };
  const seconds = spec.http?.timeoutSeconds ?? spec.prometheus?.timeoutSeconds ?? HEALTH_CHECK_TIMEOUT_SECONDS.default;
  try {
    const verdict = spec.http ? await httpProbe(spec.http.url, seconds) : await prometheusProbe(spec.prometheus!, seconds);
    return { name, ...verdict };
  } catch (err) {
    return { name, ok: false, message: fetchFailure(err, seconds) };
  }
}

async function httpProbe(url: string, seconds: number): Promise<{ ok: boolean; message: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(seconds * 1000), headers: { accept: '*/*' } });
  await res.body?.cancel();
  const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  return res.ok ? { ok: true, message: status } : { ok: false, message: `GET answered ${status}, want 2xx` };
}

async function prometheusProbe(p: { url: string; query: string }, seconds: number): Promise<{ ok: boolean; message: string }> {
  const url = `${p.url.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(p.query)}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(seconds * 1000), headers: { accept: 'application/json' } });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, message: `Prometheus answered HTTP ${res.status} with no JSON` };
  }
  const verdict = prometheusVerdict(body);
  return !res.ok && verdict.ok ? { ok: false, message: `Prometheus answered HTTP ${res.status}` } : verdict;
}

/** 'no answer within 5 s', 'connection failed (ECONNREFUSED)': without the address, which is configuration. */
function fetchFailure(err: unknown, seconds: number): string {
  const e = err as { name?: string; cause?: { code?: string; name?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${seconds} s`;
  const code = e?.cause?.code ?? e?.cause?.name;
  return `request failed${code ? ` (${code})` : ''}`;
}
