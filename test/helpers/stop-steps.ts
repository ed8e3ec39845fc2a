/**
 * Teardown in named steps: when one takes 10 s or more (afterAll hooks have 60 s) or a step has
 * something to say, one line on stderr names each step's seconds, so a slow teardown in CI says where.
 */

/** A teardown step: its name, and what it runs; a string it resolves to is said in the line (and makes it said). */
export type StopStep = [name: string, run: () => Promise<unknown>];

/** Runs `steps` in order; see the module comment for the line `what` starts. */
export async function stopInSteps(what: string, steps: StopStep[]): Promise<void> {
  const took: string[] = [];
  let said = false;
  for (const [name, run] of steps) {
    const t0 = Date.now();
    const result = await run();
    const seconds = (Date.now() - t0) / 1000;
    took.push(`${name} ${seconds.toFixed(1)} s${typeof result === 'string' ? ` (${result})` : ''}`);
    said ||= seconds >= 10 || typeof result === 'string';
  }
  if (said) process.stderr.write(`${what}: ${took.join(', ')}\n`);
}
