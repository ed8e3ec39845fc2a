/**
 * The upgrade image allow-list (pure). The upgrade pod runs privileged with the host's PID
 * namespace on every node, so the image is never a free-form input: a request may name only an
 * image the worker's configuration allows for that cluster, and the configuration itself pins
 * images by digest unless the operator opts in to tags.
 */
import { InvalidUpgradeRequestError } from './errors.js';

/** A parsed image reference: `name[:tag][@digest]`. */
export interface ImageRef {
  /** Registry and repository, e.g. 'registry.example.com/edge-upgrade/agent'. */
  name: string;
  tag?: string;
  /** e.g. 'sha256:' followed by 64 hex digits. */
  digest?: string;
}

/** The images one cluster's upgrade may use. */
export interface ImagePolicy {
  /** Used when the request names no image; always allowed. */
  defaultImage?: string;
  /** Further images a request may name. */
  allowed: readonly string[];
}

/** An example of what we expect, for messages. */
export const IMAGE_EXAMPLE = 'registry.example.com/edge-upgrade/agent@sha256:<64 hex digits>';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN =
  '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?';
const NAME_RE = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;

/** Parses `ref`, or returns null when it is not a well-formed image reference. */
export function parseImageRef(ref: string): ImageRef | null {
  if (typeof ref !== 'string' || ref !== ref.trim() || ref.length === 0 || ref.length > 512) return null;
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) return null;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) return null;
  }
  if (!NAME_RE.test(rest)) return null;
  return { name: rest, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** True when `ref` names its content by digest (tags can be moved; digests cannot). */
export function isDigestPinned(ref: string): boolean {
  return parseImageRef(ref)?.digest !== undefined;
}

/**
 * Why `ref`, configured as `where`, cannot go on an allow-list, or null when it can: it must be a
 * well-formed reference, and pinned by digest unless `allowTags`.
 */
export function allowListProblem(ref: string, allowTags: boolean): string | null {
  const parsed = parseImageRef(ref);
  if (!parsed) return `"${ref}" is not an image reference like ${IMAGE_EXAMPLE}`;
  if (!parsed.digest && !allowTags) {
    return (
      `"${ref}" is not pinned by digest (name@sha256:…): ` +
      'a tag can be moved to another image, which would then run privileged on every node; ' +
      'pin it, or set allowTaggedImages: true (EDGE_UPGRADE_ALLOW_TAGGED_IMAGES=true) to trust tags'
    );
  }
  return null;
}

/**
 * True when the requested image is what `entry` allows: the same repository and, for a
 * digest-pinned entry, the same digest (the runtime pulls by digest, whatever the tag says); a
 * tag-only entry allows exactly that tag and nothing pinned to some other content.
 */
export function imageMatches(entry: string, requested: string): boolean {
  const e = parseImageRef(entry);
  const r = parseImageRef(requested);
  if (!e || !r || e.name !== r.name) return false;
  if (e.digest) return r.digest === e.digest;
  return r.digest === undefined && r.tag === e.tag;
}

function shortList(images: readonly string[]): string {
  const shown = images.slice(0, 3).join(', ');
  return images.length > 3 ? `${shown} and ${images.length - 3} more` : shown;
}

/**
 * The image the upgrade pods of `clusterId` run: `requested` when the policy allows it, else the
 * policy's default when nothing is requested. Throws {@link InvalidUpgradeRequestError}
 * ('upgradeImage') with one line saying what is allowed and where to change it.
 */
export function resolveUpgradeImage(policy: ImagePolicy, requested: string | undefined, clusterId: string): string {
  const allowed = [...(policy.defaultImage ? [policy.defaultImage] : []), ...policy.allowed.filter((a) => a !== policy.defaultImage)];
  if (requested === undefined || requested === '') {
    if (policy.defaultImage) return policy.defaultImage;
    throw new InvalidUpgradeRequestError(
      'upgradeImage',
      `no upgrade image is configured for cluster ${clusterId}: ` +
        `set upgradeImage (pinned by digest, e.g. ${IMAGE_EXAMPLE}) in the worker configuration or EDGE_UPGRADE_IMAGE`,
    );
  }
  if (!parseImageRef(requested)) {
    throw new InvalidUpgradeRequestError('upgradeImage', `upgradeImage "${requested}" is not an image reference like ${IMAGE_EXAMPLE}`);
  }
  if (allowed.some((entry) => imageMatches(entry, requested))) return requested;
  const what = allowed.length ? `this worker allows ${shortList(allowed)}` : 'this worker allows no images';
  throw new InvalidUpgradeRequestError(
    'upgradeImage',
    `upgradeImage "${requested}" is not allowed for cluster ${clusterId} (${what}); ` +
      'omit the image to use the default, or add it to allowedImages in the worker configuration',
  );
}
