/** The one poller of the test suite. */

/**
 * Calls `probe` every `intervalMs` until it returns a truthy value, and returns that value.
 *
 * A probe that throws counts as "not yet" (an API server restarting, a workflow not started yet);
 * after `timeoutMs` the poll fails with an error that names `what` and the probe's last error.
 * Durations are in ms.
 */
export async function eventually<T>(
  what: string,
  probe: () => T | Promise<T>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `; last error: ${String(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
