// The shape check run by scripts/test.sh: no function in src/ longer than 60 lines and no line in
// src/, test/, bench/ or scripts/ longer than 140 characters (Prettier wraps code but not strings
// or comments). A line or function may be longer if the line before it says why, in a comment
// containing "shape:". Usage: node scripts/check-shape.mjs (exits 1 and lists what is too long).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import ts from 'typescript';

const MAX_FUNCTION_LINES = 60;
const MAX_LINE = 140;
const files = execFileSync('git', ['ls-files', 'src/*.ts', 'test/*.ts', 'bench/*.ts', 'scripts/*'], { encoding: 'utf8' })
  .split('\n')
  .filter(Boolean);
const problems = [];
const excused = (lines, i) => i > 0 && /shape:/.test(lines[i - 1]);

for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.length > MAX_LINE && !excused(lines, i)) problems.push(`${file}:${i + 1}: line of ${line.length} characters`);
  });
  if (!file.startsWith('src/') || !file.endsWith('.ts')) continue;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const length = source.getLineAndCharacterOfPosition(node.getEnd()).line - first + 1;
      if (length > MAX_FUNCTION_LINES && !excused(lines, first)) {
        const name = node.name?.getText(source) ?? node.parent?.name?.getText?.(source) ?? '(anonymous)';
        problems.push(`${file}:${first + 1}: function ${name} has ${length} lines`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
for (const p of problems) console.error(p);
if (problems.length) {
  console.error(`shape check: ${problems.length} problem(s); split the function or wrap the line (or say why in a "shape:" comment)`);
  process.exit(1);
}
