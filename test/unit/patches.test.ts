/**
 * The patch ledger (src/workflows/patches.ts) against the code and the replay corpus: each patch is
 * called the way its status says, a patch is deprecated exactly when every recorded set in the
 * support window was recorded with it, and test/histories/ holds exactly the sets the ledger names.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PATCHES, Patch, RECORDED_SETS, SUPPORT_WINDOW_OLDEST, type PatchName } from '../../src/workflows/patches.js';

const workflows = fileURLToPath(new URL('../../src/workflows/', import.meta.url));
const histories = fileURLToPath(new URL('../histories/', import.meta.url));
const source = readdirSync(workflows)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => readFileSync(workflows + f, 'utf8'))
  .join('\n');
const names = Object.keys(Patch) as PatchName[];

/** The patches the workflow code passes to `call`, e.g. patched(Patch.HealthGate). */
function calledWith(call: 'patched' | 'deprecatePatch'): Set<string> {
  return new Set([...source.matchAll(new RegExp(`\\b${call}\\(Patch\\.(\\w+)\\)`, 'g'))].map((m) => m[1]!));
}

test('every patch has a ledger entry, and no two share an ID', () => {
  expect(Object.keys(PATCHES).sort()).toEqual([...names].sort());
  expect(new Set(Object.values(Patch)).size).toBe(names.length);
});

test.each(names)('%s is called as its status says', (name) => {
  const { status } = PATCHES[name];
  expect({ patched: calledWith('patched').has(name), deprecatePatch: calledWith('deprecatePatch').has(name) }).toEqual({
    patched: status === 'active',
    deprecatePatch: status === 'deprecated',
  });
});

test.each(names)('%s is deprecated exactly when the whole support window was recorded with it', (name) => {
  const { status, firstRecordedIn } = PATCHES[name];
  expect(RECORDED_SETS).toContain(firstRecordedIn);
  // A patch newer than the oldest set in the window still has histories that take its old path.
  const wholeWindow = firstRecordedIn === SUPPORT_WINDOW_OLDEST;
  expect(status === 'active' ? 'active' : 'deprecated or removed').toBe(wholeWindow ? 'deprecated or removed' : 'active');
});

test('test/histories/ holds exactly the recorded sets of the ledger, oldest first there', () => {
  const folders = readdirSync(histories, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
  expect(folders.sort()).toEqual([...RECORDED_SETS].sort());
  expect(SUPPORT_WINDOW_OLDEST).toBe(RECORDED_SETS[0]);
});
