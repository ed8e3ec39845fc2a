/**
 * What the agent reports from a node's read-only probe (`upgrade-node.sh --check`, see
 * agent/check-node.sh), validated with zod, and what became of each node's probe. The items judged
 * from them are in probe-items.ts.
 */
import { z } from 'zod';

const str = z.string().max(300);
/** One package repository as the agent reports it: the per-minor pkgs.k8s.io one, a frozen legacy one, or another (package cache). */
const repoSchema = z.object({
  kind: z.enum(['pkgs.k8s.io', 'legacy', 'other']),
  url: str.optional(),
  reachable: z.boolean().optional(),
  error: str.optional(),
  versions: z.array(str).max(50).nullable().optional(),
});

/** The JSON the agent writes in check mode (version 1); unknown fields are ignored. */
export const probeResultSchema = z.object({
  v: z.literal(1),
  node: str,
  time: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
  pm: str.optional(),
  swap: z.object({ enabled: z.boolean(), devices: z.array(str).max(20), kubeletAllows: z.boolean() }),
  disk: z.array(z.object({ path: str, freeMb: z.number().nonnegative().optional(), error: str.optional() })).max(10),
  repo: repoSchema,
  /**
   * The repository of each hop's minor (multi-minor upgrades, control-plane nodes: the pod's HOP_VERSIONS), with
   * the hop's version ('v1.33.5'). Absent from agents older than the field; [] when no hop was asked for.
   */
  hopRepos: z
    .array(repoSchema.extend({ version: str }))
    .max(10)
    .optional(),
  certs: z
    .object({
      checked: z.boolean(),
      error: str.optional(),
      certs: z
        .array(z.object({ name: str, residual: str }))
        .max(50)
        .optional(),
    })
    .nullable(),
  runtime: z.object({ reachable: z.boolean().nullable(), name: str.optional(), version: str.optional(), error: str.optional() }),
});

/** One node's probe result, as the agent reports it. */
export type ProbeResult = z.infer<typeof probeResultSchema>;

/** What became of one node's probe. */
export type NodeProbe =
  | {
      node: string;
      outcome: 'done';
      result: ProbeResult;
      /**
       * When the probe ran, by the API server's clock: the pod's creation and its final status
       * write (ISO). The node's clock reading must fall inside, or it is skewed.
       */
      window: { from: string; to: string };
    }
  /** 'failed': the pod failed or its result was unreadable; 'timeout': it did not finish in time. */
  | { node: string; outcome: 'failed' | 'timeout'; message: string };
