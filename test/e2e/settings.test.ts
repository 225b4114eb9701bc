import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openView, startApp, type App } from './harness.js';

describe('the window: settings', () => {
  let app: App;
  beforeAll(async () => (app = await startApp({ accounts: 2, blobMB: 1 })));
  afterAll(async () => app?.stop());

  it('refuses invalid values with the reason next to the field, and keeps valid ones after a reload', async () => {
    const { page } = app;
    expect(page.url()).not.toContain('token='); // taken out of the address bar once read
    await openView(page, 'Settings');
    // Every control has a name a screen reader can say.
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, button')]
        .filter((el) => !((el as HTMLInputElement).labels?.length || el.getAttribute('aria-label') || el.textContent?.trim()))
        .map((el) => el.outerHTML),
    );
    expect(unnamed).toEqual([]);
    const interval = page.getByLabel('Every', { exact: true });
    const healthUrl = page.getByLabel('Health check URL');
    const retain = page.getByLabel('Delete backups older than');

    await page.getByLabel('Back up automatically').check();
    await page.getByLabel('Every few hours').check();
    await interval.fill('0');
    await healthUrl.fill('pds health page');
    await retain.fill('two weeks');
    await page.getByRole('button', { name: 'Save' }).click();
    // Text in a number field is caught before anything is sent.
    expect(await page.locator('#field-retainDays-error').textContent()).toBe('“two weeks” is not a whole number');
    await retain.fill('14');
    await page.getByRole('button', { name: 'Save' }).click();

    // The rest come back from setSettings as FieldErrors and land next to their fields.
    await page.locator('#field-schedule-intervalHours-error').waitFor();
    expect(await page.locator('#field-schedule-intervalHours-error').textContent()).toBe('At least 1 hour');
    expect(await page.locator('#field-pds-healthUrl-error').textContent()).toMatch(/URL/);
    expect(await interval.getAttribute('aria-invalid')).toBe('true');
    expect(await interval.getAttribute('aria-describedby')).toContain('field-schedule-intervalHours-error');
    expect(await page.getByText(/nothing was saved/).isVisible()).toBe(true);
    await page.locator('#field-schedule-intervalHours').scrollIntoViewIfNeeded();
    await app.screenshot('settings-invalid');
    const unchanged = await app.api('getSettings');
    expect(unchanged.schedule).toMatchObject({ enabled: false, intervalHours: 24 });
    expect(unchanged.retainDays).toBe(30);

    await interval.fill('6');
    await healthUrl.fill('http://localhost:2583/xrpc/_health');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Settings saved.').waitFor();

    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
    await page.getByLabel('Every', { exact: true }).waitFor();
    expect(await page.getByLabel('Back up automatically').isChecked()).toBe(true);
    expect(await page.getByLabel('Every', { exact: true }).inputValue()).toBe('6');
    expect(await page.getByLabel('Delete backups older than').inputValue()).toBe('14');
    expect(await page.getByLabel('Health check URL').inputValue()).toBe('http://localhost:2583/xrpc/_health');
    await app.screenshot('settings-saved');
    const saved = await app.api('getSettings');
    expect(saved.schedule).toMatchObject({ enabled: true, mode: 'interval', intervalHours: 6 });
    expect(app.pageErrors).toEqual([]);
  });

  it('imports the backup settings of a PDS .env into the form, to review before saving', async () => {
    const { page } = app;
    await openView(page, 'Settings');
    const envField = page.getByLabel('PDS .env file');

    await envField.fill(path.join(app.dir, 'missing.env'));
    await page.getByRole('button', { name: 'Import' }).click();
    await page.locator('#field-envFile-error').waitFor();
    expect(await page.locator('#field-envFile-error').textContent()).toContain('missing.env');

    const envFile = path.join(app.dir, 'pds.env');
    await writeFile(envFile, 'PDS_HOSTNAME=pds.example.org\nBACKUP_ENABLED=true\nBACKUP_INTERVAL_HOURS=12\nBACKUP_RETAIN_DAYS=60\nBACKUP_COMPRESSION=zstd\n');
    await envField.fill(envFile);
    await page.getByRole('button', { name: 'Import' }).click();
    await page.getByText(/Check the values below, then Save/).waitFor();
    expect(await page.getByLabel('Delete backups older than').inputValue()).toBe('60');
    expect(await page.getByLabel('Compression').inputValue()).toBe('zstd');
    expect(await page.getByLabel('Every', { exact: true }).inputValue()).toBe('12');
    expect(await page.getByText('You have unsaved changes.').count()).toBe(0); // the notice replaces it until the next edit
    expect((await app.api('getSettings')).retainDays).toBe(14); // imported into the form, not saved yet
    await page.getByRole('region', { name: 'Folders' }).scrollIntoViewIfNeeded();
    await app.screenshot('settings-imported');

    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Settings saved.').waitFor();
    expect(await app.api('getSettings')).toMatchObject({ retainDays: 60, compression: 'zstd', schedule: { intervalHours: 12 } });
    expect(app.pageErrors).toEqual([]);
  });
});
