/**
 * The import graph of src/ keeps its shape (#28): every file sits in a layer, no file imports a higher layer, there
 * are no import cycles beyond the known ones (which must still exist, so the list only shrinks), and the
 * Temporal-free layer and the simulator pull no Temporal SDK at run time. Imports are read with TypeScript's parser:
 * `import`, `export … from`, `import()` and `import('…').Type`; type-only imports count for layers and cycles.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The layers, lowest first. A file may import its own layer and lower ones, never a higher one. A path ending in
 * '/' is a folder (and everything under it); a new file or folder of src/ must be given a layer here.
 */
const LAYERS: ReadonlyArray<{ layer: string; paths: string[] }> = [
  // Pure rules (plans, versions, filters, verdicts, names): no I/O, no clock; workflows import them too.
  { layer: 'planning', paths: ['src/planning/'] },
  // Temporal-free Kubernetes and configuration: clients, errors, request kinds, kubeconfigs, the worker's config and
  // its clusters, the request counter. Activities and the simulator build on it.
  { layer: 'kube', paths: ['src/kube/', 'src/kubeconfig.ts', 'src/config.ts', 'src/cluster-registry.ts', 'src/request-tally.ts'] },
  // Kubernetes I/O with heartbeats and cancellation.
  { layer: 'activities', paths: ['src/activities/'] },
  // Deterministic workflow code; it imports activities as types only (eslint.config.js).
  { layer: 'workflows', paths: ['src/workflows/'] },
  // What the CLI and the tests build on: the client API, the worker, and the local test bed (control plane, dev
  // server, the node simulator). The simulator imports only kube and planning (see the Temporal-free test below).
  { layer: 'api', paths: ['src/api.ts', 'src/in-flight.ts', 'src/worker.ts', 'src/health-server.ts', 'src/local/', 'src/simulator/'] },
  // The command line.
  { layer: 'cli', paths: ['src/cli/', 'src/client.ts'] },
];

/**
 * Import cycles tolerated for now (none since #28 items 2 and 3). The list only shrinks: the test fails when one
 * of these is gone (remove it here) and when any other cycle appears.
 */
const KNOWN_CYCLES: string[][] = [];

/** Folders whose files, and every src file they import at run time, must not import a Temporal SDK package at run time. */
const TEMPORAL_FREE = ['src/kube/', 'src/simulator/'];

const root = fileURLToPath(new URL('../../', import.meta.url));

/** One import of a file: what it names, and whether it is erased at run time (`import type`, `import('…').T`). */
interface Import {
  specifier: string;
  typeOnly: boolean;
}

/** The imports of a TypeScript source text. */
function importsOf(text: string): Import[] {
  const source = ts.createSourceFile('x.ts', text, ts.ScriptTarget.Latest, true);
  const out: Import[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      out.push({ specifier: node.moduleSpecifier.text, typeOnly: isTypeOnly(node) });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) out.push({ specifier: arg.text, typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** Whether an import or export declaration is erased at run time: `import type`, or only `type` names. */
function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) {
    if (node.isTypeOnly) return true;
    return !!node.exportClause && ts.isNamedExports(node.exportClause) && node.exportClause.elements.every((e) => e.isTypeOnly);
  }
  const clause = node.importClause;
  if (!clause) return false; // a side-effect import
  if (clause.isTypeOnly) return true;
  const names = clause.namedBindings;
  return !clause.name && !!names && ts.isNamedImports(names) && names.elements.length > 0 && names.elements.every((e) => e.isTypeOnly);
}

/** The import graph: each file's imports of other files of the graph (`to`, its path) and of packages (`to`, the specifier). */
type Graph = Map<string, Array<Import & { to: string; local: boolean }>>;

/** Every .ts file under `dir` (relative to the repository's root, with '/'). */
function tsFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return tsFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** The graph of `texts` (path → source text): relative imports resolve '.js' to the '.ts' file beside it. */
function graphOf(texts: Map<string, string>): Graph {
  const graph: Graph = new Map();
  for (const [file, text] of texts) {
    const edges = importsOf(text).map((i) => {
      if (!i.specifier.startsWith('.')) return { ...i, to: i.specifier, local: false };
      const to = posix.normalize(posix.join(dirname(file), i.specifier)).replace(/\.js$/, '.ts');
      return { ...i, to, local: texts.has(to) };
    });
    graph.set(file, edges);
  }
  return graph;
}

/** The import cycles of `graph` (its strongly connected components of more than one file, or a file importing itself), each sorted. */
function cyclesOf(graph: Graph): string[][] {
  // Tarjan's algorithm.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const { to, local } of graph.get(v) ?? []) {
      if (!local) continue;
      if (!index.has(to)) {
        connect(to);
        low.set(v, Math.min(low.get(v)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(v, Math.min(low.get(v)!, index.get(to)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    const selfImport = (graph.get(v) ?? []).some((e) => e.local && e.to === v);
    if (component.length > 1 || selfImport) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The index in LAYERS of `file`'s layer, or -1. */
function layerOf(file: string): number {
  return LAYERS.findIndex(({ paths }) => paths.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)));
}

const src = new Map(tsFiles('src').map((file) => [file, readFileSync(join(root, file), 'utf8')]));
const graph = graphOf(src);

describe('the import graph of src/', () => {
  test('every file of src/ is in a layer of LAYERS', () => {
    expect([...graph.keys()].filter((file) => layerOf(file) < 0)).toEqual([]);
  });

  test('no file imports a file of a higher layer (type-only imports included)', () => {
    const upward: string[] = [];
    for (const [file, edges] of graph) {
      for (const { to, local } of edges) {
        if (local && layerOf(to) > layerOf(file)) {
          upward.push(`${file} (${LAYERS[layerOf(file)]?.layer}) imports ${to} (${LAYERS[layerOf(to)]?.layer})`);
        }
      }
    }
    expect(upward).toEqual([]);
  });

  test('no import cycles but KNOWN_CYCLES, and each of those still exists', () => {
    const key = (cycle: string[]) => [...cycle].sort().join(' ⇄ ');
    const found = cyclesOf(graph).map(key);
    const known = KNOWN_CYCLES.map(key);
    expect(found.filter((c) => !known.includes(c)).map((c) => `new cycle: ${c}`)).toEqual([]);
    expect(known.filter((c) => !found.includes(c)).map((c) => `gone (remove it from KNOWN_CYCLES): ${c}`)).toEqual([]);
  });

  test('src/kube/ and src/simulator/ pull in no Temporal SDK at run time, through any file they import', () => {
    const pulled: string[] = [];
    const seen = new Set<string>();
    const visit = (file: string, via: string[]): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const { to, local, typeOnly } of graph.get(file) ?? []) {
        if (typeOnly) continue;
        if (local) visit(to, [...via, to]);
        else if (to.startsWith('@temporalio/')) pulled.push(`${[...via, to].join(' → ')}`);
      }
    };
    for (const file of graph.keys()) if (TEMPORAL_FREE.some((p) => file.startsWith(p))) visit(file, [file]);
    expect(pulled).toEqual([]);
  });
});

describe('the graph readers', () => {
  it.each([
    ["import { a } from './a.js';", [{ specifier: './a.js', typeOnly: false }]],
    ["import type { A } from './a.js';", [{ specifier: './a.js', typeOnly: true }]],
    ["import { type A, type B } from './a.js';", [{ specifier: './a.js', typeOnly: true }]],
    ["import { type A, b } from './a.js';", [{ specifier: './a.js', typeOnly: false }]],
    ["import './side-effect.js';", [{ specifier: './side-effect.js', typeOnly: false }]],
    ["export { a } from './a.js';", [{ specifier: './a.js', typeOnly: false }]],
    ["export type { A } from './a.js';", [{ specifier: './a.js', typeOnly: true }]],
    ["const m = await import('./m.js');", [{ specifier: './m.js', typeOnly: false }]],
    ["let x: import('./t.js').T;", [{ specifier: './t.js', typeOnly: true }]],
    ['const a = 1;', []],
  ])('%s', (text, expected) => {
    expect(importsOf(text)).toEqual(expected);
  });

  const graphOfEdges = (edges: Record<string, string[]>) =>
    graphOf(new Map(Object.entries(edges).map(([file, to]) => [file, to.map((t) => `import type { X } from './${t}.js';`).join('\n')])));

  it.each([
    ['none', { 'a.ts': ['b'], 'b.ts': ['c'], 'c.ts': [] }, []],
    ['a pair', { 'a.ts': ['b'], 'b.ts': ['a'] }, [['a.ts', 'b.ts']]],
    [
      'a loop of three and a pair',
      { 'a.ts': ['b'], 'b.ts': ['c'], 'c.ts': ['a'], 'd.ts': ['e'], 'e.ts': ['d'] },
      [
        ['a.ts', 'b.ts', 'c.ts'],
        ['d.ts', 'e.ts'],
      ],
    ],
    ['a file importing itself', { 'a.ts': ['a'] }, [['a.ts']]],
    ['an import of a file outside the graph', { 'a.ts': ['z'] }, []],
  ])('cycles: %s', (_name, edges, expected) => {
    expect(cyclesOf(graphOfEdges(edges))).toEqual(expected);
  });
});
