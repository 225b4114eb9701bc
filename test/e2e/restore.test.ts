import { readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { backUp, openView, startApp, type App } from './harness.js';
import { fingerprint } from '../helpers/digest.js';

/** Drops a folder onto the window the way a Linux file manager does: a real drop event carrying a file:// URL. */
async function dropFolder(page: Page, folder: string): Promise<void> {
  const dataTransfer = await page.evaluateHandle((uri) => {
    const transfer = new DataTransfer();
    transfer.setData('text/uri-list', `${uri}\r\n`);
    return transfer;
  }, pathToFileURL(folder).href);
  await page.dispatchEvent('[data-testid="dropzone"]', 'dragenter', { dataTransfer });
  await page.dispatchEvent('[data-testid="dropzone"]', 'drop', { dataTransfer });
}

const accountCount = (dataDir: string) => {
  const db = new Database(path.join(dataDir, 'account.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM account').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe('the window: restoring a dropped backup folder', () => {
  let app: App;
  beforeAll(async () => (app = await startApp()));
  afterAll(async () => app?.stop());

  it('restores only the component chosen, after saying what will be replaced', async () => {
    const { page } = app;
    const backup = await backUp(app);
    expect(accountCount(app.dataDir)).toBe(5);

    // After the backup: two accounts are lost by accident, and a new upload arrives.
    const db = new Database(path.join(app.dataDir, 'account.sqlite'));
    db.prepare('DELETE FROM account WHERE did IN (SELECT did FROM account ORDER BY did LIMIT 2)').run();
    db.close();
    const upload = path.join(app.dataDir, 'blobs', 'did:plc:newcomer', 'bafkreinewupload');
    await mkdir(path.dirname(upload), { recursive: true });
    await writeFile(upload, 'uploaded after the backup');
    expect(accountCount(app.dataDir)).toBe(3);

    await openView(page, 'Restore');
    await dropFolder(page, backup.path);
    await page.getByRole('heading', { name: /^Backup from / }).waitFor({ timeout: 30_000 });
    const parts = page.getByRole('group', { name: 'What to restore' });
    for (const label of ['Event sequence', 'DID cache', 'Media', 'Repositories']) await parts.getByRole('checkbox', { name: new RegExp(label) }).uncheck();
    expect(await parts.getByRole('checkbox', { name: /Accounts/ }).isChecked()).toBe(true);
    await app.screenshot('restore-inspected');

    await page.getByRole('button', { name: /^Restore 1 of 5 parts/ }).click();
    const confirm = page.getByRole('alertdialog');
    expect(await confirm.textContent()).toMatch(/pre-restore backup/);
    expect(await confirm.textContent()).toContain('account.sqlite');
    expect(await confirm.textContent()).not.toContain('blobs/');
    await app.screenshot('restore-confirm');
    await confirm.getByRole('button', { name: 'Replace and restore' }).click();

    await page.getByText('Restore complete').waitFor({ timeout: 90_000 });
    await app.screenshot('restore-done');
    expect(accountCount(app.dataDir)).toBe(5);
    expect(readFileSync(upload, 'utf8')).toBe('uploaded after the backup'); // media were not part of the restore
    expect(readdirSync(app.backupDir).some((name) => name.startsWith('pre-restore_'))).toBe(true);
    expect(app.pageErrors).toEqual([]);
  });

  it('explains a dropped folder that is not a backup, and changes nothing', async () => {
    const { page } = app;
    const notBackup = path.join(app.dir, 'holiday photos');
    await mkdir(notBackup, { recursive: true });
    await writeFile(path.join(notBackup, 'beach.jpg'), 'not a backup');
    const dataBefore = fingerprint(app.dataDir);
    const backupsBefore = readdirSync(app.backupDir).sort();

    await openView(page, 'Restore');
    const another = page.getByRole('button', { name: 'Restore something else' });
    if (await another.isVisible()) await another.click();
    await dropFolder(page, notBackup);
    const explanation = page.getByRole('alert').filter({ hasText: 'This folder cannot be restored' });
    await explanation.waitFor({ timeout: 30_000 });
    expect(await explanation.textContent()).toContain('Nothing was changed');
    expect(await explanation.textContent()).toContain('holiday photos');
    expect(await page.getByRole('group', { name: 'What to restore' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /^Restore / }).count()).toBe(0);
    await app.screenshot('restore-not-a-backup');

    expect(fingerprint(app.dataDir)).toEqual(dataBefore);
    expect(readdirSync(app.backupDir).sort()).toEqual(backupsBefore);
    expect(app.pageErrors).toEqual([]);
  });

  it('refuses a damaged backup with the reason, leaving the data as it was', async () => {
    const { page } = app;
    const [original] = (await app.api('listBackups')).filter((b) => b.name.startsWith('backup_'));
    expect(original).toBeDefined();
    const damaged = path.join(app.dir, 'usb-stick', original!.name);
    await cp(original!.path, damaged, { recursive: true });
    const archive = readdirSync(damaged).find((file) => file.startsWith('actors.tar'))!;
    const file = await open(path.join(damaged, archive), 'r+');
    const { size } = await file.stat();
    await file.write(Buffer.from('damaged'), 0, 7, Math.floor(size / 2));
    await file.close();
    const dataBefore = fingerprint(app.dataDir);

    await openView(page, 'Restore');
    const another = page.getByRole('button', { name: 'Restore something else' });
    if (await another.isVisible()) await another.click();
    await dropFolder(page, damaged);
    // The manifest reads fine, so the backup is offered; the restore checks every file before it replaces anything.
    await page.getByRole('button', { name: /^Restore everything/ }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Replace and restore' }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'The restore did not complete' });
    await refused.waitFor({ timeout: 90_000 });
    expect(await refused.textContent()).toContain(archive);
    expect(await page.getByText('Restore complete').count()).toBe(0);
    await app.screenshot('restore-damaged');
    expect(fingerprint(app.dataDir)).toEqual(dataBefore);
    expect(app.pageErrors).toEqual([]);
  });
});
