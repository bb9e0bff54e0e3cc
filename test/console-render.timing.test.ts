/**
 * The fleet view at 5,000 tenants in chromium: the page (the built files of dist/console/web/)
 * is served to the browser through playwright's request interception, with a synthetic
 * /whoami, /fleet and /events, so that the browser's work alone is measured. The page renders
 * one page of rows (PAGE_SIZE) whatever the fleet's size; this test measures the first render,
 * a search keystroke, a page change and a burst of 500 changed tenants, prints the figures
 * (docs/console.md quotes them) and fails when one exceeds a generous bound or the page
 * renders more rows than a page.
 */
import { readFile } from 'node:fs/promises';
import type { Browser, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetSnapshot, TenantSummary } from '../src/console/web/model.js';
import { PAGE_SIZE } from '../src/console/web/fleet-order.js';
import { ARTIFACTS, launchChromium, signIn } from './helpers/browser.js';

// Browser-side globals for page.evaluate() (the tests' tsconfig has no DOM lib).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare const performance: { now(): number };

const N = 5000;
const ORIGIN = 'http://console.test';
const WEB = 'dist/console/web/';
const TYPES: Record<string, string> = { html: 'text/html', js: 'text/javascript', css: 'text/css' };

function tenant(i: number): TenantSummary {
  const frozen = i % 211 === 0;
  const off = !frozen && i % 17 === 0;
  return {
    name: `tenant-${String(i).padStart(4, '0')}`,
    tier: ['BC', 'DR1', 'DR3', 'Basic'][i % 4]!,
    phase: frozen ? 'frozen' : 'active',
    epoch: 1 + (i % 5),
    active: off ? 'b1' : 'a1',
    preferred: 'a1',
    off_preferred: off,
    ...(frozen && { frozen_cause: 'fence hook failed on a1 (required)' }),
    regions: [`region-${i % 6}`, `region-${(i + 1) % 6}`],
    fenced: off ? ['a1'] : [],
    sites_available: off ? 1 : 2,
    sites: 2,
    updated_at: new Date(Date.now() - i * 1000).toISOString(),
  };
}

function snapshot(tenants: TenantSummary[]): FleetSnapshot {
  const counts = { active: 0, failing_over: 0, frozen: 0, off_preferred: 0, total: 0 };
  for (const t of tenants) {
    counts[t.phase]++;
    if (t.off_preferred) counts.off_preferred++;
    counts.total++;
  }
  return { at: new Date().toISOString(), version: 'test', counts, automatic: { enabled: true }, tenants };
}

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('fleet view at 5,000 tenants', () => {
  it('renders one page at a time, quickly, and applies a burst of changes', async () => {
    expect(PAGE_SIZE).toBeLessThanOrEqual(200); // a page, not the fleet
    const tenants = Array.from({ length: N }, (_, i) => tenant(i));
    const fleet = JSON.stringify(snapshot(tenants));
    // 500 tenants frozen at once, as one coalesced `tenants` event after the snapshot.
    const burst = tenants.slice(1000, 1500).map((t) => ({ ...t, phase: 'frozen' as const, frozen_cause: 'no site available', epoch: t.epoch + 1 }));
    const after = snapshot([...tenants.slice(0, 1000), ...burst, ...tenants.slice(1500)]);
    const stream = `event: snapshot\ndata: ${fleet}\n\nevent: tenants\ndata: ${JSON.stringify({ at: after.at, counts: after.counts, tenants: burst, removed: [] })}\n\n`;
    let streams = 0;
    // The first stream is answered only once the first render was measured (release()).
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await ctx.route(`${ORIGIN}/**`, async (route: Route) => {
      const path = new URL(route.request().url()).pathname;
      if (path === '/whoami') return route.fulfill({ json: { name: 'grafana', role: 'viewer' } });
      if (path === '/fleet') return route.fulfill({ body: fleet, contentType: 'application/json' });
      // The first stream delivers the snapshot and the burst, then ends; a reconnect stays open (never answered).
      if (path === '/events') return streams++ === 0 ? released.then(() => route.fulfill({ body: stream, contentType: 'text/event-stream' })) : undefined;
      const name = path === '/' ? 'index.html' : path.replace(/^\/console\//, '');
      return route.fulfill({ body: await readFile(`${WEB}${name}`), contentType: TYPES[name.split('.').pop()!] ?? 'application/octet-stream' });
    });
    const page = await ctx.newPage();
    await page.goto(`${ORIGIN}/`);
    const t0 = Date.now();
    await signIn(page, 'any');
    await page.locator('#fleet-summary').filter({ hasText: `of ${N} tenants` }).waitFor();
    const firstVisible = Date.now() - t0;
    const firstRender = Number(await page.evaluate(() => document.body.dataset.fleetRenderMs));
    expect(await page.locator('table.fleet tbody tr').count()).toBe(PAGE_SIZE);

    // The burst: 500 more frozen tenants, listed first, without a reload.
    release();
    await page.locator('.count.frozen .n').filter({ hasText: String(after.counts.frozen) }).waitFor();
    const burstRender = Number(await page.evaluate(() => document.body.dataset.fleetRenderMs));
    expect(await page.locator('table.fleet tbody tr').first().getAttribute('data-tenant')).toBe('tenant-0000');
    expect(await page.locator('table.fleet tbody tr.rank-0').count()).toBe(PAGE_SIZE);

    const keystroke = await page.evaluate(() => {
      const input = document.getElementById('f-search');
      const start = performance.now();
      input.value = 'tenant-04';
      input.dispatchEvent(new Event('input'));
      document.body.getBoundingClientRect(); // include style and layout
      return performance.now() - start;
    });
    expect(await page.locator('#fleet-summary').textContent()).toContain('of 100 tenants');
    const paging = await page.evaluate(() => {
      const input = document.getElementById('f-search');
      input.value = '';
      input.dispatchEvent(new Event('input'));
      const next = [...document.querySelectorAll('.pager button')].find((b: any) => b.textContent === 'Next');
      const start = performance.now();
      next.click();
      document.body.getBoundingClientRect();
      return performance.now() - start;
    });
    expect(await page.locator('#fleet-summary').textContent()).toContain(`Showing 101–200 of ${N}`);
    expect(await page.locator('table.fleet tbody tr').count()).toBe(PAGE_SIZE);
    await page.screenshot({ path: `${ARTIFACTS}/fleet-5000.png` });
    console.log(`console at ${N} tenants: first render ${firstRender.toFixed(1)} ms (sign-in to rows visible ${firstVisible} ms), 500-tenant burst ${burstRender.toFixed(1)} ms, search keystroke ${keystroke.toFixed(1)} ms, next page ${paging.toFixed(1)} ms`);
    for (const ms of [firstRender, burstRender, keystroke, paging]) expect(ms).toBeLessThan(500);
    await ctx.close();
  });
});
