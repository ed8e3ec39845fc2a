/**
 * The cordon record on a Node: which upgrade cordoned it (upgrade ID, and the first run ID of its chain of
 * runs), to which version, and, when a cleanup kept it cordoned, why. Successive upgrades of a cluster
 * share the upgrade ID (the workflow ID), so the run chain is what tells this upgrade's cordons from an
 * earlier one's. A record without a run chain was written before it existed: it matches on the ID alone.
 */
import type { V1Node } from '@kubernetes/client-node';
import {
  CORDONED_BY_ANNOTATION,
  CORDONED_BY_RUN_ANNOTATION,
  CORDONED_FOR_ANNOTATION,
  KEPT_REASON_ANNOTATION,
  QUARANTINE_REASON_ANNOTATION,
} from './labels.js';

/** Who asks: an upgrade, by its ID and (when known) its run chain. */
export interface CordonOwner {
  upgradeId: string;
  runChain?: string;
}

/** What a node's annotations say about our cordon on it. */
export interface CordonRecord {
  upgradeId?: string;
  runChain?: string;
  targetVersion?: string;
  keptReason?: string;
  /** The quarantine's error, on a worker quarantined under a failure budget. */
  quarantineReason?: string;
}

export function cordonRecord(node: V1Node): CordonRecord {
  const a = node.metadata?.annotations ?? {};
  const r: CordonRecord = {};
  if (a[CORDONED_BY_ANNOTATION] !== undefined) r.upgradeId = a[CORDONED_BY_ANNOTATION];
  if (a[CORDONED_BY_RUN_ANNOTATION] !== undefined) r.runChain = a[CORDONED_BY_RUN_ANNOTATION];
  if (a[CORDONED_FOR_ANNOTATION] !== undefined) r.targetVersion = a[CORDONED_FOR_ANNOTATION];
  if (a[KEPT_REASON_ANNOTATION] !== undefined) r.keptReason = a[KEPT_REASON_ANNOTATION];
  if (a[QUARANTINE_REASON_ANNOTATION] !== undefined) r.quarantineReason = a[QUARANTINE_REASON_ANNOTATION];
  return r;
}

/** True if the record on `node` is `owner`'s: the same upgrade ID, and the same run chain when both know one. */
export function recordedBy(node: V1Node, owner: CordonOwner): boolean {
  const r = cordonRecord(node);
  return r.upgradeId === owner.upgradeId && (r.runChain === undefined || owner.runChain === undefined || r.runChain === owner.runChain);
}

/** True if the record on `node` names `owner`'s upgrade ID but an earlier upgrade's run chain. */
export function recordedByEarlier(node: V1Node, owner: CordonOwner): boolean {
  const r = cordonRecord(node);
  return r.upgradeId === owner.upgradeId && r.runChain !== undefined && owner.runChain !== undefined && r.runChain !== owner.runChain;
}

/** The earlier upgrade a record names, for messages: "run 1f0c… (to v1.34.8)". */
export function earlierUpgrade(r: CordonRecord): string {
  return `run ${r.runChain ?? 'unknown'}${r.targetVersion ? ` (to ${r.targetVersion})` : ''}`;
}

/** Why an earlier upgrade's cordon is on the node: the reason its cleanup (or quarantine) recorded, or that it ended without one. */
export function keptBecause(r: CordonRecord): string {
  if (r.keptReason !== undefined) return r.keptReason;
  if (r.quarantineReason !== undefined) return `it was quarantined: ${r.quarantineReason}`;
  return 'that upgrade ended without releasing it (terminated, or failed before its cleanup)';
}

/**
 * The annotations that record `owner`'s cordon for `targetVersion` (a patch body: `null` removes). `keptReason`
 * (a cordon taken over from an earlier upgrade) stays on the node until this upgrade has upgraded it.
 */
export function cordonAnnotations(
  owner: CordonOwner,
  targetVersion: string,
  keptReason: string | null = null,
): Record<string, string | null> {
  return {
    [CORDONED_BY_ANNOTATION]: owner.upgradeId,
    [CORDONED_BY_RUN_ANNOTATION]: owner.runChain ?? null,
    [CORDONED_FOR_ANNOTATION]: targetVersion,
    [KEPT_REASON_ANNOTATION]: keptReason,
  };
}

/** A patch body that removes the whole record. */
export const NO_CORDON_RECORD: Record<string, null> = {
  [CORDONED_BY_ANNOTATION]: null,
  [CORDONED_BY_RUN_ANNOTATION]: null,
  [CORDONED_FOR_ANNOTATION]: null,
  [KEPT_REASON_ANNOTATION]: null,
};
