/** The edge node simulator, as a library. */
export { EdgeSimulator, type SimulatorOptions, type SimulatorStats, type UpgradeStep } from './simulator.js';
export { nodeObject, microTime, type SimNodeSpec } from './objects.js';
export { statusOf } from '../kube/errors.js';
