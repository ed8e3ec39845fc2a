#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=8 --heap-growing-percent=30
// The package's bin: runs the compiled CLI (npm run build). Kept in JS so it needs no build itself.
// The #! line holds the worker's memory settings (docs/sizing.md): a young generation of 2 × 8 MB
// instead of V8's 2 × 64 MB, a full GC once the old generation has grown by 30% (V8 lets it grow
// up to fourfold), two malloc arenas instead of one per thread, and fixed malloc thresholds, so
// freed memory goes back to the system (glibc's moving thresholds otherwise keep tens of MB).
// Run it as `edge-upgrade` or `bin/edge-upgrade.js` (as the image does) to get them;
// `node bin/edge-upgrade.js` goes without.
// Node's compile cache (in the system temp folder; NODE_COMPILE_CACHE names another, NODE_DISABLE_COMPILE_CACHE=1
// turns it off) keeps the compiled modules between runs: a command starts in about 0.9 s instead of 1.5 s.
// Where the folder cannot be written, Node runs without it.
// Static imports only of what every Node has: an older Node gets one line, not a stack trace.
import * as nodeModule from 'node:module';

const NEEDED_MAJOR = 24;
if (Number(process.versions.node.split('.')[0]) < NEEDED_MAJOR) {
  process.stderr.write(
    `edge-upgrade: needs Node ${NEEDED_MAJOR} or newer, this is ${process.version}; ` +
      'in a checkout, scripts/edge-upgrade runs it under the Node that scripts/env.sh installs\n',
  );
  process.exit(1);
}
nodeModule.enableCompileCache?.();
const { main } = await import('../dist/client.js');
process.exit(await main(process.argv));
