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
    // The window names the setting to change, not the command line's flags.
    expect(await hero.textContent()).toContain('the "PDS data directory" setting');
    expect(await hero.textContent()).not.toMatch(/--data|--out|BACKUP_DIR/);
    expect(await page.getByRole('navigation', { name: 'Sections' }).textContent()).toContain('The last backup failed');
    await app.screenshot('overview-failed');

    await openView(page, 'History & logs');
    const row = page.getByRole('row').filter({ hasText: 'Failed' });
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    expect(await row.textContent()).toContain('Backup by hand');
    expect(await row.textContent()).toContain(app.dataDir);
    expect(await page.getByText(/main\.log$/).count()).toBe(1);
    // The log is readable in the window; "Open log file" cannot work over the bridge, so it is not offered.
    const log = page.getByLabel('Last lines of the log');
    await log.locator('.log-error').filter({ hasText: 'backup failed' }).waitFor();
    expect(await page.getByRole('button', { name: 'Open log file' }).count()).toBe(0);
    await page.getByLabel('Show').selectOption('error');
    await log.locator('.log-info').first().waitFor({ state: 'detached' });
    expect(await log.locator('.log-line').count()).toBeGreaterThan(0);
    expect(await log.locator('.log-line:not(.log-error)').count()).toBe(0);
    await app.screenshot('history');
    expect(app.pageErrors).toEqual([]);
  });
});
