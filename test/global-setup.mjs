/**
 * Jest's global setup: brings dist/ (what bin/edge-upgrade.js and the worker's prebuilt workflow
 * bundle are) up to date with the sources once per jest run, before any test file starts. Test
 * files that run the real bin then neither rebuild it each nor race one another's builds while
 * jest runs files side by side. Up to date: dist/workflow-bundle.js, the build's last output, is
 * newer than every file it is built from. The build itself is package.json's `build` script.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json', 'scripts/bundle-workflows.mjs'];

/** The newest modification time under `path` (a file or a folder), in ms. */
function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

function builtAt() {
  try {
    return statSync(join(root, 'dist/workflow-bundle.js')).mtimeMs;
  } catch {
    return 0;
  }
}

export default function globalSetup() {
  if (builtAt() > Math.max(...INPUTS.map((p) => newest(join(root, p))))) return;
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}
