/**
 * The documentation's links hold: every relative Markdown link in README.md and docs/*.md
 * names a file that exists in the repository (never one above its root, as
 * `../shared/design.md` once did), and a link to a heading of a Markdown file (`#anchor`)
 * names a heading that is there, by GitHub's anchor rules. The runbook has a section for every
 * alert, headed with the alert's name, so that an alert's runbook link lands on it.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ALERTS } from './helpers/alerts.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];


/** The text without fenced code blocks, and with inline code spans kept as plain text. */
function prose(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/`+([^`\n]*)`+/g, (_, code: string) => code.replace(/[[\]()]/g, ' '));
}

/** Every link target: inline `[text](target "title")`, images, and reference definitions. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const defs = [...text.matchAll(/^\s{0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1]!);
  return [...inline, ...defs];
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown file's headings, duplicates numbered as GitHub does (`x`, `x-1`). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const withoutCode = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const m of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every problem of the links of `file` (a path relative to the repository root). */
function linkProblems(file: string): string[] {
  const problems: string[] = [];
  const text = readFileSync(join(ROOT, file), 'utf8');
  for (const target of linkTargets(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto: are not files
    const [rawPath = '', anchor] = target.split('#', 2) as [string, string | undefined];
    const path = decodeURIComponent(rawPath);
    const abs = path === '' ? join(ROOT, file) : resolve(dirname(join(ROOT, file)), path);
    const rel = relative(ROOT, abs);
    if (rel === '..' || rel.startsWith(`..${sep}`) || path.startsWith('/')) {
      problems.push(`${file}: ${target}: points outside the repository`);
      continue;
    }
    if (!existsSync(abs)) {
      problems.push(`${file}: ${target}: ${rel} does not exist`);
      continue;
    }
    if (anchor !== undefined && anchor !== '') {
      if (!abs.endsWith('.md') || statSync(abs).isDirectory()) {
        problems.push(`${file}: ${target}: an anchor into a file that is not Markdown`);
        continue;
      }
      if (!anchors(readFileSync(abs, 'utf8')).has(anchor)) problems.push(`${file}: ${target}: no heading "#${anchor}" in ${rel}`);
    }
  }
  return problems;
}

describe('documentation links', () => {
  it('the anchor rules are GitHub\'s', () => {
    expect(slug('DrproxyTenantFrozen')).toBe('drproxytenantfrozen');
    expect(slug('Clearing frozen (fence_failed)')).toBe('clearing-frozen-fence_failed');
    expect(slug('`metrics` (issue 17)')).toBe('metrics-issue-17');
    expect(slug('Design, performance, security')).toBe('design-performance-security');
    expect([...anchors('# A\n## A\n```\n# not a heading\n```\n## B c\n')]).toEqual(['a', 'a-1', 'b-c']);
    expect(linkTargets('[`x`](a.md#b) `[not](c.md)` ![i](d.png "t")\n\n[ref]: e.md\n```\n[no](f.md)\n```\n')).toEqual(['a.md#b', 'd.png', 'e.md']);
  });

  it.each(DOCS)('%s: every relative link resolves inside the repository, anchors included', (file) => {
    expect(linkProblems(file)).toEqual([]);
  });

  it('the README links to every page of docs/', () => {
    const readme = linkTargets(readFileSync(join(ROOT, 'README.md'), 'utf8')).map((t) => t.split('#')[0]);
    for (const doc of DOCS.filter((d) => d.startsWith('docs/'))) expect(readme, doc).toContain(doc);
  });

  it('the runbook has a section headed with each alert name', () => {
    const runbook = anchors(readFileSync(join(ROOT, 'docs/operations.md'), 'utf8'));
    const shipped = join(ROOT, 'config/prometheus/alerts.yml');
    // Once the rules file is there, its alerts are the list (and each must be in the runbook).
    const names = existsSync(shipped)
      ? ((parse(readFileSync(shipped, 'utf8')) as { groups?: Array<{ rules?: Array<{ alert?: string }> }> }).groups ?? [])
          .flatMap((g) => g.rules ?? [])
          .flatMap((r) => (r.alert ? [r.alert] : []))
      : ALERTS;
    for (const name of new Set([...ALERTS, ...names])) expect(runbook, name).toContain(name.toLowerCase());
  });
});
