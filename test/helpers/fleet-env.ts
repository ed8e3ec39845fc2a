/**
 * The set-up shared by the workflow test files: one real dev server and worker per file, running
 * the project's workflows with the activities of a {@link FakeFleet}. Call {@link useFakeFleet} at
 * the top level of a test file: it registers the beforeAll/afterAll hooks.
 */
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ClusterNode } from '../../src/planning/types.js';
import { FakeFleet, type FakeCluster } from './fake-activities.js';
import { startWorkerEnv, type DevServerOptions, type WorkerEnv } from './temporal.js';

/** The version the fake clusters run before the upgrade. */
export const FROM = 'v1.33.5';
/** The target of the upgrades. */
export const TO = 'v1.34.4';

/** A cluster without masters has a managed control plane, which its provider upgrades first: it is already at {@link TO}. */
export const managedOrFrom = (nodes: ClusterNode[]): string => (nodes.some((n) => n.kind === 'control-plane') ? FROM : TO);

/** What a test file gets from {@link useFakeFleet}; `client` and `env` are there once beforeAll ran. */
export interface FleetEnv {
  fleet: FakeFleet;
  readonly client: Client;
  readonly env: TestWorkflowEnvironment;
  /** A fresh fake cluster with a unique id made from `name`. */
  cluster(name: string, nodes: ClusterNode[], opts?: { upgradeMs?: number; controlPlaneVersion?: string }): FakeCluster;
}

/** Starts a dev server and a worker for this test file (hooks included). */
export function useFakeFleet(opts: DevServerOptions & { maxConcurrentActivityTaskExecutions?: number } = {}): FleetEnv {
  const fleet = new FakeFleet();
  let w: WorkerEnv | undefined;
  let seq = 0;
  beforeAll(async () => {
    w = await startWorkerEnv(fleet.activities(), opts);
  }, 180_000);
  afterAll(async () => {
    await w?.stop();
  });
  return {
    fleet,
    get client() {
      return w!.client;
    },
    get env() {
      return w!.env;
    },
    cluster(name, nodes, o = {}) {
      return fleet.add({
        clusterId: `${name}-${++seq}`,
        controlPlaneVersion: o.controlPlaneVersion ?? managedOrFrom(nodes),
        nodes,
        upgradeMs: o.upgradeMs,
      });
    },
  };
}
