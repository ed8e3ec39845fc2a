// The shape check run by scripts/test.sh. Its rules:
// - no line in src/, test/, bench/ or scripts/ longer than 140 characters (Prettier wraps code but not strings or comments);
// - no function in src/, bench/ or scripts/*.mjs longer than 60 lines;
// - no more than 60 lines of top-level code in a file of bench/ or scripts/*.mjs: an entry point is a main() and the
//   functions it calls, not a script (top-level code: whatever runs when the file loads, except imports, declarations
//   of functions, classes and types, and constants made without a call);
// - no file in src/ longer than 400 lines, except those in LONG_FILES_ALLOWED.
// A line or function may be longer if the line before it says why, in a comment containing "shape:".
// Usage: node scripts/check-shape.mjs (exits 1 and lists what is too long).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The limits, in lines (functions, top-level code, files in src/) and characters (lines). */
export const LIMITS = { functionLines: 60, topLevelLines: 60, lineChars: 140, srcFileLines: 400 };

/**
 * Files in src/ that were over LIMITS.srcFileLines when the file rule came in, and are being split (#28). The list
 * only shrinks: a file that is no longer over the limit fails the check until it is removed from here, and no file
 * is added (split it instead).
 */
export const LONG_FILES_ALLOWED = [];

const excused = (lines, i) => i > 0 && /shape:/.test(lines[i - 1]);
const lineOf = (source, pos) => source.getLineAndCharacterOfPosition(pos).line;
const spanOf = (source, node) => lineOf(source, node.getEnd()) - lineOf(source, node.getStart(source)) + 1;
const isScript = (file) => file.startsWith('bench/') || (file.startsWith('scripts/') && file.endsWith('.mjs'));
const checksFunctions = (file) => (file.startsWith('src/') && file.endsWith('.ts')) || (isScript(file) && /\.[cm]?[jt]s$/.test(file));

const DECLARATIONS = new Set([
  ts.SyntaxKind.ImportDeclaration,
  ts.SyntaxKind.ImportEqualsDeclaration,
  ts.SyntaxKind.ExportDeclaration,
  ts.SyntaxKind.FunctionDeclaration,
  ts.SyntaxKind.ClassDeclaration,
  ts.SyntaxKind.InterfaceDeclaration,
  ts.SyntaxKind.TypeAliasDeclaration,
  ts.SyntaxKind.EnumDeclaration,
  ts.SyntaxKind.ModuleDeclaration,
]);

/** Whether `node` runs something when it is evaluated: a call, `new`, `await` or a tagged template outside a nested function. */
function runsCode(node) {
  if (ts.isCallExpression(node) || ts.isNewExpression(node) || ts.isAwaitExpression(node) || ts.isTaggedTemplateExpression(node))
    return true;
  if (ts.isFunctionLike(node) || ts.isClassLike(node)) return false;
  return ts.forEachChild(node, runsCode) ?? false;
}

/** Lines of top-level code in `source`: statements that run when the file loads (see the rules above). */
function topLevelLines(source) {
  let lines = 0;
  for (const statement of source.statements) {
    if (DECLARATIONS.has(statement.kind)) continue;
    const constant = ts.isVariableStatement(statement) && statement.declarationList.flags & ts.NodeFlags.Const;
    if (constant && !runsCode(statement)) continue;
    lines += spanOf(source, statement);
  }
  return lines;
}

/** The functions in `source` longer than LIMITS.functionLines (not excused), as problems. */
function longFunctions(file, source, lines) {
  const problems = [];
  const visit = (node) => {
    if (ts.isFunctionLike(node) && node.body) {
      const first = lineOf(source, node.getStart(source));
      const length = spanOf(source, node);
      if (length > LIMITS.functionLines && !excused(lines, first)) {
        const name = node.name?.getText(source) ?? node.parent?.name?.getText?.(source) ?? '(anonymous)';
        problems.push(`${file}:${first + 1}: function ${name} has ${length} lines`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return problems;
}

/** What is wrong with the shape of one file (`file` relative to the repository's root), as "file:line: problem" lines. */
export function fileProblems(file, text) {
  const lines = text.split('\n');
  const problems = [];
  lines.forEach((line, i) => {
    if (line.length > LIMITS.lineChars && !excused(lines, i)) problems.push(`${file}:${i + 1}: line of ${line.length} characters`);
  });
  if (!checksFunctions(file)) return problems;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  problems.push(...longFunctions(file, source, lines));
  const topLevel = isScript(file) ? topLevelLines(source) : 0;
  if (topLevel > LIMITS.topLevelLines) {
    problems.push(`${file}:1: ${topLevel} lines of top-level code (at most ${LIMITS.topLevelLines}): move them into main() and functions`);
  }
  return problems;
}

/** The file rule: src/ files over LIMITS.srcFileLines not in `allowed`, and files in `allowed` that are no longer over it. */
export function fileLengthProblems(files, allowed = LONG_FILES_ALLOWED) {
  const problems = [];
  const lengthOf = new Map(files.map(({ file, text }) => [file, text.split('\n').length - (text.endsWith('\n') ? 1 : 0)]));
  for (const [file, length] of lengthOf) {
    if (!file.startsWith('src/') || length <= LIMITS.srcFileLines || allowed.includes(file)) continue;
    problems.push(`${file}: ${length} lines (at most ${LIMITS.srcFileLines} in src/): split it`);
  }
  for (const file of allowed) {
    const length = lengthOf.get(file);
    if (length !== undefined && length > LIMITS.srcFileLines) continue;
    const now = length === undefined ? 'is gone' : `has ${length} lines`;
    problems.push(`${file} ${now}: remove it from LONG_FILES_ALLOWED in scripts/check-shape.mjs`);
  }
  return problems;
}

/** Every problem in `files` ({ file, text }, paths relative to the repository's root). */
export function shapeProblems(files, allowed = LONG_FILES_ALLOWED) {
  return [...files.flatMap(({ file, text }) => fileProblems(file, text)), ...fileLengthProblems(files, allowed)];
}

function main() {
  const files = execFileSync('git', ['ls-files', 'src/*.ts', 'test/*.ts', 'bench/*', 'scripts/*'], { encoding: 'utf8' })
    .split('\n')
    .filter((file) => file && !file.endsWith('.md') && existsSync(file)) // a file deleted but not yet committed is gone
    .map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  const problems = shapeProblems(files);
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error(
      `shape check: ${problems.length} problem(s); split the function or file, or wrap the line (or say why in a "shape:" comment)`,
    );
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
