import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { S3_KEYS, startS3, type RunningServer } from '../helpers/offsite-servers.js';
import { axeViolations, overflowing } from './a11y.js';
import { openView, startApp, type App } from './harness.js';

const BUCKET = 'aurora-window';

/** The Off-site copies card of Settings. */
const targetsCard = (page: Page) => page.getByRole('region', { name: 'Off-site copies' });

/** A copy state badge of a backup in the Backups list, once it says `state`. */
const copyBadge = (page: Page, backup: string, target: string, state: string) => page.locator(`[data-testid="copies-${backup}"] [data-target="${target}"][data-state="${state}"]`);

describe('the window: off-site copies', () => {
  let app: App;
  let s3: RunningServer;
  let s3Dir: string;
  let offsiteDir: string;
  let firstBackup: string;

  beforeAll(async () => {
    s3Dir = await mkdtemp(path.join(tmpdir(), 'aurora-e2e-s3-'));
    s3 = await startS3(s3Dir, BUCKET);
    // serve has no keychain; the test one keeps the S3 secret in memory.
    app = await startApp({ accounts: 3, blobMB: 2, env: { AURORA_TEST_SECRETS: 'memory' } });
    offsiteDir = path.join(app.dir, 'second-disk');
  });
  afterAll(async () => {
    await app?.stop();
    await s3?.stop();
    await rm(s3Dir, { recursive: true, force: true });
  });

  it('adds a folder target in Settings, tested as it is added, with labels and keyboard only', async () => {
    const { page } = app;
    await openView(page, 'Settings');
    const card = targetsCard(page);
    await card.getByText('No targets yet').waitFor();
    await card.getByRole('radio', { name: /^Folder/ }).check();
    await card.getByRole('textbox', { name: 'Name' }).fill('usb');
    await card.getByRole('textbox', { name: 'Folder', exact: true }).fill(offsiteDir);
    await card.getByText('Retention and upload limit').click();
    await card.getByRole('textbox', { name: 'Delete copies there older than (days)' }).fill('30');
    await card.getByRole('textbox', { name: 'Folder', exact: true }).press('Enter');
    await card.getByText('"usb" added and tested').waitFor();
    expect(JSON.parse(readFileSync(path.join(app.userDir, 'targets.json'), 'utf8')).targets).toEqual([expect.objectContaining({ name: 'usb', type: 'folder', path: offsiteDir, retention: { retainDays: 30, keepLast: 3 } })]);
    expect(await card.getByRole('list', { name: 'Targets' }).textContent()).toContain(offsiteDir);
    expect(await card.getByRole('button', { name: 'Test the connection to usb' }).isVisible()).toBe(true);
    await app.screenshot('settings-targets-folder');
    expect(await overflowing(page)).toEqual([]);
    expect(await axeViolations(page)).toEqual([]);
  });

  it('"Back up now" copies the new backup there; Backups shows the copy state', async () => {
    const { page } = app;
    await openView(page, 'Overview');
    await page.getByRole('button', { name: 'Back up now' }).click();
    await openView(page, 'Backups');
    const row = page.locator('tr[data-backup]').first();
    await row.waitFor({ timeout: 90_000 });
    firstBackup = (await row.getAttribute('data-backup'))!;
    await copyBadge(page, firstBackup, 'usb', 'copied').waitFor({ timeout: 90_000 });
    expect(await page.getByTestId(`copies-${firstBackup}`).textContent()).toContain('usb: copied');
    expect(existsSync(path.join(offsiteDir, firstBackup, 'manifest.json'))).toBe(true);
    await app.screenshot('backups-copied');
    expect(await overflowing(page)).toEqual([]);
    expect(await axeViolations(page)).toEqual([]);
  });

  it('adds an S3 target (s3rver) with its secret kept out of targets.json, copies a backup there on request, and restores from it', async () => {
    const { page } = app;
    await openView(page, 'Settings');
    const card = targetsCard(page);
    await card.getByRole('radio', { name: 'S3-compatible bucket' }).check();
    await card.getByRole('textbox', { name: 'Name' }).fill('b2');
    await card.getByRole('textbox', { name: 'Endpoint URL' }).fill(`http://127.0.0.1:${s3.port}`);
    await card.getByRole('textbox', { name: 'Bucket' }).fill(BUCKET);
    await card.getByRole('textbox', { name: 'Prefix' }).fill('pds/');
    await card.getByRole('textbox', { name: 'Access key ID' }).fill(S3_KEYS.AWS_ACCESS_KEY_ID);
    await card.getByLabel('Secret access key').fill(S3_KEYS.AWS_SECRET_ACCESS_KEY);
    await card.getByRole('button', { name: 'Add target' }).click();
    await card.getByText('"b2" added and tested').waitFor({ timeout: 30_000 });
    expect(readFileSync(path.join(app.userDir, 'targets.json'), 'utf8')).not.toContain('secretAccessKey');
    await app.screenshot('settings-targets-s3');

    await openView(page, 'Backups');
    await page.getByRole('button', { name: `Copy off-site: ${firstBackup}` }).click();
    await copyBadge(page, firstBackup, 'b2', 'copied').waitFor({ timeout: 90_000 });
    await copyBadge(page, firstBackup, 'usb', 'copied').waitFor();

    const restore = page.getByRole('region', { name: 'Restore from an off-site copy' });
    await restore.getByRole('combobox', { name: 'Target' }).selectOption('b2');
    await restore.getByRole('button', { name: 'Show its backups' }).click();
    await restore.getByRole('button', { name: `Download and restore ${firstBackup} from b2…` }).click();
    // Downloaded and checked: the usual restore opens on the downloaded copy.
    await page.getByRole('heading', { level: 1, name: 'Restore' }).waitFor({ timeout: 90_000 });
    await page.getByRole('heading', { name: /^Backup from / }).waitFor({ timeout: 30_000 });
    expect(existsSync(path.join(app.backupDir, '.offsite-download', firstBackup, 'manifest.json'))).toBe(true);
    await app.screenshot('restore-from-target');
    expect(await axeViolations(page)).toEqual([]);
    expect(app.pageErrors).toEqual([]);
  });
});
