import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeViolations, overflowing } from './a11y.js';
import { backUp, openView, startApp, type App } from './harness.js';

/** The app's default window, a small laptop's, and the smallest the desktop app allows (electron/main.ts). */
const SIZES = [
  { name: 'default', width: 1100, height: 760 },
  { name: '800x600', width: 800, height: 600 },
  { name: 'minimum', width: 720, height: 520 },
];
const VIEWS = ['Overview', 'Backups', 'Restore', 'Settings', 'History & logs'];

describe('the window fits and reads well at every size, in light and dark', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp({ accounts: 3, blobMB: 2 });
    await backUp(app);
    await backUp(app);
  });
  afterAll(async () => app?.stop());

  it('every view: nothing cut off or scrolling sideways, no serious accessibility violation, a screenshot of each', async () => {
    const { page } = app;
    const problems: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const size of SIZES) {
        await page.setViewportSize({ width: size.width, height: size.height });
        for (const view of VIEWS) {
          await openView(page, view);
          // Each view's content has loaded (its first card or notice), so what is checked is what a user sees.
          await page.locator('main .card, main .notice').first().waitFor();
          if (view === 'Backups') await page.locator('tr[data-backup]').first().waitFor();
          if (view === 'History & logs') await page.locator('.log-lines').waitFor();
          const where = `${view} at ${size.name} (${scheme})`;
          problems.push(...(await overflowing(page)).map((p) => `${where}: ${p}`));
          problems.push(...(await axeViolations(page)).map((p) => `${where}: ${p}`));
          await app.screenshot(`view-${view.split(' ')[0]!.toLowerCase()}-${size.name}-${scheme}`, { fullPage: true });
        }
      }
    }
    expect(problems).toEqual([]);
    expect(app.pageErrors).toEqual([]);
    // 30 axe scans and full-page screenshots (Settings longer with its off-site section): the limit guards
    // against a hang, it measures nothing, and the default timed out beside other test runs.
  }, 360_000);

  it('navigation moves focus to the new view’s heading and names the view in the title', async () => {
    const { page } = app;
    await page.setViewportSize({ width: 1100, height: 760 });
    for (const view of VIEWS) {
      await openView(page, view);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('view-title');
      expect(await page.title()).toBe(`${view} — Aurora Locus Backup`);
    }
  });
});
