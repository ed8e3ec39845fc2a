/** The edge node simulator, as a library. */
export { EdgeSimulator, type SimulatorOptions } from './simulator.js';
export { type SimulatorStats } from './runtime.js';
export { type UpgradeStep } from './upgrade-executor.js';
export { nodeObject, microTime, type SimNodeSpec } from './objects.js';
export { statusOf } from '../kube/errors.js';
