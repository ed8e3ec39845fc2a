/** The one poller of the test suite. */

/**
 * Calls `probe` every `intervalMs` until it returns a truthy value, and returns that value.
 *
 * Polls cost CPU that the files running beside this one need: a progress query of a 30-worker
 * upgrade takes about 20 ms of CPU (client, worker and dev server), a node list of 31 nodes about
 * 14 ms (client and API server). Every 100 ms that is a fifth of a core per waiting test, so the
 * default is 250 ms; a probe that must catch a state lasting less than a second passes its own.
 *
 * A probe that throws counts as "not yet" (an API server restarting, a workflow not started yet);
 * after `timeoutMs` the poll fails with an error that names `what` and the probe's last error.
 * Durations are in ms.
 */
export async function eventually<T>(
  what: string,
  probe: () => T | Promise<T>,
  timeoutMs = 30_000,
  intervalMs = 250,
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
