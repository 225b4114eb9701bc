import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BackupSummary } from '../../shared/api.js';
import { axeViolations } from './a11y.js';
import { backUp, openView, startApp, type App } from './harness.js';
import { fingerprint } from '../helpers/digest.js';

/** A shell command that waits until `gate` exists: the restore stays in its step until the test opens the gate. */
const waitFor = (gate: string) => `while [ ! -e '${gate}' ]; do sleep 0.05; done`;

/** The step of the restore that the window shows as current. */
const currentStep = (page: Page) => page.locator('[data-testid="restore-progress"] li[aria-current="step"]');

describe('the window: a restore you can follow', () => {
  let app: App;
  let backup: BackupSummary;
  beforeAll(async () => {
    app = await startApp({ accounts: 3, blobMB: 3 });
    backup = await backUp(app);
  });
  afterAll(async () => app?.stop());
  // A test that stops half-way must not leave its restore waiting for the next test.
  const opened: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const open of opened.splice(0)) await open();
    for (let waited = 0; (await app.api('getStatus')).job && waited < 60_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  });

  const gates = async (name: string) => {
    const stop = path.join(app.dir, `${name}-stop`);
    const start = path.join(app.dir, `${name}-start`);
    const settings = await app.api('getSettings');
    await app.api('setSettings', { ...settings, pds: { ...settings.pds, stopCommand: waitFor(stop), startCommand: waitFor(start) } });
    const gate = { openStop: () => writeFile(stop, ''), openStart: () => writeFile(start, '') };
    opened.push(gate.openStop, gate.openStart);
    return gate;
  };

  it('starts from Restore… on a backup, confirms in a real modal, and shows the running restore in every view, after a reload too', async () => {
    const { page } = app;
    const gate = await gates('full');
    await openView(page, 'Backups');
    await page.getByRole('button', { name: `Restore from ${backup.name}…` }).click();
    await page.getByRole('heading', { level: 1, name: 'Restore' }).waitFor();
    await page.getByRole('heading', { name: /^Backup from / }).waitFor({ timeout: 30_000 });
    expect(await page.getByText(' on unknown').count()).toBe(0);

    // The confirmation: focus on Cancel, Escape cancels, Tab stays inside.
    const restoreButton = page.getByRole('button', { name: 'Restore everything…' });
    await restoreButton.click();
    const dialog = page.getByRole('alertdialog', { name: /^Replace this data/ });
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Restore everything…'); // focus back where it was
    await restoreButton.click();
    await dialog.waitFor();
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    }
    await page.emulateMedia({ colorScheme: 'dark' });
    await app.screenshot('restore-confirm-modal-dark');
    expect(await axeViolations(page)).toEqual([]); // the destructive button is readable in dark mode too
    await page.emulateMedia({ colorScheme: 'light' });
    await dialog.getByRole('button', { name: 'Replace and restore' }).click();

    // Unpacked and checked while the PDS runs; now its stop command waits for the gate.
    await currentStep(page).filter({ hasText: 'Stop the PDS' }).waitFor({ timeout: 60_000 });
    const steps = page.locator('[data-testid="restore-progress"] li');
    expect(await steps.allTextContents()).toEqual([
      'Check the backup (done)',
      'Unpack beside the live data (done)',
      'Check every database (done)',
      expect.stringMatching(/^4Stop the PDS \(now\)\d+ s so far$/),
      '5Save the current data',
      '6Put the restored data in place',
      '7Start the PDS',
    ]);
    expect(await page.getByRole('button', { name: 'Cancel restore' }).isVisible()).toBe(true);
    const sidebar = page.getByRole('navigation', { name: 'Sections' });
    expect(await sidebar.textContent()).toContain('Restoring');
    expect(await sidebar.textContent()).not.toContain('Backing up');
    await app.screenshot('restore-running');

    await openView(page, 'Overview');
    const hero = page.locator('.hero');
    expect(await hero.getByRole('heading').textContent()).toBe('Restoring');
    expect(await hero.textContent()).toContain('Stop the PDS. The PDS is being stopped');
    expect(await page.getByTestId('last-run').textContent()).toMatch(/Last run: Restore\s*Running/);
    await currentStep(page).filter({ hasText: 'Stop the PDS' }).waitFor();
    await app.screenshot('overview-restoring');

    await openView(page, 'History & logs');
    const row = page.locator('tbody tr').first();
    expect(await row.textContent()).toMatch(/Restore by hand.*Running/);

    // A reload knows the running restore from the app, not from the page.
    await page.goto(`${new URL(page.url()).origin}/#restore`);
    await currentStep(page).filter({ hasText: 'Stop the PDS' }).waitFor();
    expect(await page.getByRole('button', { name: 'Restore everything…' }).count()).toBe(0);

    await gate.openStop();
    await currentStep(page).filter({ hasText: 'Start the PDS' }).waitFor({ timeout: 60_000 });
    expect(await page.getByRole('button', { name: 'Cancel restore' }).count()).toBe(0);
    expect(await page.getByText('The restore can no longer be cancelled').isVisible()).toBe(true);
    expect(await app.api('cancel')).toEqual({ cancelled: false });
    await app.screenshot('restore-no-longer-cancellable');

    await gate.openStart();
    await page.getByText(/^Restore complete/).waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('restore-outcome').textContent()).toContain(`from ${backup.name}`);
    await openView(page, 'Overview');
    expect(await page.getByTestId('last-run').textContent()).toMatch(/Last run: Restore\s*Succeeded/);
    await openView(page, 'Restore');
    expect(await page.getByText(/^Restore complete/).isVisible()).toBe(true); // still there after navigating away
    await openView(page, 'History & logs');
    await page.locator('tbody tr').first().filter({ hasText: 'Succeeded' }).waitFor();
    expect(await page.locator('tbody tr').first().textContent()).toMatch(/Restore by hand/);
    expect(app.pageErrors).toEqual([]);
  });

  it('can be cancelled while that is safe, and then nothing has changed', async () => {
    const { page } = app;
    await gates('cancel');
    const before = fingerprint(app.dataDir);
    await openView(page, 'Restore');
    const another = page.getByRole('button', { name: 'Restore something else' });
    if (await another.isVisible()) await another.click();
    // Started elsewhere (another window); this one follows it from the app's status.
    const answer = app.api('restore', { path: backup.path, components: ['account', 'actors'] });
    await currentStep(page).filter({ hasText: 'Stop the PDS' }).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Cancel restore' }).click();
    await page.getByText(/^Restore cancelled/).waitFor({ timeout: 30_000 });
    await answer.catch(() => undefined);
    expect(fingerprint(app.dataDir)).toEqual(before);
    await openView(page, 'History & logs');
    await page.locator('tbody tr').first().filter({ hasText: 'Cancelled' }).waitFor();
    expect(app.pageErrors).toEqual([]);
  });

  it('says before confirming what a partial restore leaves inconsistent', async () => {
    const { page } = app;
    await openView(page, 'Backups');
    await page.getByRole('button', { name: `Restore from ${backup.name}…` }).click();
    await page.getByRole('heading', { name: /^Backup from / }).waitFor({ timeout: 30_000 });
    const warning = page.getByText('A partial restore leaves the PDS inconsistent');
    expect(await warning.count()).toBe(0);
    await page.getByRole('group', { name: 'What to restore' }).getByRole('checkbox', { name: /Repositories/ }).uncheck();
    await warning.waitFor();
    await page.getByRole('button', { name: /^Restore 4 of 5 parts/ }).click();
    const dialog = page.getByRole('alertdialog');
    expect(await dialog.textContent()).toContain('Accounts without their repositories');
    await app.screenshot('restore-partial-warning');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
  });

  it('chooses a backup folder in the browser through the API', async () => {
    const { page } = app;
    await openView(page, 'Restore');
    const other = page.getByRole('button', { name: 'Choose another' });
    if (await other.isVisible()) await other.click();
    await page.getByRole('button', { name: 'Choose folder…' }).click();
    const chooser = page.getByRole('dialog', { name: 'Choose a backup folder' });
    await chooser.getByText(app.backupDir, { exact: true }).waitFor();
    await app.screenshot('restore-folder-chooser');
    // Up one level and back down, the way a user finds a folder.
    await chooser.getByRole('button', { name: `Up to ${app.dir}` }).click();
    await chooser.getByRole('button', { name: 'backups', exact: true }).click();
    await chooser.getByRole('button', { name: new RegExp(`^${backup.name}`) }).click();
    await page.getByRole('heading', { name: /^Backup from / }).waitFor({ timeout: 30_000 });
    expect(await page.getByText(backup.path, { exact: true }).isVisible()).toBe(true);
    expect(app.pageErrors).toEqual([]);
  });
});
