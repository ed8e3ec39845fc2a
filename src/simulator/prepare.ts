/**
 * The simulator's handling of prepare pods (the prepare phase's agent pods on cloud nodes): like
 * the agent's prepare mode, it logs what it would do, runs for {@link PREPARE_SECONDS} and
 * succeeds, never changing the node's version; with {@link SIM_FAIL_PREPARE_LABEL}=true on the node
 * it fails with an error line in its log instead. While the node is offline the pod waits, as a
 * real one would, and a pod deleted before it finished reports nothing.
 */
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { mergePatch } from '../kube/clients.js';
import { AGENT_MODE_LABEL, ENV_TARGET_VERSION, SIM_FAIL_PREPARE_LABEL } from '../planning/labels.js';
import { logKey, type LogStore } from './kubelet-server.js';
import { podEnv, runningPodStatus, terminatedPodStatus } from './objects.js';

/** How long a simulated prepare pod runs, in seconds. */
export const PREPARE_SECONDS = 1;

/** A step of a prepare pod's simulated run, for {@link PrepareHost.onPrepareStep}. */
export type PrepareStep = 'running' | 'succeeded' | 'failed';

/** What the simulator lends the prepare runner: its API client, log store, timers and request limiter, and its view of nodes and pods. */
export interface PrepareHost {
  core: CoreV1Api;
  logs: LogStore;
  later(ms: number, fn: () => void): void;
  once(key: string, fn: () => Promise<void>): void;
  /** The pod as the simulator's informer knows it now. */
  current(name: string, namespace: string): V1Pod | undefined;
  /** The node's labels now, and whether it is silent (offline, or its kubelet hung). */
  node(name: string): { labels: Record<string, string>; silent: boolean } | undefined;
  log(message: string): void;
  onPrepareStep?: (e: { node: string; pod: string; step: PrepareStep; at: number }) => void;
}

/** True for a prepare pod: an agent pod in prepare mode (label edge-upgrade.io/agent-mode=prepare). */
export function isPreparePod(pod: V1Pod): boolean {
  return pod.metadata?.labels?.[AGENT_MODE_LABEL] === 'prepare';
}

/** Runs each prepare pod once (by UID). */
export class PrepareRunner {
  private readonly seen = new Set<string>();

  constructor(private readonly host: PrepareHost) {}

  /** Starts the pod on `node` (idempotent): Running now, finished after {@link PREPARE_SECONDS}. */
  run(pod: V1Pod, node: string): void {
    const uid = pod.metadata!.uid!;
    if (this.seen.has(uid)) return;
    this.seen.add(uid);
    const { name, namespace } = { name: pod.metadata!.name!, namespace: pod.metadata!.namespace! };
    const lines: string[] = [];
    this.host.logs.set(logKey(namespace, name, pod.spec?.containers?.[0]?.name ?? 'upgrade'), lines);
    const say = (l: string) => lines.push(`${new Date().toISOString()} ${l}`);
    const target = podEnv(pod, ENV_TARGET_VERSION) ?? '';
    say(`edge-upgrade agent (simulated) on ${node}: prepare for ${target}`);
    say(`switch the Kubernetes package repository to ${target.replace(/\.\d+$/, '')}; download packages; pull images`);
    this.host.once(`prepare-run/${uid}`, async () => {
      await this.host.core.patchNamespacedPodStatus({ name, namespace, body: runningPodStatus(pod, new Date(), false) }, mergePatch);
      this.step(node, name, 'running');
    });
    this.host.later(PREPARE_SECONDS * 1000, () => this.finish(pod, node, lines, say));
  }

  private finish(pod: V1Pod, node: string, lines: string[], say: (l: string) => void): void {
    const { name, namespace, uid } = pod.metadata as { name: string; namespace: string; uid: string };
    const sim = this.host.node(node);
    if (sim?.silent) {
      this.host.later(1000, () => this.finish(pod, node, lines, say));
      return;
    }
    const current = this.host.current(name, namespace);
    if (!sim || !current || current.metadata?.uid !== uid || current.metadata?.deletionTimestamp) {
      say('terminated: the prepare pod was deleted');
      return;
    }
    const fail = sim.labels[SIM_FAIL_PREPARE_LABEL] === 'true';
    say(
      fail
        ? `error: preparing ${node} failed: simulated fault (${SIM_FAIL_PREPARE_LABEL}=true)`
        : `prepared ${node}; nothing installed or restarted`,
    );
    this.host.once(`prepare-finish/${uid}`, async () => {
      const body = terminatedPodStatus(pod, new Date(), !fail, lines.slice(-3).join('\n'));
      await this.host.core.patchNamespacedPodStatus({ name, namespace, body }, mergePatch);
      this.step(node, name, fail ? 'failed' : 'succeeded');
      this.host.log(`simulator: prepare pod ${name} on ${node} ${fail ? 'failed' : 'succeeded'}`);
    });
  }

  private step(node: string, pod: string, step: PrepareStep): void {
    this.host.onPrepareStep?.({ node, pod, step, at: Date.now() });
  }
}
