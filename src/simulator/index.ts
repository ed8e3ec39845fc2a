/** The edge node simulator, as a library. */
export { EdgeSimulator, type SimulatorOptions, type SimulatorStats } from './simulator.js';
export { nodeObject, microTime, type SimNodeSpec } from './objects.js';
/** The one node-readiness rule (planning/cluster.ts), under the name bench scripts import. */
export { nodeReady as isNodeReady } from '../planning/cluster.js';
export { statusOf } from '../activities/kube.js';
