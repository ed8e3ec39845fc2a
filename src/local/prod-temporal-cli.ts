#!/usr/bin/env node
/**
 * Runs the production-shaped Temporal (./prod-temporal.ts) in the foreground until SIGINT/SIGTERM
 * (scripts/prod-stack.sh up starts it in the background). Writes <dir>/env, the worker's and the
 * CLI's settings as shell exports, then <dir>/ready; stops PostgreSQL and the server on exit.
 */
import { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProdTemporal } from './prod-temporal.js';

const program = new Command('edge-upgrade-prod-temporal')
  .requiredOption('--dir <path>', 'directory for the database, the certificates and the logs')
  .requiredOption('--server-dir <dir>', 'directory with temporal-server and temporal-sql-tool')
  .requiredOption('--temporal-cli <path>', 'the Temporal CLI')
  .requiredOption('--pg-bin <dir>', "directory with PostgreSQL's initdb, postgres and pg_isready")
  .showHelpAfterError();

async function main(): Promise<void> {
  const o = program.parse().opts<{ dir: string; serverDir: string; temporalCli: string; pgBin: string }>();
  const stack = await ProdTemporal.start({ dir: o.dir, serverDir: o.serverDir, temporalCli: o.temporalCli, pgBinDir: o.pgBin });
  const c = stack.client;
  const env = stack.env();
  writeFileSync(
    join(o.dir, 'env'),
    Object.entries(env)
      .map(([k, v]) => `export ${k}=${v}\n`)
      .join(''),
  );
  writeFileSync(join(o.dir, 'ready'), `${c.address}\n`);
  console.log(`Temporal Server on PostgreSQL ready at ${c.address} (mTLS); settings in ${join(o.dir, 'env')}`);
  const stop = () => void stack.stop({ keepDir: true }).then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`edge-upgrade-prod-temporal: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
