/**
 * The LICENSE file is the license package.json names: its title and version match the SPDX id,
 * and the text is the whole of it (the terms and the appendix), not a summary.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';

const root = new URL('../', import.meta.url);

/** SPDX id → the title line and version line its full text starts with. */
const TITLES: Record<string, { title: RegExp; version: RegExp; ends: RegExp }> = {
  'Apache-2.0': { title: /^\s*Apache License\s*$/m, version: /^\s*Version 2\.0, January 2004\s*$/m, ends: /APPENDIX: How to apply the Apache License to your work\./ },
};

describe('LICENSE', () => {
  it("is the full text of the license package.json names", async () => {
    const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { license?: string };
    const text = await readFile(new URL('LICENSE', root), 'utf8');
    expect(pkg.license).toBeTypeOf('string');
    const want = TITLES[pkg.license!];
    expect(want, `no known title for SPDX id "${pkg.license}": add it here`).toBeDefined();
    // The title is the first non-empty line.
    expect(text.split('\n').find((l) => l.trim() !== '')).toMatch(want!.title);
    expect(text).toMatch(want!.version);
    expect(text).toMatch(/TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/);
    expect(text).toMatch(/END OF TERMS AND CONDITIONS/);
    expect(text).toMatch(want!.ends);
  });
});
