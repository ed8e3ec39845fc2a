/** Jest's global teardown: stops this run's shared control planes by their PIDs and removes the run folder. */
import { stopRun } from './run-folders.mjs';

export default async function globalTeardown() {
  const run = process.env.EDGE_UPGRADE_TEST_RUN;
  if (run) await stopRun(run);
}
