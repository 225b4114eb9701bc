import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backUp, openView, startApp, type App } from './harness.js';

describe('the window tells the truth about protection, settings and the connection', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp({ accounts: 2, blobMB: 1 });
    await backUp(app);
  });
  afterAll(async () => app?.stop());

  const hero = () => app.page.locator('section.hero');

  it('is a warning with its reason and fix while the schedule is off or paused, after a failed restore, and while the backup folder cannot be read', async () => {
    const { page } = app;
    await page.reload();
    await openView(page, 'Overview');
    await hero().getByRole('heading', { name: 'Unprotected: automatic backups are off' }).waitFor();
    expect(await hero().getAttribute('class')).toContain('tone-stale');

    const settings = await app.api('getSettings');
    await app.api('setSettings', { ...settings, schedule: { ...settings.schedule, enabled: true } });
    await hero().getByRole('heading', { name: 'Everything is backed up' }).waitFor();
    await page.getByRole('button', { name: 'Pause schedule' }).click();
    await hero().getByRole('heading', { name: 'Unprotected: the schedule is paused' }).waitFor();
    await app.screenshot('overview-paused');
    await hero().getByRole('button', { name: 'Resume schedule' }).click(); // the fix is right there
    await hero().getByRole('heading', { name: 'Everything is backed up' }).waitFor();
    // The pressed button is gone with the warning; focus went to the view's heading, not the page's body.
    await page.waitForFunction(() => document.activeElement?.id === 'view-title');

    // A restore that fails (its stop command does) leaves the PDS unprotected until the next backup.
    await app.api('setSettings', { ...(await app.api('getSettings')), pds: { ...settings.pds, stopCommand: 'exit 3' } });
    const [backup] = await app.api('listBackups');
    expect(await app.api('restore', { path: backup!.path, components: ['account'] })).toMatchObject({ ok: false });
    await hero().getByRole('heading', { name: 'Unprotected: the last restore failed' }).waitFor();
    expect(await hero().textContent()).toContain('exit code 3');
    await hero().getByRole('button', { name: 'Open Restore' }).click();
    await page.getByRole('heading', { level: 1, name: 'Restore' }).waitFor();
    expect(await page.getByRole('alert').filter({ hasText: 'The restore did not complete' }).textContent()).toContain('exit 3');
    await app.api('setSettings', { ...(await app.api('getSettings')), pds: settings.pds });
    await backUp(app);
    await openView(page, 'Overview');
    await hero().getByRole('heading', { name: 'Everything is backed up' }).waitFor();

    // The backup folder is replaced by a file (a disk mounted wrong): its old backups no longer count.
    await rename(app.backupDir, `${app.backupDir}-away`);
    await writeFile(app.backupDir, 'not a folder');
    await page.reload();
    await hero().getByRole('heading', { name: 'Unprotected: the backup folder cannot be read' }).waitFor();
    expect(await hero().textContent()).toContain(app.backupDir);
    expect(await page.getByText('None yet').isVisible()).toBe(true); // no old newest backup shown as current
    await app.screenshot('overview-backup-folder-unreadable');
    await rm(app.backupDir);
    await rename(`${app.backupDir}-away`, app.backupDir);
    expect(app.pageErrors).toEqual([]);
  });

  it('offers only the compressions backups can be written with, and marks an imported one they cannot by its field', async () => {
    const { page } = app;
    await openView(page, 'Settings');
    const compression = page.getByLabel('Compression');
    expect(await compression.locator('option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value))).toEqual(['gzip', 'zstd', 'none']);

    const envFile = path.join(app.dir, 'pds.env');
    await writeFile(envFile, 'BACKUP_COMPRESSION=xz\n');
    await page.getByLabel('PDS .env file').fill(envFile);
    await page.getByRole('button', { name: 'Import' }).click();
    const error = page.locator('#field-compression-error');
    await error.waitFor();
    expect(await error.textContent()).toContain('Backups cannot be written with xz');
    expect(await compression.inputValue()).toBe('xz');
    expect(await compression.getAttribute('aria-invalid')).toBe('true');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText(/nothing was saved/).waitFor();
    expect((await app.api('getSettings')).compression).toBe('gzip');
    await compression.scrollIntoViewIfNeeded();
    await app.screenshot('settings-unsupported-compression');
    await compression.selectOption('zstd');
    expect(await error.count()).toBe(0);
    await page.getByRole('button', { name: 'Undo changes' }).click();
    expect(app.pageErrors).toEqual([]);
  });

  it('checks folders when they are saved: a file is no backup folder, and the data directory must look like a PDS', async () => {
    const { page } = app;
    await openView(page, 'Settings');
    const aFile = path.join(app.dir, 'notes.txt');
    await writeFile(aFile, 'a file');
    const photos = path.join(app.dir, 'photos');
    await mkdir(photos, { recursive: true });
    await writeFile(path.join(photos, 'beach.jpg'), 'not a PDS');

    await page.getByLabel('Backup folder').fill(aFile);
    await page.getByLabel('PDS data directory').fill(photos);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('#field-backupDir-error').waitFor();
    expect(await page.locator('#field-backupDir-error').textContent()).toBe(`${aFile} is a file, not a folder. Choose a folder to keep backups in.`);
    expect(await page.locator('#field-dataDir-error').textContent()).toContain('does not look like a PDS data directory');
    await page.getByRole('region', { name: 'Folders' }).scrollIntoViewIfNeeded();
    await app.screenshot('settings-bad-folders');
    expect((await app.api('getSettings')).backupDir).toBe(app.backupDir);
    await page.getByRole('button', { name: 'Undo changes' }).click();

    // In the browser, a folder is chosen through the API, as a desktop dialog would.
    await page.getByRole('button', { name: 'Choose a folder for backupDir' }).click();
    const chooser = page.getByRole('dialog', { name: 'Choose the backup folder' });
    await chooser.getByText(app.backupDir, { exact: true }).waitFor();
    await chooser.getByRole('button', { name: `Up to ${app.dir}` }).click();
    await chooser.getByText(app.dir, { exact: true }).waitFor();
    await app.screenshot('settings-folder-chooser');
    await chooser.getByRole('button', { name: 'Choose this folder' }).click();
    await chooser.waitFor({ state: 'detached' });
    expect(await page.getByLabel('Backup folder').inputValue()).toBe(app.dir);
    await page.getByRole('button', { name: 'Undo changes' }).click();
    expect(app.pageErrors).toEqual([]);
  });

  it('a wrong token says so instead of "Connecting…"', async () => {
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.goto(`${new URL(app.url).origin}/?token=not-the-token`);
      await page.getByRole('alert').filter({ hasText: 'the address has no valid token' }).waitFor({ timeout: 10_000 });
      expect(await page.getByText('Connecting…').count()).toBe(0);
    } finally {
      await browser.close();
    }
  });

  it('shows within seconds that the connection to the bridge is lost', async () => {
    const { page } = app;
    await openView(page, 'Overview');
    await app.stopServer();
    // The event stream's error, not the 30 s status poll.
    await page.getByRole('alert').filter({ hasText: 'connection to Aurora Locus Backup was lost' }).waitFor({ timeout: 10_000 });
    await app.screenshot('connection-lost');
  });
});
