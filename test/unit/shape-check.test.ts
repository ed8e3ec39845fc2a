/**
 * The shape check (scripts/check-shape.mjs, `npm run shape:check`) refuses what its rules say and lets the rest
 * through: long lines, long functions in src/, bench/ and scripts/*.mjs, top-level scripts in bench/ and
 * scripts/*.mjs, and files in src/ over 400 lines unless listed, with a listed file that is no longer long refused
 * too, so the list only shrinks.
 */
import { fileURLToPath } from 'node:url';

interface ShapeCheck {
  LIMITS: { functionLines: number; topLevelLines: number; lineChars: number; srcFileLines: number };
  shapeProblems(files: Array<{ file: string; text: string }>, allowed?: string[]): string[];
}

// A path in a variable, so TypeScript does not look for the .mjs file's types.
const script = fileURLToPath(new URL('../../scripts/check-shape.mjs', import.meta.url));
const { LIMITS, shapeProblems } = (await import(script)) as ShapeCheck;

/** A function of `n` lines (its first and last line included). */
const fn = (n: number) => ['function f() {', ...Array.from({ length: n - 2 }, (_, i) => `  g(${i});`), '}'].join('\n');
/** `n` lines of top-level code. */
const script_ = (n: number) => Array.from({ length: n }, (_, i) => `g(${i});`).join('\n');
/** A text of `n` lines. */
const lines = (n: number) => Array.from({ length: n }, (_, i) => `// ${i}`).join('\n') + '\n';
const check = (file: string, text: string) => shapeProblems([{ file, text }], []);

describe('the shape check', () => {
  it.each([
    ['src/a.ts', 'x'.repeat(LIMITS.lineChars), []],
    ['src/a.ts', 'x'.repeat(LIMITS.lineChars + 1), ['src/a.ts:1: line of 141 characters']],
    ['scripts/a.sh', 'x'.repeat(LIMITS.lineChars + 1), ['scripts/a.sh:1: line of 141 characters']],
    ['src/a.ts', `// shape: a URL\n${'x'.repeat(LIMITS.lineChars + 1)}`, []],
  ])('lines: %s, %#', (file, text, expected) => {
    expect(check(file, text)).toEqual(expected);
  });

  it.each([
    ['src/a.ts', fn(LIMITS.functionLines), []],
    ['src/a.ts', fn(LIMITS.functionLines + 1), ['src/a.ts:1: function f has 61 lines']],
    ['bench/lib/a.ts', fn(LIMITS.functionLines + 1), ['bench/lib/a.ts:1: function f has 61 lines']],
    ['bench/a.mjs', fn(LIMITS.functionLines + 1), ['bench/a.mjs:1: function f has 61 lines']],
    ['scripts/a.mjs', fn(LIMITS.functionLines + 1), ['scripts/a.mjs:1: function f has 61 lines']],
    ['src/a.ts', `// shape: one table\n${fn(LIMITS.functionLines + 1)}`, []],
    // Tests are free to have long describe() callbacks.
    ['test/unit/a.test.ts', fn(LIMITS.functionLines + 1), []],
  ])('functions: %s, %#', (file, text, expected) => {
    expect(check(file, text)).toEqual(expected);
  });

  it.each([
    ['bench/a.ts', script_(LIMITS.topLevelLines), []],
    [
      'bench/a.ts',
      script_(LIMITS.topLevelLines + 1),
      ['bench/a.ts:1: 61 lines of top-level code (at most 60): move them into main() and functions'],
    ],
    [
      'scripts/a.mjs',
      script_(LIMITS.topLevelLines + 1),
      ['scripts/a.mjs:1: 61 lines of top-level code (at most 60): move them into main() and functions'],
    ],
    // Imports, functions, types and constants made without a call are not top-level code.
    ['bench/a.ts', `import { x } from './x.js';\ntype T = number;\nconst TABLE = [\n${'  1,\n'.repeat(70)}];\n${fn(30)}\n${fn(30)}`, []],
    // Modules of src/ may define long tables of constants at the top level.
    ['src/a.ts', script_(LIMITS.topLevelLines + 1), []],
  ])('top-level code: %s, %#', (file, text, expected) => {
    expect(check(file, text)).toEqual(expected);
  });

  test('no file in src/ over 400 lines unless allowed, and an allowed one must still be over', () => {
    const long = { file: 'src/long.ts', text: lines(LIMITS.srcFileLines + 1) };
    const short = { file: 'src/short.ts', text: lines(LIMITS.srcFileLines) };
    expect(shapeProblems([long, short], [])).toEqual(['src/long.ts: 401 lines (at most 400 in src/): split it']);
    expect(shapeProblems([long, short], ['src/long.ts'])).toEqual([]);
    expect(shapeProblems([short], ['src/short.ts', 'src/gone.ts'])).toEqual([
      'src/short.ts has 400 lines: remove it from LONG_FILES_ALLOWED in scripts/check-shape.mjs',
      'src/gone.ts is gone: remove it from LONG_FILES_ALLOWED in scripts/check-shape.mjs',
    ]);
    expect(shapeProblems([{ file: 'test/long.test.ts', text: lines(LIMITS.srcFileLines + 1) }], [])).toEqual([]);
  });
});
