/** The upgrade image allow-list: reference parsing, what may be configured, and what a request may name. */
import { InvalidUpgradeRequestError } from '../../src/planning/errors.js';
import { allowListProblem, imageMatches, parseImageRef, resolveUpgradeImage } from '../../src/planning/images.js';

const D1 = 'sha256:' + 'a'.repeat(64);
const D2 = 'sha256:' + 'b'.repeat(64);
const AGENT = `registry.example.com/edge-upgrade/agent@${D1}`;

describe('parseImageRef', () => {
  it.each([
    ['busybox', { name: 'busybox' }],
    ['ghcr.io/edge-upgrade/agent:0.1.0', { name: 'ghcr.io/edge-upgrade/agent', tag: '0.1.0' }],
    [`registry:5000/a/b@${D1}`, { name: 'registry:5000/a/b', digest: D1 }],
    [`r.example.com/a:1.2@${D2}`, { name: 'r.example.com/a', tag: '1.2', digest: D2 }],
  ])('%s', (ref, parsed) => {
    expect(parseImageRef(ref)).toEqual(parsed);
  });

  it.each([
    '',
    ' busybox',
    'Busybox',
    'a b',
    'r/a@sha256:abc',
    'r/a:',
    'r/a@md5:' + 'a'.repeat(32),
    'r/a:t;rm -rf /',
    'r/a:' + 'x'.repeat(200),
  ])('refuses %j', (ref) => {
    expect(parseImageRef(ref)).toBeNull();
  });
});

describe('allowListProblem (what the worker configuration may list)', () => {
  it('accepts a digest-pinned image', () => {
    expect(allowListProblem(AGENT, false)).toBeNull();
  });

  it('refuses a tag-only image unless tags are opted in', () => {
    expect(allowListProblem('ghcr.io/edge-upgrade/agent:0.1.0', false)).toMatch(/not pinned by digest .*allowTaggedImages: true/);
    expect(allowListProblem('ghcr.io/edge-upgrade/agent:0.1.0', true)).toBeNull();
  });

  it('refuses what is not an image reference, even with tags allowed', () => {
    expect(allowListProblem('not an image', true)).toMatch(/is not an image reference/);
  });
});

describe('imageMatches', () => {
  it.each([
    [AGENT, AGENT, true],
    [AGENT, `registry.example.com/edge-upgrade/agent:0.2.0@${D1}`, true],
    [AGENT, `registry.example.com/edge-upgrade/agent@${D2}`, false],
    [AGENT, 'registry.example.com/edge-upgrade/agent:0.2.0', false],
    [AGENT, `evil.example.com/edge-upgrade/agent@${D1}`, false],
    ['r.example.com/agent:1.0', 'r.example.com/agent:1.0', true],
    ['r.example.com/agent:1.0', 'r.example.com/agent:1.1', false],
    // A tag entry trusts that tag, not whatever content someone pins under the repository.
    ['r.example.com/agent:1.0', `r.example.com/agent:1.0@${D2}`, false],
  ])('entry %s allows %s: %s', (entry, requested, ok) => {
    expect(imageMatches(entry, requested)).toBe(ok);
  });
});

describe('resolveUpgradeImage', () => {
  const policy = { defaultImage: AGENT, allowed: [`registry.example.com/edge-upgrade/agent-arm@${D2}`] };

  it('uses the default when the request names no image, and an allowed one when it does', () => {
    expect(resolveUpgradeImage(policy, undefined, 'shop')).toBe(AGENT);
    expect(resolveUpgradeImage(policy, AGENT, 'shop')).toBe(AGENT);
    expect(resolveUpgradeImage(policy, `registry.example.com/edge-upgrade/agent-arm@${D2}`, 'shop')).toBe(
      `registry.example.com/edge-upgrade/agent-arm@${D2}`,
    );
  });

  it.each([
    [
      'evil.example.com/miner:latest',
      new RegExp(
        /^upgradeImage "evil\.example\.com\/miner:latest" is not allowed for cluster shop /.source +
          /\(this worker allows registry\.example\.com\/edge-upgrade\/agent@sha256:a+, /.source +
          /registry\.example\.com\/edge-upgrade\/agent-arm@sha256:b+\); omit the image/.source,
      ),
    ],
    [`registry.example.com/edge-upgrade/agent@${D2}`, /is not allowed for cluster shop/],
    ['not an image', /^upgradeImage "not an image" is not an image reference like /],
  ])('refuses %s with one line', (requested, message) => {
    let err: unknown;
    try {
      resolveUpgradeImage(policy, requested, 'shop');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidUpgradeRequestError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it('without any configured image, a request without one is refused naming the setting', () => {
    expect(() => resolveUpgradeImage({ allowed: [] }, undefined, 'shop')).toThrow(
      /no upgrade image is configured for cluster shop: set upgradeImage \(pinned by digest/,
    );
    expect(() => resolveUpgradeImage({ allowed: [] }, AGENT, 'shop')).toThrow(/this worker allows no images/);
  });
});
