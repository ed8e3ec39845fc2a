/**
 * Pure validation of an {@link UpgradeRequest} (zod), shared by the workflow (first thing it does)
 * and the CLI (to refuse bad input before contacting anything). Checks that need the cluster, such
 * as the control-plane version, come later in the workflow; see ./versions.ts.
 */
import { z } from 'zod';
import { DEFAULT_MAX_BATCH_PERCENT } from './batches.js';
import { DEFAULT_DRAIN_TIMEOUT, DEFAULT_NODE_TIMEOUT, DEFAULT_PAUSE_TIMEOUT, parseDuration } from './durations.js';
import { InvalidUpgradeRequestError } from './errors.js';
import type { UpgradeRequest } from './types.js';
import { formatVersion, parseVersion } from './versions.js';
import { isValidTimeZone } from './window.js';

const duration = z.union([z.string().min(1), z.number().positive()], {
  error: "expected a duration such as '15 days', '10m', '90s' or a number of milliseconds",
});
/** A duration that may be 0 (the gate's `stableFor`: 0 disables the gate). */
const durationOrZero = z.union([z.string().min(1), z.number().nonnegative()], {
  error: "expected a duration such as '30s', '2m' or a number of milliseconds (0 disables)",
});
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, { error: 'expected a time "HH:MM" or "HH:MM:SS" (24-hour)' });

/** The zod schema of {@link UpgradeRequest}. Unknown fields are refused, so a typo is not silently ignored. */
export const upgradeRequestSchema = z.strictObject({
  clusterId: z
    .string({ error: 'clusterId is required' })
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, { error: 'clusterId must be letters, digits, ".", "_" or "-" (at most 100)' }),
  targetVersion: z
    .string({ error: 'targetVersion is required, e.g. v1.34.4' })
    .min(1, { error: 'targetVersion is required, e.g. v1.34.4' }),
  acceptWarnings: z.boolean().optional(),
  batch: z
    .strictObject({
      maxPercent: z
        .number()
        .gt(0, { error: 'batch.maxPercent must be above 0' })
        .max(100, { error: 'batch.maxPercent must be at most 100' })
        .optional(),
    })
    .optional(),
  pauseTimeout: duration.optional(),
  drainTimeout: duration.optional(),
  nodeTimeout: duration.optional(),
  upgradeImage: z.string().min(1).optional(),
  window: z
    .strictObject({
      days: z.array(z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])).optional(),
      start: hhmm,
      end: hhmm,
      timezone: z
        .string()
        .refine(isValidTimeZone, {
          error: (i) => `unknown time zone '${String(i.input)}': expected an IANA name such as 'UTC' or 'Europe/Berlin'`,
        })
        .optional(),
    })
    .optional(),
  offline: z.enum(['fail', 'defer'], { error: "offline must be 'fail' or 'defer'" }).optional(),
  deferTimeout: duration.optional(),
  maxFailures: z
    .union([
      z.number().int({ error: 'maxFailures must be a whole number or a percentage such as "10%"' }).nonnegative(),
      z.string().regex(/^(100|[1-9]?\d)(\.\d+)?%$/, { error: 'maxFailures must be a whole number or a percentage such as "10%"' }),
    ])
    .optional(),
  gate: z
    .strictObject({
      stableFor: durationOrZero.optional(),
      timeout: duration.optional(),
      checks: z
        .array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { error: 'gate.checks: names are letters, digits, ".", "_" or "-"' }))
        .max(20)
        .optional(),
      maxRestarts: z.number().int().nonnegative().optional(),
    })
    .optional(),
  via: z
    .array(z.string().min(1), { error: "via must be a list of versions such as ['v1.32.9', 'v1.33.5']" })
    .max(10, { error: 'via: at most 10 versions' })
    .optional(),
  nodeProbes: z
    .union([
      z.boolean(),
      z.strictObject({
        concurrency: z
          .number()
          .int({ error: 'nodeProbes.concurrency must be a whole number from 1 to 500' })
          .min(1, { error: 'nodeProbes.concurrency must be a whole number from 1 to 500' })
          .max(500, { error: 'nodeProbes.concurrency must be a whole number from 1 to 500' })
          .optional(),
        timeout: duration.optional(),
      }),
    ])
    .optional(),
});

/** A validated request with defaults applied and durations in milliseconds. */
export interface ValidatedRequest {
  request: UpgradeRequest;
  /** Canonical target, e.g. 'v1.34.4'. */
  targetVersion: string;
  maxBatchPercent: number;
  pauseTimeoutMs: number;
  drainTimeoutMs: number;
  nodeTimeoutMs: number;
  /** 'fail' (default) or 'defer'. */
  offline: 'fail' | 'defer';
  /** How long a deferred node may stay offline, ms (default: the pause timeout). */
  deferTimeoutMs: number;
  /** The failure budget as requested: a count, or a percentage of the workers (see {@link failureBudget}). */
  maxFailures: number | string;
  /** The health gate, durations in ms; `stableForMs` 0 means no gate. */
  gate: { stableForMs: number; timeoutMs: number; checks: string[]; maxRestarts: number };
  /** The node probes of the pre-check; `timeoutMs` per node. */
  nodeProbes: { enabled: boolean; concurrency: number; timeoutMs: number };
}

/** Default `nodeProbes.concurrency`: nodes probed at once. */
export const DEFAULT_PROBE_CONCURRENCY = 20;
/** Default `nodeProbes.timeout`: a node whose probe has not finished by then is a warning. */
export const DEFAULT_PROBE_TIMEOUT = '2m';

/** Default `gate.stableFor`: every check must hold this long after a batch before the next starts. */
export const DEFAULT_GATE_STABLE_FOR = '30s';
/** Default `gate.timeout`: a check failing this long pauses the upgrade. */
export const DEFAULT_GATE_TIMEOUT = '10m';
/** Default `gate.maxRestarts`. */
export const DEFAULT_GATE_MAX_RESTARTS = 3;

/** How many workers may fail (and be quarantined) before the upgrade pauses: `maxFailures` of `workers` (a percentage rounds down). */
export function failureBudget(maxFailures: number | string, workers: number): number {
  if (typeof maxFailures === 'number') return maxFailures;
  const percent = Number(maxFailures.replace('%', ''));
  // Integer arithmetic on hundredths of a percent, so 10% of 20 is exactly 2.
  return Math.floor((Math.round(percent * 100) * workers) / 10_000);
}

/**
 * Validates `input` as an upgrade request. Throws {@link InvalidUpgradeRequestError} whose message
 * lists every problem, one per field, e.g. "targetVersion 'v1.x' is not a Kubernetes version like v1.34.4".
 */
export function validateUpgradeRequest(input: unknown): ValidatedRequest {
  const parsed = upgradeRequestSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const path = i.path.join('.');
      return path && !i.message.startsWith(path) ? `${path}: ${i.message}` : i.message;
    });
    const field = parsed.error.issues[0]?.path.join('.') || 'request';
    throw new InvalidUpgradeRequestError(field, `invalid upgrade request: ${problems.join('; ')}`);
  }
  const request = parsed.data as UpgradeRequest;
  request.via?.forEach((v) => parseVersion(v, 'via'));
  return {
    request,
    targetVersion: formatVersion(parseVersion(request.targetVersion)),
    maxBatchPercent: request.batch?.maxPercent ?? DEFAULT_MAX_BATCH_PERCENT,
    pauseTimeoutMs: parseDuration('pauseTimeout', request.pauseTimeout, DEFAULT_PAUSE_TIMEOUT),
    drainTimeoutMs: parseDuration('drainTimeout', request.drainTimeout, DEFAULT_DRAIN_TIMEOUT),
    nodeTimeoutMs: parseDuration('nodeTimeout', request.nodeTimeout, DEFAULT_NODE_TIMEOUT),
    ...resilience(request),
    nodeProbes: nodeProbesOf(request.nodeProbes),
  };
}

/** The offline, failure-budget and health-gate settings with defaults applied. */
function resilience(request: UpgradeRequest): Pick<ValidatedRequest, 'offline' | 'deferTimeoutMs' | 'maxFailures' | 'gate'> {
  const pauseTimeoutMs = parseDuration('pauseTimeout', request.pauseTimeout, DEFAULT_PAUSE_TIMEOUT);
  return {
    offline: request.offline ?? 'fail',
    deferTimeoutMs: request.deferTimeout === undefined ? pauseTimeoutMs : parseDuration('deferTimeout', request.deferTimeout, ''),
    maxFailures: request.maxFailures ?? 0,
    gate: {
      stableForMs: parseDuration('gate.stableFor', request.gate?.stableFor, DEFAULT_GATE_STABLE_FOR, 0),
      timeoutMs: parseDuration('gate.timeout', request.gate?.timeout, DEFAULT_GATE_TIMEOUT),
      checks: request.gate?.checks ?? [],
      maxRestarts: request.gate?.maxRestarts ?? DEFAULT_GATE_MAX_RESTARTS,
    },
  };
}

/** The node-probe settings with defaults applied. */
function nodeProbesOf(p: UpgradeRequest['nodeProbes']): ValidatedRequest['nodeProbes'] {
  const o = typeof p === 'object' ? p : {};
  return {
    enabled: p !== false,
    concurrency: o.concurrency ?? DEFAULT_PROBE_CONCURRENCY,
    timeoutMs: parseDuration('nodeProbes.timeout', o.timeout, DEFAULT_PROBE_TIMEOUT),
  };
}
