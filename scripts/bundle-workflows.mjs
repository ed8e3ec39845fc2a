// Second half of `npm run build`: bundles the compiled workflows (dist/workflows) into
// dist/workflow-bundle.js, which the worker loads instead of bundling them itself at every start
// (see prebuiltWorkflowBundle in src/worker.ts). Run after tsc; a later tsc makes it stale.
import { DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/', import.meta.url);
const { code } = await bundleWorkflowCode({
  workflowsPath: fileURLToPath(new URL('workflows/index.js', dist)),
  logger: new DefaultLogger('WARN'),
  // The worker keeps the bundle's inline source map in both of its threads. Without the sources'
  // text it is 0.4 MB instead of 1.7 MB; stack traces still name the source file and line.
  webpackConfigHook: (config) => ({ ...config, devtool: 'inline-nosources-source-map' }),
});
writeFileSync(new URL('workflow-bundle.js', dist), code);
