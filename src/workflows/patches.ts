/**
 * The ledger of the workflow code's patch IDs: a leaf module (it imports nothing), so any workflow
 * file can name a patch without importing another feature's file.
 *
 * A patch guards a change that would make a recorded history of older code take a different path
 * (a new command, or a command no longer issued): `patched(id)` takes the new path in new runs and
 * in replays of histories that recorded the patch's marker, the old path in replays of older ones.
 *
 * **The support window.** Histories of the last released version and of the current code must
 * replay (test/workflow/replay.test.ts over test/histories/<commit>/). Nothing has been released
 * yet, so the window starts at {@link SUPPORT_WINDOW_OLDEST}, the first set recorded with worker
 * batches in child workflows; from the first release on it starts at that release's set
 * (`HISTORY_LABEL=v<version> scripts/record-histories.sh`). A patch whose old path no history in
 * the window takes is `deprecated`: its code calls `deprecatePatch(id)` (histories with and without
 * its marker replay) and the old path is gone. Once no history in the window has its marker either,
 * remove the call and mark it `removed`.
 */

/** Patch IDs for `patched()` and `deprecatePatch()`. */
export const Patch = {
  /** checkVersionSkew: a managed control plane's kubelets may not pass kube-apiserver; no kubelet over three minors behind. */
  VersionSkew: 'version-skew-check',
  /** The health gate after each master and worker batch (a new activity between nodes). */
  HealthGate: 'health-gate',
  /** The prepare phase on cloud workers between the pre-check and the masters (new activities; only with cloud workers). */
  PreparePhase: 'prepare-phase',
  /** Multi-minor upgrades: the control plane hops one minor at a time through configured versions (planning/hops.ts). */
  MultiMinorHops: 'multi-minor-hops',
  /** The node probes after the pre-check (a new activity, `probeNodes`, and new pre-check items). */
  NodeProbes: 'node-probes',
  /** The progress published in the memo (PROGRESS_MEMO) whenever it changes, and handed on through continue-as-new. */
  ProgressMemo: 'progress-memo',
  /** Worker batches run as child workflows (`upgradeNodeBatch`), so the node steps' events are not in this history. */
  BatchChildren: 'batch-children',
  /** An error pause after the last worker batch (over the failure budget) is waited out instead of ending `succeeded`. */
  PauseAfterLastBatch: 'pause-after-last-batch',
  /** A batch child cancelled by hand says it ignored the cancel (a log line, Warning Events: a new activity in the child). */
  BatchCancelIgnored: 'batch-cancel-ignored',
  /** Deferred workers left out are uncordoned (or reported kept) at once (a new activity, releaseExpiredDeferred). */
  ReleaseExpiredDeferred: 'release-expired-deferred',
  /** The node probes of a multi-minor upgrade get its hops, so masters' probes check every hop's repository (asked only with hops). */
  ProbeHops: 'probe-hops',
  /** A cloud worker whose prepare fails under a failure budget is quarantined (`quarantineNode`) instead of pausing the upgrade. */
  PrepareQuarantine: 'prepare-quarantine',
  /** Cordon records name the upgrade's run chain (UpgradeRef.runChain), so an upgrade lifts only its own cordons. */
  CordonOwner: 'cordon-owner',
} as const;

export type PatchName = keyof typeof Patch;

/** Where a patch stands: both paths live (`active`), only the new one (`deprecated`), or no call left (`removed`). */
export type PatchStatus = 'active' | 'deprecated' | 'removed';

/** One patch's entry: the commit that added it, and the first recorded set made with it in the code. */
export interface PatchEntry {
  status: PatchStatus;
  /** The commit that added the patch. */
  addedIn: string;
  /** test/histories/<folder>/: the first set recorded with the patch in the code (its marker is there where its path ran). */
  firstRecordedIn: (typeof RECORDED_SETS)[number];
}

/**
 * The recorded sets in test/histories/, oldest first (a folder per set, named by the commit it was
 * recorded at or by HISTORY_LABEL). Add a new set here when you record one; delete the sets that
 * fall out of the support window, with the old paths only they took.
 */
export const RECORDED_SETS = ['9a8040d', 'a0eaa9b'] as const;

/** The oldest recorded set inside the support window: the batch children (9a8040d, 2026-11-30), as nothing was released before. */
export const SUPPORT_WINDOW_OLDEST = RECORDED_SETS[0];

/** Every patch, in the order they were added. */
export const PATCHES: Record<PatchName, PatchEntry> = {
  VersionSkew: { status: 'deprecated', addedIn: '7316b58', firstRecordedIn: '9a8040d' },
  HealthGate: { status: 'deprecated', addedIn: '39fe5b9', firstRecordedIn: '9a8040d' },
  PreparePhase: { status: 'deprecated', addedIn: '3bf5f60', firstRecordedIn: '9a8040d' },
  MultiMinorHops: { status: 'deprecated', addedIn: 'c331c69', firstRecordedIn: '9a8040d' },
  NodeProbes: { status: 'deprecated', addedIn: '6f51c2c', firstRecordedIn: '9a8040d' },
  ProgressMemo: { status: 'deprecated', addedIn: '6373823', firstRecordedIn: '9a8040d' },
  BatchChildren: { status: 'deprecated', addedIn: '8d59a97', firstRecordedIn: '9a8040d' },
  PauseAfterLastBatch: { status: 'active', addedIn: '50a6ff5', firstRecordedIn: 'a0eaa9b' },
  BatchCancelIgnored: { status: 'active', addedIn: 'eb79a5f', firstRecordedIn: 'a0eaa9b' },
  ReleaseExpiredDeferred: { status: 'active', addedIn: '9d54ea5', firstRecordedIn: 'a0eaa9b' },
  ProbeHops: { status: 'active', addedIn: 'e93dc77', firstRecordedIn: 'a0eaa9b' },
  PrepareQuarantine: { status: 'active', addedIn: '853df21', firstRecordedIn: 'a0eaa9b' },
  CordonOwner: { status: 'active', addedIn: '9797ffc', firstRecordedIn: 'a0eaa9b' },
};
