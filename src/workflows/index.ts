/** The worker's `workflowsPath`: every workflow of this project. */
export { upgradeCluster } from './upgrade-cluster.js';
export { inspectCluster } from './inspect-cluster.js';
export { scheduledUpgrade } from './scheduled-upgrade.js';
export { upgradeNodeBatch } from './upgrade-batch.js';
