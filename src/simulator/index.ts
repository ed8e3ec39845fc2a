/** The edge node simulator, as a library. */
export { EdgeSimulator, statusOf, type SimulatorOptions, type SimulatorStats } from './simulator.js';
export { nodeObject, microTime, isNodeReady, type SimNodeSpec } from './objects.js';
