/** Debian's chromium driven by playwright-core, offline (never a downloaded browser). */
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';

// The functions passed to page.evaluate() run in the browser; the tests' tsconfig has no DOM
// lib (adding it clashes with Node's types), so the few globals they use are declared here.
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const window: any;
declare const document: any;

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export const ARTIFACTS = 'test-artifacts/console';

export async function launchChromium(): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** axe-core's serious and critical violations on the page as it is now (the page must allow the injected script: bypassCSP). */
export async function axeViolations(page: Page): Promise<Array<{ id: string; impact: string; help: string; nodes: string[] }>> {
  const path = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
  await page.addScriptTag({ content: await readFile(path, 'utf8') });
  const found = await page.evaluate(async () => {
    const axe = (window as { axe: { run(ctx: unknown, o: unknown): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Signs in on the page's token form and waits for the header that says who is signed in. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('Admin API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#who').filter({ hasText: /\((viewer|operator)\)/ }).waitFor();
}
