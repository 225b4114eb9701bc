import { rename } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openView, startApp, type App } from './harness.js';

describe('the window: a failed backup and the history', () => {
  let app: App;
  beforeAll(async () => (app = await startApp({ accounts: 2, blobMB: 1 })));
  afterAll(async () => app?.stop());

  it('says plainly that the last backup failed and why, and lists the run with its error', async () => {
    const { page } = app;
    // The data directory disappears, as when the disk holding it is not mounted.
    await rename(app.dataDir, `${app.dataDir}-unmounted`);

    await page.getByRole('button', { name: 'Back up now' }).click();
    const title = page.getByRole('heading', { name: 'The last backup failed' });
    await title.waitFor({ timeout: 60_000 });
    const hero = page.locator('section.hero');
    expect(await hero.textContent()).toContain(app.dataDir);
    expect(await page.getByRole('navigation', { name: 'Sections' }).textContent()).toContain('The last backup failed');
    await app.screenshot('overview-failed');

    await openView(page, 'History & logs');
    const row = page.getByRole('row').filter({ hasText: 'Failed' });
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    expect(await row.textContent()).toContain('Backup by hand');
    expect(await row.textContent()).toContain(app.dataDir);
    expect(await page.getByText(/main\.log$/).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Open log file' }).isEnabled()).toBe(true);
    await app.screenshot('history');
    expect(app.pageErrors).toEqual([]);
  });
});
