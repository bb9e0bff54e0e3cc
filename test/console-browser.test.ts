/**
 * The operator console in a real browser (Debian chromium through playwright-core) against a
 * real drproxy with two local sites: a viewer sees the tenant on its primary, sees the
 * failover appear live when the primary is killed (no reload), gets no action buttons, and
 * the API refuses its forged POST; an operator fails back through the confirmation dialog;
 * axe-core finds no serious or critical violation. Screenshots go to test-artifacts/console/
 * (with DRPROXY_UPDATE_SCREENSHOTS=1 the fleet and the timeline are also copied to docs/img/ for
 * the README; a plain `npm test` never changes tracked files).
 */
import { copyFile, mkdir } from 'node:fs/promises';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { ARTIFACTS, axeViolations, launchChromium, signIn } from './helpers/browser.js';
import { waitFor } from './helpers/poll.js';
import { FAST_CHECKS, sitesHealthy, startProxy, type TestProxy } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';

// The functions passed to page.evaluate() run in the browser; the tests' tsconfig has no DOM
// lib (adding it clashes with Node's types), so the few globals they use are declared here.
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const window: any;
declare const document: any;
declare const location: any;

let primary: Upstream, backup: Upstream, other: Upstream;
let p: TestProxy;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [primary, backup, other] = await Promise.all([startUpstream('a1'), startUpstream('b1'), startUpstream('c1')]);
  const site = (name: string, region: string, zone: string, u: Upstream) => ({ name, region, zone, backends: [u.url] });
  p = await startProxy({
    admin: adminTokens(),
    // A killed primary refuses connections at once; the generous timeout keeps chromium's load
    // on the 2 cores from failing a slow check of a live site.
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s', drain_timeout: '1s' } },
    drills: { dwell: '200ms', verify: { interval: '20ms', timeout: '5s' } },
    tenants: {
      acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [site('a1', 'eu-west', 'eu-west-1a', primary), site('b1', 'eu-central', 'eu-central-1a', backup)] },
      globex: { tier: 'DR1', hosts: ['globex.example.com'], sites: [site('g1', 'us-east', 'us-east-1a', other), site('g2', 'us-west', 'us-west-2a', backup)] },
      initech: { tier: 'DR3', approval: 'two_person', hosts: ['initech.example.com'], sites: [site('i1', 'us-east', 'us-east-1b', other), site('i2', 'us-west', 'us-west-2b', backup)] },
    },
  });
  await Promise.all([sitesHealthy(p, 'acme'), sitesHealthy(p, 'globex'), sitesHealthy(p, 'initech')]);
  browser = await launchChromium();
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await p?.stop();
  await stopAll(primary, backup, other);
});

async function openPage(opts: { width?: number; height?: number; bypassCSP?: boolean } = {}): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 }, ...(opts.bypassCSP && { bypassCSP: true }) });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000); // a step that hangs names itself, well before the test's timeout
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  (page as Page & { errors?: string[] }).errors = errors;
  await page.goto(`${p.adminUrl}/`);
  return page;
}

const field = (page: Page, name: string) => page.locator(`[data-field="${name}"]`);

describe('operator console in chromium', () => {
  let viewer: Page;

  it('a viewer signs in and sees the tenant on its primary, without action buttons', async () => {
    viewer = await openPage();
    await signIn(viewer, VIEWER);
    await expect.poll(() => viewer.locator('tr[data-tenant="acme"] td[data-label="Traffic on"]').textContent()).toBe('a1');
    await viewer.goto(`${p.adminUrl}/#/tenants/acme`);
    await expect.poll(() => field(viewer, 'active').textContent()).toBe('a1');
    expect(await field(viewer, 'epoch').textContent()).toBe(String(p.proxy.tenant('acme')!.state.epoch));
    expect(await viewer.locator('button.action').count()).toBe(0);
    expect(await viewer.locator('.site').count()).toBe(2);
  });

  it('the API refuses a viewer forging an action (403), whatever the page shows', async () => {
    const status = await viewer.evaluate(async (token) => {
      const r = await fetch('/tenants/acme/failover', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'forged by a viewer' }) });
      return r.status;
    }, VIEWER);
    expect(status).toBe(403);
    expect(p.proxy.tenant('acme')!.state.active).toBe('a1');
  });

  it('killing the primary shows the new site and epoch within a second, without a reload', async () => {
    await viewer.evaluate(() => ((window as { marker: number }).marker = 42));
    const t = p.proxy.tenant('acme')!;
    await primary.kill();
    const flipped = await waitFor(() => (t.state.active === 'b1' && t.state.phase === 'active' ? Date.now() : 0), { interval: 5, what: 'acme failed over to b1' });
    await viewer.waitForFunction(
      (epoch) => document.querySelector('[data-field="active"]')?.textContent === 'b1' && document.querySelector('[data-field="epoch"]')?.textContent === String(epoch),
      t.state.epoch,
      { polling: 'raf', timeout: 5000 },
    );
    const shown = Date.now() - flipped;
    expect(shown).toBeLessThan(1000);
    expect(await viewer.evaluate(() => (window as { marker?: number }).marker)).toBe(42); // the same document: no reload
    await expect.poll(() => viewer.locator('figure.flip').count()).toBeGreaterThan(0);
    // Back to the fleet (a hash change, not a reload): acme is listed first, off its preferred site.
    await viewer.evaluate(() => (location.hash = '#/'));
    await expect.poll(() => viewer.locator('tr[data-tenant="acme"] td[data-label="Traffic on"]').textContent()).toBe('b1 (preferred: a1)');
    expect(await viewer.locator('table.fleet tbody tr').first().getAttribute('data-tenant')).toBe('acme');
    expect(await viewer.locator('.count.off .n').textContent()).toBe('1');
    expect(await viewer.evaluate(() => (window as { marker?: number }).marker)).toBe(42);
    await viewer.screenshot({ path: `${ARTIFACTS}/fleet.png`, fullPage: true });
    console.log(`console: flip on the page ${shown} ms after the proxy routed it`);
  });

  it('an operator fails back through the confirmation dialog (reason and name typed exactly)', async () => {
    await primary.restart();
    const t = p.proxy.tenant('acme')!;
    await waitFor(() => t.site('a1')!.health().available, { what: 'a1 healthy again' });
    const op = await openPage();
    await signIn(op, OPERATOR);
    await op.goto(`${p.adminUrl}/#/tenants/acme`);
    await op.locator('button[data-action="failback"]').click();
    const dialog = op.getByRole('dialog');
    await dialog.waitFor();
    const confirm = dialog.getByRole('button', { name: 'Fail back' });
    await dialog.getByLabel(/Reason/).fill('a1 repaired (browser test)');
    await dialog.getByLabel('Tenant name').fill('acm');
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel('Tenant name').fill('acme');
    expect(await confirm.isDisabled()).toBe(false);
    await op.screenshot({ path: `${ARTIFACTS}/confirm-dialog.png` });
    await confirm.click();
    await expect.poll(() => field(op, 'active').textContent(), { timeout: 5000 }).toBe('a1');
    expect(t.state.active).toBe('a1');
    expect(t.flips.at(-1)).toMatchObject({ trigger: 'failback', actor: 'ops', reason: 'a1 repaired (browser test)' });
    await expect.poll(() => op.locator('#announce').textContent()).toContain('b1 → a1');
    // The viewer's page followed without a reload.
    await expect.poll(() => viewer.locator('tr[data-tenant="acme"] td[data-label="Traffic on"]').textContent()).toBe('a1');
    await expect.poll(() => op.locator('figure.flip').count()).toBe(2);
    // A clip of the page, not an element screenshot: a live refresh may replace the element meanwhile.
    // boundingBox() is null while a live re-render has the element detached: ask again.
    let box: Awaited<ReturnType<Locator['boundingBox']>> = null;
    await expect.poll(async () => (box = await op.locator('.flips').boundingBox()) !== null).toBe(true);
    await op.screenshot({ path: `${ARTIFACTS}/timeline.png`, clip: box!, fullPage: true, style: '#announce { visibility: hidden; }' });
    await op.screenshot({ path: `${ARTIFACTS}/tenant.png`, fullPage: true });
    expect((op as Page & { errors?: string[] }).errors).toEqual([]);
    await op.context().close();
  });

  it('an API error is shown in the API\'s own words', async () => {
    const op = await openPage();
    await signIn(op, OPERATOR);
    await op.goto(`${p.adminUrl}/#/tenants/acme`);
    // Failing back while already on the preferred site is refused by the API.
    await op.locator('button[data-action="failback"]').click();
    const dialog = op.getByRole('dialog');
    await dialog.getByLabel(/Reason/).fill('no-op');
    await dialog.getByLabel('Tenant name').fill('acme');
    await dialog.getByRole('button', { name: 'Fail back' }).click();
    const alert = dialog.getByRole('alert');
    await expect.poll(() => alert.textContent()).toMatch(/HTTP 4\d\d/);
    const direct = await op.evaluate(async (token) => {
      const r = await fetch('/tenants/acme/failback', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'no-op' }) });
      return ((await r.json()) as { detail: string }).detail;
    }, OPERATOR);
    expect(await alert.textContent()).toContain(direct);
    await op.context().close();
  });

  it('a live refresh of the tenant view keeps the keyboard focus where it was', async () => {
    const op = await openPage();
    await signIn(op, OPERATOR);
    await op.goto(`${p.adminUrl}/#/tenants/acme`);
    const drain = op.locator('button[data-action="drain"]').first();
    await drain.focus();
    const key = await drain.getAttribute('data-key');
    expect(p.proxy.tenant('acme')!.state.fenced).toEqual(['b1']);
    // Another operator unfences b1 through the API: the page re-reads and re-renders the tenant.
    expect((await admin(p.adminUrl, 'POST', '/tenants/acme/sites/b1/unfence', { token: OPERATOR, body: { reason: 'b1 checked' } })).status).toBe(200);
    await expect.poll(() => field(op, 'fenced').textContent()).toBe('none');
    expect(await op.evaluate(() => document.activeElement?.getAttribute('data-key'))).toBe(key);
    await op.context().close();
  });

  it('an action on a two-person tenant is shown as pending approval, with its id', async () => {
    const op = await openPage();
    await signIn(op, OPERATOR);
    await op.goto(`${p.adminUrl}/#/tenants/initech`);
    await op.getByRole('button', { name: 'Fence… i2' }).click();
    const dialog = op.getByRole('dialog');
    await dialog.getByLabel(/Reason/).fill('CHG-7 isolate i2');
    await dialog.getByLabel('Tenant name').fill('initech');
    await dialog.getByRole('button', { name: 'Fence' }).click();
    await expect.poll(() => op.locator('#announce').textContent()).toMatch(/pending two-person approval \S+/);
    const pending = (await admin(p.adminUrl, 'GET', '/approvals', { token: VIEWER })).body.approvals as Array<{ id: string; status?: string }>;
    expect(pending).toHaveLength(1);
    expect(await op.locator('#announce').textContent()).toContain(pending[0]!.id);
    expect(p.proxy.tenant('initech')!.state.fenced).toEqual([]);
    await op.context().close();
  });

  it('drill reports are listed and readable, with the pending approval', async () => {
    const d = await admin(p.adminUrl, 'POST', '/tenants/globex/drills', { token: OPERATOR, body: { reason: 'quarterly drill' } });
    expect(d.status, d.text).toBe(202);
    const id = d.body.id as string;
    await waitFor(async () => (await admin(p.adminUrl, 'GET', `/drills/${id}`, { token: VIEWER })).body.status !== 'running', { what: 'the drill to end', timeout: 15_000 });
    const page = await openPage();
    await signIn(page, VIEWER);
    await page.getByRole('link', { name: 'Drills and approvals' }).click();
    await page.getByRole('link', { name: id }).click();
    await expect.poll(() => page.locator('pre.report').textContent()).toContain('globex');
    await page.goBack();
    await expect.poll(() => page.locator('ul.approvals').textContent()).toContain('fence of initech (i2), asked by ops');
    await page.screenshot({ path: `${ARTIFACTS}/records.png`, fullPage: true });
    await page.context().close();
  });

  it('axe-core finds no serious or critical violation (fleet, tenant, dialog; laptop and phone widths)', async () => {
    for (const [width, height] of [[1280, 900], [390, 844]] as const) {
      const page = await openPage({ width, height, bypassCSP: true });
      expect(await axeViolations(page)).toEqual([]); // the token form
      await signIn(page, OPERATOR);
      await page.locator('tr[data-tenant="acme"]').waitFor();
      expect(await axeViolations(page)).toEqual([]);
      if (width < 500) await page.screenshot({ path: `${ARTIFACTS}/fleet-phone.png`, fullPage: true });
      await page.goto(`${p.adminUrl}/#/tenants/acme`);
      await page.locator('figure.flip').first().waitFor();
      expect(await axeViolations(page)).toEqual([]);
      if (width < 500) await page.screenshot({ path: `${ARTIFACTS}/tenant-phone.png`, fullPage: true });
      await page.locator('button[data-action="failover"]').click();
      await page.getByRole('dialog').waitFor();
      expect(await axeViolations(page)).toEqual([]);
      await page.keyboard.press('Escape');
      await page.goto(`${p.adminUrl}/#/records`);
      await page.getByRole('heading', { name: 'Drill reports' }).waitFor();
      expect(await axeViolations(page)).toEqual([]);
      await page.context().close();
    }
  });

  it('is keyboard-usable: the token form, then the tenant link, reached and followed with the keyboard', async () => {
    const page = await openPage();
    // The form takes focus; Tab goes on to its button, Shift+Tab comes back.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('token');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Sign in');
    await page.keyboard.press('Shift+Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('token');
    await page.keyboard.type(VIEWER);
    await page.keyboard.press('Enter');
    await page.locator('tr[data-tenant="acme"]').waitFor();
    await page.locator('tr[data-tenant="acme"] a').focus();
    // A live event re-renders the rows; the focus stays on the acme link.
    expect((await admin(p.adminUrl, 'POST', '/tenants/globex/sites/g2/fence', { token: OPERATOR, body: { reason: 'focus check' } })).status).toBe(200);
    await expect.poll(() => page.locator('tr[data-tenant="globex"] td[data-label="Fenced"]').textContent()).toBe('g2');
    expect(await page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-tenant'))).toBe('acme');
    expect((await admin(p.adminUrl, 'POST', '/tenants/globex/sites/g2/unfence', { token: OPERATOR, body: { reason: 'focus check done' } })).status).toBe(200);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => location.hash)).toBe('#/tenants/acme');
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
  });

  it.runIf(process.env.DRPROXY_UPDATE_SCREENSHOTS === '1')('copies the fleet and timeline screenshots to docs/img/', async () => {
    await mkdir('docs/img', { recursive: true });
    await copyFile(`${ARTIFACTS}/fleet.png`, 'docs/img/console-fleet.png');
    await copyFile(`${ARTIFACTS}/timeline.png`, 'docs/img/console-timeline.png');
  });
});
