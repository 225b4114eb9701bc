import { existsSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backUp, openView, startApp, type App } from './harness.js';

/** 0 (black) … 1 (white) for a CSS rgb() colour. */
const luminance = (rgb: string) => {
  const [r, g, b] = rgb.match(/\d+/g)!.map(Number) as [number, number, number];
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
};

describe('the window: backing up and verifying', () => {
  let app: App;
  beforeAll(async () => (app = await startApp({ blobMB: 10 })));
  afterAll(async () => app?.stop());

  it('Back up now shows progress, then the new backup is in the list and on disk', async () => {
    const { page } = app;
    await page.getByRole('heading', { name: 'No backup yet' }).waitFor();
    app.backupPause.hold();
    await page.getByRole('button', { name: 'Back up now' }).click();

    // The backup waits, its databases archived, until the window has shown its progress: no race with a fast run.
    const { release } = await app.backupPause.reached();
    const progress = page.getByTestId('progress');
    await progress.getByText(/\d+ of \d+ files/).waitFor({ timeout: 0 });
    await app.screenshot('backup-running');
    expect(await page.getByRole('progressbar').getAttribute('aria-valuenow')).toMatch(/^\d+$/);
    expect(await page.getByRole('button', { name: 'Cancel' }).isVisible()).toBe(true);
    await release();

    // Backed up, but with the schedule off (the guide's default) nothing new will be: a warning, with its fix.
    await page.getByRole('heading', { name: 'Unprotected: automatic backups are off' }).waitFor({ timeout: 90_000 });
    expect(await page.locator('section.hero').getByRole('button', { name: 'Turn on the schedule' }).isVisible()).toBe(true);
    expect(await progress.isVisible()).toBe(false);
    await app.screenshot('overview-backed-up');

    await openView(page, 'Backups');
    const rows = page.locator('tr[data-backup]');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(1);
    const name = await rows.first().getAttribute('data-backup');
    expect(name).toMatch(/^backup_\d{8}_\d{6}$/);
    expect(await rows.first().textContent()).toContain('Complete');
    expect(existsSync(path.join(app.backupDir, name!, 'manifest.json'))).toBe(true);
    expect(await page.getByRole('img', { name: /Backup size over time/ }).count()).toBe(0); // one point is not a trend
    await app.screenshot('backups-list');

    // The window follows the OS: dark when the system is dark.
    const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    const light = await background();
    await page.emulateMedia({ colorScheme: 'dark' });
    await openView(page, 'Overview');
    expect(await background()).not.toBe(light);
    expect(luminance(await background())).toBeLessThan(0.1);
    await app.screenshot('overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    expect(app.pageErrors).toEqual([]);
  });

  it('verifies a backup, and flags it once a byte of a stored file is flipped', async () => {
    const { page } = app;
    await backUp(app);
    // The app's later backups are incremental (only what changed, no blob archive when no blob is new):
    // this checks the newest full backup, whose archives they are restored from.
    const fullName = readdirSync(app.backupDir)
      .filter((name) => name.startsWith('backup_'))
      .sort()
      .reverse()
      .find((name) => readdirSync(path.join(app.backupDir, name)).some((file) => file.startsWith('blobs.tar')));
    expect(fullName).toBeDefined();
    const backup = { name: fullName!, path: path.join(app.backupDir, fullName!) };
    await openView(page, 'Backups');
    const row = page.locator(`tr[data-backup="${backup.name}"]`);
    await row.waitFor();
    const result = page.getByTestId(`verify-${backup.name}`);
    expect(await page.getByRole('img', { name: /^Backup size over time: 2 backups, from/ }).count()).toBe(1);

    await row.getByRole('button', { name: /^Deep verify/ }).click();
    await result.getByText('Deep verification passed').waitFor({ timeout: 60_000 });
    expect(await result.locator('li.bad').count()).toBe(0);
    expect(await result.locator('li.ok').count()).toBeGreaterThanOrEqual(5);

    const stored = readdirSync(backup.path).find((file) => file.startsWith('blobs.tar'));
    expect(stored).toBeDefined();
    const file = await open(path.join(backup.path, stored!), 'r+');
    const { size } = await file.stat();
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, Math.floor(size / 2));
    byte[0]! ^= 0xff;
    await file.write(byte, 0, 1, Math.floor(size / 2));
    await file.close();

    await row.getByRole('button', { name: /^Verify/ }).click();
    await result.getByText(/Quick verification found problems/).waitFor({ timeout: 60_000 });
    const bad = result.locator('li.bad');
    expect(await bad.count()).toBe(1);
    expect(await bad.textContent()).toContain(stored);
    expect(await row.textContent()).toContain('Damaged');
    await result.scrollIntoViewIfNeeded();
    await app.screenshot('backup-tampered');
    expect(app.pageErrors).toEqual([]);
  });

  it('Cancel stops a running backup and leaves no half-written backup behind', async () => {
    const { page } = app;
    await openView(page, 'Overview');
    const before = readdirSync(app.backupDir).filter((name) => name.startsWith('backup_'));
    app.backupPause.hold();
    await page.getByRole('button', { name: 'Back up now' }).click();
    const { release } = await app.backupPause.reached();
    await page.getByTestId('progress').waitFor({ state: 'visible', timeout: 0 });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await release(); // the cancel reaches the backup as it goes on

    await page.getByTestId('progress').waitFor({ state: 'hidden', timeout: 30_000 });
    await page.getByText('Cancelled', { exact: true }).waitFor({ timeout: 30_000 });
    await app.screenshot('backup-cancelled');
    const after = readdirSync(app.backupDir);
    expect(after.filter((name) => name.startsWith('backup_'))).toEqual(before);
    expect(after.filter((name) => name.includes('incomplete'))).toEqual([]);
    expect(app.pageErrors).toEqual([]);
  });
});
