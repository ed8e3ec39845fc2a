/**
 * The simulator's pod controller (kwok's pod half): for every pod bound to a simulated node that is
 * online, it plays the kubelet. Pending pods become Running and Ready (Running but not Ready while
 * the node's workloads are unready), a deleted pod lives out its grace period and waits for its
 * finalizers before it is deleted for good, and agent pods go where they belong: prepare pods to
 * the prepare runner, check pods to the probe answerer, upgrade pods to the upgrade executor.
 * A silent node's pods freeze, as on a disconnected site, until the node controller syncs them.
 */
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { mergePatch } from '../kube/clients.js';
import { statusOf } from '../kube/errors.js';
import { ENV_TARGET_VERSION, UPGRADE_NAMESPACE } from '../planning/labels.js';
import { logKey, type LogStore } from './kubelet-server.js';
import { isSilent, workloadsUnready, type PodSync, type SimNode } from './node-controller.js';
import { podEnv, podReadinessPatch, runningPodStatus } from './objects.js';
import { isPreparePod } from './prepare.js';
import { answerCheckPod, isCheckPod, type ProbeContext } from './probes.js';
import type { SimRuntime } from './runtime.js';

/**
 * What the kubelet does with a pod now: nothing (`ignore`), finalize it once its grace period and
 * finalizers allow (`finalize`), hand it to the prepare runner, the probe answerer or the upgrade
 * executor, or start an ordinary pod (`start`).
 */
export type PodAction = 'ignore' | 'finalize' | 'prepare' | 'check' | 'upgrade' | 'start';

/** The pods as the simulator's informer has them. */
export interface PodView {
  get(name: string, namespace: string): V1Pod | undefined;
  list(): readonly V1Pod[];
}

/** What the pod controller needs from the simulator. */
export interface PodControllerDeps {
  rt: SimRuntime;
  core: CoreV1Api;
  /** Where check pods' log lines go (served by the simulated kubelet). */
  logs: LogStore;
  pods: PodView;
  /** The simulated node `name` (the node controller's). */
  node(name: string): SimNode | undefined;
  prepares: { run(pod: V1Pod, node: string): void };
  upgrades: { run(pod: V1Pod, sim: SimNode): void };
}

/** An upgrade pod: in kube-upgrade, with a target version. */
export function isUpgradePod(pod: V1Pod): boolean {
  return pod.metadata?.namespace === UPGRADE_NAMESPACE && podEnv(pod, ENV_TARGET_VERSION) !== undefined;
}

/** What to do with `pod`, bound to the simulated node `sim` (undefined: not one of ours). Pure. */
export function podAction(pod: V1Pod, sim: SimNode | undefined): PodAction {
  if (!pod.spec?.nodeName || !pod.metadata?.uid) return 'ignore';
  // An offline (or hung) node's kubelet cannot act: its pods freeze, as on a real disconnected site.
  if (!sim || isSilent(sim)) return 'ignore';
  if (pod.metadata.deletionTimestamp) return 'finalize';
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return 'ignore';
  if (isPreparePod(pod)) return 'prepare';
  // A check pod (agent --check) only reads the node: answered from its probe fault labels, never an upgrade.
  if (isCheckPod(pod)) return 'check';
  if (isUpgradePod(pod)) return 'upgrade';
  return phase === 'Running' ? 'ignore' : 'start';
}

/** Plays the kubelet for the pods bound to simulated nodes. */
export class PodController implements PodSync {
  /** Pods (by UID) whose grace period timer is set. */
  private readonly terminating = new Set<string>();
  private listed = false;

  constructor(private readonly deps: PodControllerDeps) {}

  /** The pods were listed once (the informer's initial list is done). */
  markListed(): void {
    this.listed = true;
  }

  podsListed(): boolean {
    return this.listed;
  }

  /** Handles a pod as the informer delivers it (added or updated). */
  onPod(pod: V1Pod): void {
    const { rt } = this.deps;
    if (rt.stopped) return;
    const sim = this.deps.node(pod.spec?.nodeName ?? '');
    const action = podAction(pod, sim);
    if (action === 'ignore' || !sim) return;
    if (action === 'finalize') this.onPodDeleting(pod, pod.metadata!.uid!);
    else if (action === 'prepare') this.deps.prepares.run(pod, sim.name);
    else if (action === 'check') answerCheckPod(this.probeContext(), pod, sim.name, sim.labels);
    else if (action === 'upgrade') this.deps.upgrades.run(pod, sim);
    else this.start(pod, sim);
  }

  private start(pod: V1Pod, sim: SimNode): void {
    const { rt, core } = this.deps;
    rt.once(`start/${pod.metadata!.uid!}`, async () => {
      const body = runningPodStatus(pod, new Date(), !workloadsUnready(sim));
      await core.patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body }, mergePatch);
      rt.counters.podsStarted++;
    });
  }

  // A pod being deleted: as a kubelet, after its grace period (finalizers permitting), delete it for good.
  private onPodDeleting(pod: V1Pod, uid: string): void {
    const { rt, core } = this.deps;
    // The kubelet gives the containers their grace period (the API server set deletionTimestamp
    // to its end; a pod found past it, e.g. by a restarted simulator, goes at once), then deletes
    // with grace 0; finalizers keep the object until they are removed.
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    const left = new Date(pod.metadata!.deletionTimestamp!).getTime() - Date.now();
    if (left > 0) {
      if (!this.terminating.has(uid)) {
        this.terminating.add(uid);
        rt.later(left, () => {
          this.terminating.delete(uid);
          this.resync(name, namespace, uid);
        });
      }
      return;
    }
    if ((pod.metadata!.finalizers?.length ?? 0) > 0) return;
    rt.once(`delete/${uid}`, async () => {
      try {
        await core.deleteNamespacedPod({
          name,
          namespace,
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0, preconditions: { uid } },
        });
        rt.counters.podsFinalized++;
      } catch (err) {
        if (statusOf(err) === 404 || statusOf(err) === 409) return;
        // A pod that only waits to be finalized may see no further event to retry on: look again shortly.
        rt.later(2_000, () => this.resync(name, namespace, uid));
        throw err;
      }
    });
  }

  /**
   * As a kubelet does when it starts or reconnects: syncs every pod bound to the node (starts the
   * Pending ones, finalizes the deleted ones, runs upgrade pods).
   */
  syncPods(sim: SimNode): void {
    for (const pod of this.deps.pods.list()) if (pod.spec?.nodeName === sim.name) this.onPod(pod);
  }

  /** Handles the pod again as the informer has it now, unless it is gone or was replaced (another UID). */
  private resync(name: string, namespace: string, uid: string): void {
    const now = this.deps.pods.get(name, namespace);
    if (now?.metadata?.uid === uid) this.onPod(now);
  }

  /**
   * Makes the Running ordinary pods on the node Ready, or not Ready while workloads are unready
   * there (SIM_UNREADY_AFTER_UPGRADE_LABEL after an upgrade). Only when that changes or the node
   * is Ready again, so the simulator does not fight the node lifecycle controller marking the pods
   * of a NotReady node.
   */
  syncReadiness(sim: SimNode): void {
    const { rt, core } = this.deps;
    if (isSilent(sim)) return;
    const ready = !workloadsUnready(sim);
    for (const pod of this.deps.pods.list()) {
      if (pod.spec?.nodeName !== sim.name || isUpgradePod(pod) || pod.status?.phase !== 'Running' || pod.metadata?.deletionTimestamp)
        continue;
      const isReady = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      if (isReady === ready) continue;
      rt.once(`ready/${pod.metadata!.uid!}`, async () => {
        const body = podReadinessPatch(pod, new Date(), ready);
        await core.patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body }, mergePatch);
      });
    }
  }

  private probeContext(): ProbeContext {
    return {
      core: this.deps.core,
      once: (key, fn) => this.deps.rt.once(key, fn),
      setLog: (pod, lines) =>
        this.deps.logs.set(logKey(pod.metadata!.namespace!, pod.metadata!.name!, pod.spec?.containers?.[0]?.name ?? 'upgrade'), lines),
    };
  }
}
