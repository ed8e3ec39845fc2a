/**
 * The docs hold together, as an operator following them would notice: every relative link and #anchor
 * in README.md, CONTRIBUTING.md, SECURITY.md, CHANGELOG.md and docs/**\/*.md leads somewhere (the file
 * exists, the anchor is one of GitHub's heading slugs there), the README stays short, and docs/cli.md is
 * what scripts/cli-docs.mjs makes from the built CLI's help. No Markdown library is a dependency, so the
 * slug and the link finder are small functions here, tested first on their own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const README_MAX_LINES = 220;

/**
 * GitHub's anchor for a heading (as github-slugger makes it): the rendered text in lower case, every
 * character but letters, digits, marks, '_', '-' and spaces dropped, each space a '-'.
 */
function slug(heading: string): string {
  const rendered = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').trim();
  return rendered
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The text with fenced code blocks blanked out, line numbers kept. */
function withoutFences(text: string): string {
  let fence: { char: string; length: number } | null = null;
  const lines = text.split('\n').map((line) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (m) {
      const mark = m[1]!;
      if (!fence) fence = { char: mark[0]!, length: mark.length };
      else if (mark[0] === fence.char && mark.length >= fence.length && line.trim() === mark) fence = null;
      return '';
    }
    return fence ? '' : line;
  });
  return lines.join('\n');
}

/** The text a link may be in: no fenced code blocks, no inline code spans. */
function prose(text: string): string {
  return withoutFences(text).replace(/(`+)(?:(?!\1)[^\n]|\n(?!\n))*?\1/g, '');
}

/** The anchors a Markdown text offers: its headings' slugs (repeats get -1, -2, …) and HTML ids. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(text).split('\n')) {
    const h = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (!h) continue;
    const base = slug(h[1]!);
    let s = base;
    while (seen.has(s)) {
      const n = seen.get(base)! + 1;
      seen.set(base, n);
      s = `${base}-${n}`;
    }
    seen.set(s, 0);
    anchors.add(s);
  }
  for (const m of text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]!);
  return anchors;
}

/** Every link target in a Markdown text with its line: inline links and images, and reference definitions. */
function linksOf(text: string): Array<{ line: number; target: string }> {
  const body = prose(text);
  const lineAt = (index: number) => body.slice(0, index).split('\n').length;
  const links: Array<{ line: number; target: string }> = [];
  const inline = /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^\s)>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g;
  for (const m of body.matchAll(inline)) links.push({ line: lineAt(m.index), target: m[1]! });
  for (const m of body.matchAll(/^ {0,3}\[[^\]]+\]:[ \t]*<?([^\s>]+)>?/gm)) links.push({ line: lineAt(m.index), target: m[1]! });
  return links;
}

/** Why `target`, linked from `file` (a path under `base`), leads nowhere; null when it resolves. */
function brokenTarget(base: string, file: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // https:, mailto: …: not ours to check
  if (target === '') return 'an empty link';
  const hash = target.indexOf('#');
  const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const fragment = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
  const to = path === '' ? join(base, file) : path.startsWith('/') ? join(base, path) : resolve(dirname(join(base, file)), path);
  const name = relative(base, to) || '.';
  if (name.startsWith('..')) return `${name} is outside the repository`;
  if (!existsSync(to)) return `${name} does not exist`;
  if (fragment === null) return null;
  if (!to.endsWith('.md') || !statSync(to).isFile()) return `#${fragment}: anchors are checked only into Markdown files, not ${name}`;
  return anchorsOf(readFileSync(to, 'utf8')).has(fragment) ? null : `${name} has no heading with the anchor #${fragment}`;
}

/** The links of `file` (relative to `base`) that lead nowhere, as "file:line: target: why". */
function brokenLinks(base: string, file: string): string[] {
  const text = readFileSync(join(base, file), 'utf8');
  return linksOf(text).flatMap(({ line, target }) => {
    const why = brokenTarget(base, file, target);
    return why ? [`${file}:${line}: ${target}: ${why}`] : [];
  });
}

/** The Markdown files whose links are checked, relative to the repository root. */
function docFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
    );
  const top = ['README.md', 'CONTRIBUTING.md', 'SECURITY.md', 'CHANGELOG.md'].filter((f) => existsSync(join(root, f)));
  return [...top, ...(existsSync(join(root, 'docs')) ? walk('docs') : [])].sort();
}

describe('GitHub heading anchors', () => {
  it.each([
    ['Multi-minor upgrades (v1.31 → v1.34 in one run)', 'multi-minor-upgrades-v131--v134-in-one-run'],
    ["The worker's memory settings", 'the-workers-memory-settings'],
    ['`lastError.step`: `upgrade-pod`', 'lasterrorstep-upgrade-pod'],
    ['Edge sites: offline workers, health gates, a failure budget', 'edge-sites-offline-workers-health-gates-a-failure-budget'],
    ['[The upgrade pod](agent-and-security.md) and its log', 'the-upgrade-pod-and-its-log'],
    ['max_batch_percent — 10%', 'max_batch_percent--10'],
  ])('%s → #%s', (heading, anchor) => {
    expect(slug(heading)).toBe(anchor);
  });

  test('repeated headings get -1, -2; lines in code blocks and a # mid-line are no headings; HTML ids are anchors', () => {
    const text = '# Steps\n## Steps\n```sh\n# Steps\n```\n### Steps #\nNot # a heading\n<a id="kept"></a>\n## Each `lastError.step`\n';
    expect([...anchorsOf(text)].sort()).toEqual(['each-lasterrorstep', 'kept', 'steps', 'steps-1', 'steps-2']);
  });
});

describe('the link finder', () => {
  test('finds inline links, images and reference definitions, with their lines, and none in code', () => {
    const text = [
      'See [concepts](docs/concepts.md#phases) and ![flow](flow.png "the flow").',
      'Not `[code](nowhere.md)` nor in a block:',
      '```',
      '[x](nowhere.md)',
      '```',
      'A link [over',
      'two lines](docs/install.md) and [`cli.md`](docs/cli.md).',
      '[ref]: CONTRIBUTING.md#set-up',
    ].join('\n');
    expect(linksOf(text)).toEqual([
      { line: 1, target: 'docs/concepts.md#phases' },
      { line: 1, target: 'flow.png' },
      { line: 6, target: 'docs/install.md' },
      { line: 7, target: 'docs/cli.md' },
      { line: 8, target: 'CONTRIBUTING.md#set-up' },
    ]);
  });

  test('reports a missing file, a missing anchor, an anchor into code and a way out of the repository', () => {
    const base = mkdtempSync(join(tmpdir(), 'edge-upgrade-docs-'));
    try {
      writeFileSync(join(base, 'other.md'), '# Real heading\n');
      writeFileSync(join(base, 'code.ts'), 'export {};\n');
      writeFileSync(
        join(base, 'page.md'),
        [
          '# Page',
          '[ok](other.md#real-heading) [ok](#page) [ok](https://example.com/x.md#y)',
          '[gone](missing.md) [no anchor](other.md#fake) [here](#nowhere)',
          '[line](code.ts#L1) [out](../elsewhere.md)',
        ].join('\n'),
      );
      expect(brokenLinks(base, 'page.md')).toEqual([
        'page.md:3: missing.md: missing.md does not exist',
        'page.md:3: other.md#fake: other.md has no heading with the anchor #fake',
        'page.md:3: #nowhere: page.md has no heading with the anchor #nowhere',
        'page.md:4: code.ts#L1: #L1: anchors are checked only into Markdown files, not code.ts',
        expect.stringMatching(/^page\.md:4: \.\.\/elsewhere\.md: .* is outside the repository$/),
      ]);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('the docs', () => {
  const files = docFiles();

  test('the README, the contributor and security notes and the operator docs are there', () => {
    const expected = ['README.md', 'CONTRIBUTING.md', 'SECURITY.md', 'CHANGELOG.md', 'docs/cli.md', 'docs/operations/paused-upgrades.md'];
    expect(files).toEqual(expect.arrayContaining(expected));
  });

  test.each(files)('every relative link and anchor in %s leads somewhere', (file) => {
    expect(brokenLinks(root, file)).toEqual([]);
  });

  test(`README.md has at most ${README_MAX_LINES} lines`, () => {
    const lines = readFileSync(join(root, 'README.md'), 'utf8').replace(/\n$/, '').split('\n').length;
    expect(lines).toBeLessThanOrEqual(README_MAX_LINES);
  });

  test('docs/cli.md is what scripts/cli-docs.mjs makes from the built CLI help', () => {
    if (!existsSync(join(root, 'dist/cli/program.js'))) {
      throw new Error("dist/cli/program.js is missing: run npm run build first (jest's global setup builds dist/ for a full run)");
    }
    const check = spawnSync(process.execPath, ['scripts/cli-docs.mjs', '--check'], { cwd: root, encoding: 'utf8' });
    expect({ exit: check.status, stderr: check.stderr.trim() }).toEqual({ exit: 0, stderr: '' });
  });
});
