/** `edge-upgrade demo`: everything locally (see ../demo.ts). */
import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { count } from '../options.js';

/** The `demo` command; exit 0 when the demo's upgrade succeeded. */
export function demoCommand(ctx: CliContext): Command {
  return new Command('demo')
    .description('run everything locally: Temporal dev server, a control plane, simulated edge nodes, a worker and an upgrade')
    .option('--masters <n>', 'control-plane nodes', count, 3)
    .option('--cloud <n>', 'cloud workers', count, 5)
    .option('--edge <n>', 'edge workers', count, 45)
    .option('--from <version>', 'starting version', 'v1.33.7')
    .option('--to <version>', 'target version', 'v1.34.4')
    .option('--upgrade-seconds <n>', 'how long each simulated node upgrade takes', count, 3)
    .option('--stay', 'keep everything running after the upgrade until Ctrl-C (to explore the Web UI)')
    .action(async (o) => {
      // Loaded on use: the demo pulls in the worker, the local control plane and the simulator.
      const { runDemo } = await import('../demo.js');
      ctx.exitCode = await runDemo(o);
    });
}
