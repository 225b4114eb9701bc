import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupSummary } from '../../shared/api.js';
import { digests } from '../helpers/restore-setup.js';
import { backUp, openView, startApp, type App } from './harness.js';

describe('the window: restoring over damaged data, and undoing a restore', () => {
  let app: App;
  let backup: BackupSummary;
  beforeAll(async () => {
    app = await startApp({ accounts: 3, blobMB: 1 });
    backup = await backUp(app);
  });
  afterAll(async () => app?.stop());

  /** From the Backups row's button through the confirmation to the result. */
  async function restoreFrom(button: string) {
    const { page } = app;
    await openView(page, 'Backups');
    await page.getByRole('button', { name: button }).click();
    await page.getByRole('heading', { name: /^Backup from / }).waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Restore everything…' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Replace and restore' }).click();
    await page.getByText(/^Restore complete/).waitFor({ timeout: 90_000 });
  }

  it('goes through a junk actor store and lists what it kept as it was', async () => {
    const store = readdirSync(path.join(app.dataDir, 'actors'), { recursive: true }).map(String).find((f) => f.endsWith('store.sqlite'))!;
    writeFileSync(path.join(app.dataDir, 'actors', store), 'overwritten by accident '.repeat(100));

    await restoreFrom(`Restore from ${backup.name}…`);
    const kept = app.page.getByRole('list', { name: 'Kept as they were' });
    expect(await kept.textContent()).toContain(path.join(app.dataDir, 'actors', store));
    expect(await kept.textContent()).toMatch(/SQLITE_NOTADB/);
    await app.screenshot('restore-kept-raw');
    expect(app.pageErrors).toEqual([]);
  });

  it('marks pre-restore backups, and "Undo last restore" on the newest gives back the data as it was', async () => {
    const { page } = app;
    // A healthy state to come back to: the data as the restore above left it, with one more upload.
    const upload = path.join(app.dataDir, 'blobs', 'did:plc:newcomer');
    mkdirSync(upload, { recursive: true });
    writeFileSync(path.join(upload, 'bafkreiuploadedbeforetheundo'), 'an upload');
    const before = digests(app.dataDir);

    await restoreFrom(`Restore from ${backup.name}…`);
    expect(digests(app.dataDir)).not.toEqual(before);

    await openView(page, 'Backups');
    const listed = await app.api('listBackups');
    const preRestores = listed.filter((b) => b.kind === 'pre-restore');
    expect(preRestores).toHaveLength(2);
    for (const pre of preRestores) expect(await page.getByTestId(`pre-restore-${pre.name}`).textContent()).toContain(`the restore of ${backup.name}`);
    expect(await page.getByRole('button', { name: /^Undo last restore/ }).count()).toBe(1);
    expect(await page.getByRole('button', { name: /^Restore from / }).count()).toBe(listed.length);
    await app.screenshot('backups-pre-restore');

    await restoreFrom(`Undo last restore (restore ${preRestores[0]!.name}, the data it replaced)…`);
    expect(digests(app.dataDir)).toEqual(before);
    expect(app.pageErrors).toEqual([]);
  });
});
