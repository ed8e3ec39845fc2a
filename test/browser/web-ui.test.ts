/**
 * The Temporal Web UI, as an operator sees it, in a real headless Chromium (Debian's package,
 * driven by playwright-core): the running upgrade is listed when filtering by EdgeClusterId, and its
 * page shows the one-line current-details summary. The upgrade runs on mocked activities, held
 * mid-batch so the page has something live to show.
 */
import { chromium as playwright, type Browser } from 'playwright-core';
import { startUpgrade, getProgress } from '../../src/api.js';
import { reservePort } from '../../src/local/ports.js';
import { summarize } from '../../src/planning/summary.js';
import { eventually } from '../helpers/poll.js';
import { FakeFleet, makeNodes } from '../helpers/fake-activities.js';
import { startWorkerEnv, type WorkerEnv } from '../helpers/temporal.js';
import { chromium } from '../helpers/tools.js';
import { NO_GATE } from '../helpers/requests.js';

let w: WorkerEnv;
let browser: Browser;
let uiPort: number;
const fleet = new FakeFleet();
const shop = fleet.add({
  clusterId: 'shop-web',
  controlPlaneVersion: 'v1.33.7',
  nodes: makeNodes({ masters: 1, edge: 30, version: 'v1.33.7' }),
});

beforeAll(async () => {
  uiPort = await reservePort();
  w = await startWorkerEnv(fleet.activities(), { uiPort });
  browser = await playwright.launch({
    executablePath: chromium(),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  shop.hold = false;
  shop.release();
  await w?.stop();
});

test('the running upgrade is listed by EdgeClusterId and its page shows the current details', async () => {
  shop.hold = true;
  await startUpgrade(w.client, { clusterId: 'shop-web', gate: NO_GATE, targetVersion: 'v1.34.4' });
  // Wait until a worker batch is in flight, so the summary names it.
  const progress = await eventually(
    'a worker batch in flight',
    async () => {
      // Let the master through; hold the first worker batch.
      shop.release(shop.held.filter((n) => n.startsWith('cp-')));
      const p = await getProgress(w.client, 'shop-web');
      return p.phase === 'workers' && p.workers.batch && shop.held.length > 0 ? p : undefined;
    },
    60_000,
  );
  const summary = summarize(progress);
  expect(summary).toMatch(/^Workers \d+\/30 · batch \d+ \(\d+ nodes?\)$/);

  const page = await browser.newPage();
  const base = `http://127.0.0.1:${uiPort}/namespaces/default`;
  const query = encodeURIComponent('EdgeClusterId="shop-web"');
  await page.goto(`${base}/workflows?query=${query}`);
  const row = page.getByRole('link', { name: 'edge-upgrade-shop-web' }).first();
  await row.waitFor({ timeout: 30_000 });
  // A filter that matches nothing lists nothing: the list really is filtered by the attribute.
  const other = await browser.newPage();
  await other.goto(`${base}/workflows?query=${encodeURIComponent('EdgeClusterId="elsewhere"')}`);
  await other.getByText('No Results').first().waitFor({ timeout: 30_000 });
  expect(await other.getByRole('link', { name: 'edge-upgrade-shop-web' }).count()).toBe(0);

  await row.click();
  // The UI shows current details under "User Metadata", rendered (as markdown) in an iframe.
  await page.getByText('User Metadata').first().click();
  await page.getByText('Current Details').first().waitFor({ timeout: 30_000 });
  await eventually(
    'the summary in a rendered frame',
    async () => {
      for (const frame of page.frames()) {
        if (frame === page.mainFrame()) continue;
        const text = await frame
          .locator('body')
          .innerText()
          .catch(() => '');
        if (text.includes(summary)) return true;
      }
      return false;
    },
    30_000,
    500,
  );
  await page.screenshot({ path: `${process.env.TMPDIR ?? '/tmp'}/edge-upgrade-web-ui.png`, fullPage: true });
}, 120_000);
