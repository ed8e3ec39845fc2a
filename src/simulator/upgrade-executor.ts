/**
 * The simulator's upgrade executor: runs an upgrade pod in kube-upgrade as the node upgrade agent
 * would. It logs, waits the node's upgrade time, then succeeds (the node's new kubelet version, a
 * master's kube-apiserver mirror pod bumped, NotReady while the kubelet restarts, then Ready) or
 * fails (SIM_FAIL_UPGRADE_LABEL). The kubelet-hangs and kubelet-down labels leave the node silent
 * after its upgrade. While the site is offline the result waits; a pod deleted mid-run reports nothing.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { mergePatch } from '../kube/clients.js';
import { statusOf } from '../kube/errors.js';
import {
  CONTROL_PLANE_LABEL,
  ENV_NODE_ROLE,
  ENV_TARGET_VERSION,
  KUBE_SYSTEM_NAMESPACE,
  SIM_FAIL_UPGRADE_LABEL,
  SIM_KUBELET_DOWN_LABEL,
  SIM_KUBELET_HANGS_LABEL,
  SIM_UPGRADE_SECONDS_LABEL,
} from '../planning/labels.js';
import { logKey, type LogStore } from './kubelet-server.js';
import { isSilent, type SimNode } from './node-controller.js';
import { apiServerImage, apiServerPodName, podEnv, runningPodStatus, terminatedPodStatus } from './objects.js';
import type { SimRuntime } from './runtime.js';

/** A step of an upgrade pod's simulated run, see {@link UpgradeExecutorDeps.onUpgradeStep}. */
export type UpgradeStep = 'seen' | 'running' | 'succeeded' | 'failed' | 'ready';

/** What the executor needs from the simulator. Durations are in seconds. */
export interface UpgradeExecutorDeps {
  rt: SimRuntime;
  core: CoreV1Api;
  /** Where the pods' log lines go (served by the simulated kubelet). */
  logs: LogStore;
  /** The pod as the simulator's informer knows it now. */
  current(name: string, namespace: string): V1Pod | undefined;
  /** Posts the node's status (the node controller's): Ready, or NotReady with `notReady` as the message. */
  postStatus(sim: SimNode, notReady?: string): Promise<void>;
  /** How long an upgrade pod runs unless the node's upgrade-seconds label says otherwise. */
  upgradeSeconds: number;
  /** How long a kubelet restarted by an upgrade reports NotReady before it posts Ready. */
  restartSeconds: number;
  /** Called when an upgrade pod starts running on a node (the agent's first step). */
  onUpgradeStart?: (e: { node: string; role: string; pod: string }) => void;
  /** Called at each step of an upgrade pod's run, with the time (ms) it happened. */
  onUpgradeStep?: (e: { node: string; pod: string; step: UpgradeStep; at: number }) => void;
}

/** One upgrade pod the simulator is executing, and its log as the simulated kubelet serves it. */
interface UpgradeRun {
  pod: V1Pod;
  sim: SimNode;
  uid: string;
  name: string;
  namespace: string;
  target: string;
  lines: string[];
  say: (line: string) => void;
  /** Reports a step of the run to {@link UpgradeExecutorDeps.onUpgradeStep}. */
  step: (s: UpgradeStep) => void;
}

const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

/** Executes each upgrade pod once (by UID) in this simulator's lifetime. */
export class UpgradeExecutor {
  private readonly started = new Set<string>();

  constructor(private readonly deps: UpgradeExecutorDeps) {}

  /**
   * Executes an upgrade pod on `sim` as the node upgrade agent would: log, wait, then succeed (new
   * kubelet version) or fail (fault label). A simulator restart re-runs pods it finds still Running.
   */
  run(pod: V1Pod, sim: SimNode): void {
    const { rt, core } = this.deps;
    const uid = pod.metadata!.uid!;
    if (this.started.has(uid)) return;
    this.started.add(uid);
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    const container = pod.spec?.containers?.[0]?.name ?? 'upgrade';
    const target = podEnv(pod, ENV_TARGET_VERSION) ?? '';
    const role = podEnv(pod, ENV_NODE_ROLE) ?? 'worker';
    const lines: string[] = [];
    this.deps.logs.set(logKey(namespace, name, container), lines);
    const say = (l: string) => lines.push(`${new Date().toISOString()} ${l}`);
    const step = (s: UpgradeStep) => this.deps.onUpgradeStep?.({ node: sim.name, pod: name, step: s, at: Date.now() });
    const run: UpgradeRun = { pod, sim, uid, name, namespace, target, lines, say, step };
    step('seen');
    say(`edge-upgrade agent (simulated) on ${sim.name}: role ${role}, ${sim.version} -> ${target}`);
    rt.once(`run/${uid}`, async () => {
      await core.patchNamespacedPodStatus({ name, namespace, body: runningPodStatus(pod, new Date(), false) }, mergePatch);
      step('running');
    });
    this.deps.onUpgradeStart?.({ node: sim.name, role, pod: name });
    const seconds = Number(sim.labels[SIM_UPGRADE_SECONDS_LABEL] ?? this.deps.upgradeSeconds);
    say(role === 'first-control-plane' ? `kubeadm upgrade apply ${target}` : 'kubeadm upgrade node');
    rt.later(Math.max(0, seconds) * 1000, () => this.finish(run));
  }

  // The end of the simulated upgrade time: unless the site is offline (then later) or the pod is
  // gone, log the outcome and report it.
  private finish(run: UpgradeRun): void {
    const { sim, uid, name, namespace, say } = run;
    const { rt } = this.deps;
    if (isSilent(sim)) {
      // The result cannot be reported while the site is offline; try again later.
      rt.later(1000, () => this.finish(run));
      return;
    }
    const current = this.deps.current(name, namespace);
    if (!current || current.metadata?.uid !== uid || current.metadata?.deletionTimestamp) {
      // The pod was deleted mid-upgrade: the agent was killed and the node keeps its old kubelet.
      say('terminated: the upgrade pod was deleted');
      rt.log(`simulator: upgrade pod ${name} on ${sim.name} was deleted before it finished`);
      return;
    }
    const fail = sim.labels[SIM_FAIL_UPGRADE_LABEL] === 'true';
    if (fail) {
      say(`error: kubeadm upgrade failed on ${sim.name}: simulated fault (${SIM_FAIL_UPGRADE_LABEL}=true)`);
    } else {
      say(`upgraded kubelet and kubectl to ${run.target}; kubelet restarted`);
    }
    rt.once(`finish/${uid}`, () => this.report(run, fail));
  }

  // Posts the outcome as a kubelet and the agent would: the node's new version (unless it failed),
  // then the pod's terminated status with the last log lines.
  private async report(run: UpgradeRun, fail: boolean): Promise<void> {
    const { pod, sim, name, namespace } = run;
    const { rt } = this.deps;
    const hangs = !fail && sim.labels[SIM_KUBELET_HANGS_LABEL] === 'true';
    const down = !fail && sim.labels[SIM_KUBELET_DOWN_LABEL] === 'true';
    if (down) {
      // The agent reports success, but the new kubelet never starts: the old version, and silence.
      sim.hung = true;
      rt.log(`simulator: the kubelet on ${sim.name} does not come back after its upgrade (${SIM_KUBELET_DOWN_LABEL}=true)`);
    } else if (!fail) {
      await this.upgraded(sim, run.target, hangs);
    }
    await this.deps.core.patchNamespacedPodStatus(
      { name, namespace, body: terminatedPodStatus(pod, new Date(), !fail, run.lines.slice(-3).join('\n')) },
      mergePatch,
    );
    if (fail) rt.counters.upgradesFailed++;
    else rt.counters.upgradesSucceeded++;
    run.step(fail ? 'failed' : 'succeeded');
    if (!fail && !hangs && !down) {
      const ready = () => rt.limit(() => this.deps.postStatus(sim)).then(() => run.step('ready'));
      rt.later(this.deps.restartSeconds * 1000, () => void ready().catch(() => rt.counters.apiErrors++));
    }
    rt.log(`simulator: upgrade pod ${name} on ${sim.name} ${fail ? 'failed' : 'succeeded'}`);
  }

  // The node now runs `target`: its kubelet restarted (or, with `hangs`, posted Ready once and hung).
  private async upgraded(sim: SimNode, target: string, hangs: boolean): Promise<void> {
    sim.version = target;
    sim.upgraded = true;
    if (CONTROL_PLANE_LABEL in sim.labels) await this.bumpApiServerPod(sim.name, target);
    if (hangs) {
      // The new kubelet posts Ready with its version once, then hangs: no more Lease renewals or status posts.
      await this.deps.postStatus(sim);
      sim.hung = true;
      this.deps.rt.log(`simulator: the new kubelet on ${sim.name} hangs (${SIM_KUBELET_HANGS_LABEL}=true)`);
    } else {
      // A restarted kubelet first reports its new version NotReady, then Ready once its runtime checks pass (report()).
      await this.deps.postStatus(sim, 'container runtime status check may not have completed yet');
    }
  }

  /** A master's upgrade restarted its kube-apiserver at `version`: the kubelet updates the mirror pod. */
  private async bumpApiServerPod(node: string, version: string): Promise<void> {
    const body = [{ op: 'replace', path: '/spec/containers/0/image', value: apiServerImage(version) }];
    try {
      await this.deps.core.patchNamespacedPod({ name: apiServerPodName(node), namespace: KUBE_SYSTEM_NAMESPACE, body }, jsonPatch);
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }
}
