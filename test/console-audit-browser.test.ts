/**
 * The audit trail on the operator console, in chromium against a real drproxy with an audit
 * file: the failover appears in the audit table (event and admin call), the tenant view links
 * to that tenant's records, "Older records" pages back, a proxy without admin.audit_file shows
 * the API's no_audit_file words, and axe-core finds no serious or critical violation.
 */
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { ARTIFACTS, axeViolations, launchChromium, signIn } from './helpers/browser.js';
import { FAST_CHECKS, sitesHealthy, startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;
let bare: TestProxy;
let browser: Browser;
const contexts: BrowserContext[] = [];

const tenant = (name: string) => ({ tier: 'DR1', hosts: [`${name}.example.com`], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] });

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    admin: { ...adminTokens(), audit_file: join(await tempDir('drproxy-audit-page-'), 'audit.log') },
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s', drain_timeout: '1s' } },
    drills: { dwell: '1500ms', verify: { interval: '20ms', timeout: '5s' } },
    tenants: { acme: tenant('acme'), globex: tenant('globex') },
  });
  bare = await startProxy({ admin: adminTokens(), tenants: { acme: tenant('acme') } });
  await Promise.all([sitesHealthy(p, 'acme'), sitesHealthy(p, 'globex')]);
  browser = await launchChromium();
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await p?.stop();
  await bare?.stop();
  await stopAll(a1, b1);
});

async function openPage(base: string, bypassCSP = false): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...(bypassCSP && { bypassCSP: true }) });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`${base}/`);
  await signIn(page, VIEWER);
  return page;
}

describe('audit trail on the console', () => {
  it('lists the failover record, filters by tenant from the tenant view, pages back', async () => {
    // Enough reads of another tenant to fill more than one page of 50, then the failover.
    for (let i = 0; i < 55; i++) expect((await admin(p.adminUrl, 'GET', '/tenants/globex', { token: VIEWER })).status).toBe(200);
    const r = await admin(p.adminUrl, 'POST', '/tenants/acme/failover', { token: OPERATOR, body: { to: 'b1', reason: 'audit page check' } });
    expect(r.status).toBe(200);
    const page = await openPage(p.adminUrl, true);
    await page.goto(`${p.adminUrl}/#/audit`);
    // This flip's record (a slow health check on a busy machine could flip a tenant on its own).
    const flip = page.locator('table.audit-records tr[data-event="failover"]', { hasText: 'audit page check' });
    await flip.first().waitFor();
    expect(await flip.first().locator('td[data-label="Tenant"]').textContent()).toBe('acme');
    expect(await flip.first().locator('td[data-label="Epoch"]').textContent()).toBe('2');
    const call = page.locator('table.audit-records tr[data-event="admin"]', { hasText: 'audit page check' }).filter({ has: page.locator('td[data-field="what"]', { hasText: /^failover$/ }) });
    expect(await call.locator('td[data-label="Epoch"]').textContent()).toBe('1 → 2');
    expect(await call.locator('td[data-label="Actor"]').textContent()).toBe('ops');
    expect(await page.locator('.audit .table-summary').textContent()).toMatch(/consistent/);
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: `${ARTIFACTS}/audit.png`, fullPage: true });

    // Paging back: the next page holds only older records.
    const seqs = async () => (await page.locator('table.audit-records tbody th').allTextContents()).map(Number);
    const first = await seqs();
    expect(first).toHaveLength(50);
    await page.getByRole('button', { name: 'Older records' }).click();
    await expect.poll(async () => (await seqs())[0]).toBeLessThan(first.at(-1)!);
    expect(await page.getByRole('button', { name: 'Newest' }).count()).toBe(1);

    // The tenant view's link: acme's records only, the failover among them.
    await page.goto(`${p.adminUrl}/#/tenants/acme`);
    await page.getByRole('link', { name: 'Audit records of this tenant' }).click();
    await flip.first().waitFor();
    const tenants = await page.locator('table.audit-records td[data-label="Tenant"]').allTextContents();
    expect(tenants.length).toBeGreaterThan(1);
    expect(new Set(tenants)).toEqual(new Set(['acme']));
    expect(await page.getByLabel('Tenant').inputValue()).toBe('acme');

    // The section next to the drills, in the records view.
    await page.goto(`${p.adminUrl}/#/records`);
    await page.locator('table.audit-records tr[data-event="failover"]').first().waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await page.setViewportSize({ width: 390, height: 844 }); // a phone: the table becomes cards
    await page.goto(`${p.adminUrl}/#/audit`);
    await page.locator('table.audit-records tr[data-event="failover"]').first().waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await page.screenshot({ path: `${ARTIFACTS}/audit-phone.png`, fullPage: true });
  });

  it('the drill list does not keep saying running after the drill ended (read again while one runs)', async () => {
    const page = await openPage(p.adminUrl);
    await page.goto(`${p.adminUrl}/#/records`);
    await page.getByRole('heading', { name: 'Drill reports' }).waitFor();
    const d = await admin(p.adminUrl, 'POST', '/tenants/globex/drills', { token: OPERATOR, body: { reason: 'stale list check' } });
    expect(d.status, d.text).toBe(202);
    const status = page.locator('table.drills tr', { hasText: String(d.body.id) }).locator('td[data-label="Status"]');
    // The list is read when the view opens: go away and back to see the running drill.
    await page.goto(`${p.adminUrl}/#/`);
    await page.goto(`${p.adminUrl}/#/records`);
    await expect.poll(() => status.textContent()).toBe('running');
    await expect.poll(() => status.textContent(), { timeout: 15_000 }).not.toBe('running');
    expect(await status.textContent()).toBe((await admin(p.adminUrl, 'GET', `/drills/${String(d.body.id)}`, { token: VIEWER })).body.status);
  });

  it('without admin.audit_file: the API\'s words', async () => {
    const page = await openPage(bare.adminUrl);
    await page.goto(`${bare.adminUrl}/#/audit`);
    await expect.poll(() => page.locator('.audit-list [role="alert"]').textContent()).toMatch(/set admin\.audit_file/);
  });
});
