// First half of `npm run build`: compiles src/ to dist/ file by file with TypeScript's transpileModule,
// as tsconfig.build.json says. tsconfig.json has isolatedModules, so each file compiles alone to what
// `tsc -p tsconfig.build.json` emits; the types are checked by `npm run typecheck` (the tests run it).
// Skipping the type check makes the build a few CPU-seconds instead of fifteen, and the test run starts sooner.
// Source maps name their source relative to the output, as tsc's do.
// Usage: node scripts/transpile.mjs (exits 1 naming the file on a syntax error).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../', import.meta.url));

/** The build's compiler options and its source files, from tsconfig.build.json. */
function buildConfig() {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.build.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: fail },
  );
  if (!parsed || parsed.errors.length > 0) fail(parsed?.errors[0]);
  return parsed;
}

function fail(diagnostic) {
  const text = diagnostic ? ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n') : 'cannot read tsconfig.build.json';
  process.stderr.write(`transpile: ${text}\n`);
  process.exit(1);
}

/** Compiles one file to its .js and .js.map under outDir. */
function emit(file, options) {
  const out = join(options.outDir, relative(options.rootDir, file)).replace(/\.ts$/, '.js');
  const result = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file, reportDiagnostics: true });
  if (result.diagnostics?.length) fail(result.diagnostics[0]);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, result.outputText);
  if (result.sourceMapText) {
    const map = JSON.parse(result.sourceMapText);
    map.file = basename(out);
    map.sources = [relative(dirname(out), file)];
    writeFileSync(`${out}.map`, JSON.stringify(map));
  }
}

const { options, fileNames } = buildConfig();
// package.json says "type": "module", so NodeNext makes every file an ES module; transpileModule does not read
// package.json, so it is told.
const esm = { ...options, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler };
for (const file of fileNames) emit(file, esm);
