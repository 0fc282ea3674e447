import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { eventually } from '@scaleout/harness';
import { launchSampleCluster, type LaunchedCluster } from './support/sample-cluster.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = fileURLToPath(new URL('../test-output/', import.meta.url));
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).textContent())?.trim() ?? '';
}

describe('sample cluster in a real browser (cluster over Redis)', function () {
  this.timeout(180_000);
  let cluster: LaunchedCluster | undefined;
  let context: BrowserContext | undefined;
  let profileDir: string | undefined;

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing; run: npm run provision`);
    cluster = await launchSampleCluster(['--strategy', 'cluster', '--transport', 'redis']);
    profileDir = mkdtempSync(join(tmpdir(), 'scaleout-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 720 } });
    mkdirSync(OUTPUT, { recursive: true });
  });
  after(async () => {
    await context?.close();
    await cluster?.[Symbol.asyncDispose]();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  it('counts, logs in, saves a note, kills the serving node from the status page, keeps counting on another node, logs out', async () => {
    const cl = cluster!;
    const page = await context!.newPage();
    await page.goto(`${cl.url}/`);
    expect(await textOf(page, '#count')).to.equal('1');
    expect(await textOf(page, '#strategy')).to.equal('cluster');
    expect(await textOf(page, '#profile-instance')).to.match(/^profile-[ab]$/);
    await page.click('#again');
    await page.waitForURL(`${cl.url}/`);
    expect(await textOf(page, '#count')).to.equal('2');
    await page.fill('input[name=name]', 'ada');
    await Promise.all([page.waitForURL(`${cl.url}/`), page.click('form[action="/login"] button')]);
    expect(await textOf(page, '#user')).to.equal('ada');
    expect(await textOf(page, '#count')).to.equal('3');
    await page.fill('input[name=note]', 'written in a session');
    await Promise.all([page.waitForURL(`${cl.url}/`), page.click('form[action="/note"] button')]);
    expect(await textOf(page, '#note')).to.equal('written in a session');
    expect(await textOf(page, '#count')).to.equal('4');
    const serving = await textOf(page, '#node');
    expect(serving).to.match(/^node-[123]$/);

    await page.goto(cl.statusPageUrl);
    const kill = page.locator(`button[data-id="${serving}"][data-action="kill"]`);
    await Promise.all([page.waitForEvent('load'), kill.click()]);
    // The proxy's health check takes the node down within a few intervals.
    await eventually(async () => {
      await page.reload();
      return (await page.locator('tr.down td').first().textContent({ timeout: 1000 }).catch(() => null)) === serving;
    }, 20_000, `${serving} shown down on the status page`);
    await page.screenshot({ path: join(OUTPUT, 'sample-cluster-status.png'), fullPage: true });

    await page.goto(`${cl.url}/`);
    expect(await textOf(page, '#node')).to.not.equal(serving);
    expect(await textOf(page, '#count'), 'the counter continues on another node').to.equal('5');
    expect(await textOf(page, '#user')).to.equal('ada');
    expect(await textOf(page, '#note')).to.equal('written in a session');

    await Promise.all([page.waitForURL(`${cl.url}/`), page.click('form[action="/logout"] button')]);
    expect(await page.locator('#user').count(), 'logged out').to.equal(0);
    expect(await textOf(page, '#count'), 'log out destroys the session').to.equal('1');

    await page.goto(cl.dashboardUrl);
    await page.waitForSelector(`tr[data-node="${serving}"] .state.down`, { timeout: 10_000 });
    await page.locator('polyline').first().waitFor({ state: 'attached', timeout: 10_000 });
    expect(await textOf(page, `tr[data-node="${serving}"] .state`)).to.equal('killed');
    await page.screenshot({ path: join(OUTPUT, 'sample-cluster-dashboard.png'), fullPage: true });
  });
});
