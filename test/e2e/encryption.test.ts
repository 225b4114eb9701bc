import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, identityFileText } from '../../electron/engine/crypto/index.js';
import { axeViolations, overflowing } from './a11y.js';
import { exactFiles } from '../helpers/digest.js';
import { backUp, openView, startApp, type App } from './harness.js';
import { mistype } from '../helpers/typo.js';

const NOTICE = 'Secrets not backed up: turn on encryption';

describe('the window: encrypted backups', () => {
  let app: App;
  // The keychain of `serve` for tests: in memory, for the life of the process.
  beforeAll(async () => (app = await startApp({ accounts: 3, blobMB: 1, env: { AURORA_TEST_SECRETS: 'memory' } })));
  afterAll(async () => app?.stop());

  it('says secrets are not backed up while encryption is off; refuses a bad public key and a mistyped passphrase; a passphrase turns the notice off', async () => {
    const { page } = app;
    await openView(page, 'Overview');
    const overviewNotice = page.getByRole('status').filter({ hasText: NOTICE });
    await overviewNotice.waitFor();
    expect(await overviewNotice.textContent()).toMatch(/signing keys are in the backups unencrypted/);

    await overviewNotice.getByRole('button', { name: 'Turn on encryption' }).click();
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
    const section = page.getByRole('region', { name: 'Encryption' });
    await section.getByText(NOTICE).waitFor();

    await section.getByLabel('Use existing age public keys').check();
    const { recipient } = await generateKeyPair();
    await section.getByLabel('Public keys (age1…, one a line)').fill(`${recipient}\n${mistype(recipient)}`);
    await section.getByRole('button', { name: 'Encrypt to these keys' }).click();
    await section.getByRole('alert').filter({ hasText: /Public key 2: .*checksum is wrong/ }).waitFor();
    // The secret key pasted by mistake: refused, and not shown back; the longer message fits the window.
    const { identity } = await generateKeyPair();
    await section.getByLabel('Public keys (age1…, one a line)').fill(identity);
    await section.getByRole('button', { name: 'Encrypt to these keys' }).click();
    await section.getByRole('alert').filter({ hasText: /^An age secret key .* was given where the public key belongs/ }).waitFor();
    expect(await section.getByRole('alert').textContent()).not.toContain(identity.slice(20, 30));
    expect(await overflowing(page)).toEqual([]);

    await section.getByLabel('Use a passphrase').check();
    await section.getByLabel('Passphrase', { exact: true }).fill('correct horse battery staple');
    await section.getByLabel('The same passphrase again').fill('correct horse battery stapel');
    await section.getByRole('button', { name: 'Encrypt with this passphrase' }).click();
    await section.getByRole('alert').filter({ hasText: 'The two passphrases differ' }).waitFor();
    expect((await app.api('getSettings')).encryption).toEqual({ recipients: [], passphrase: false });

    await section.getByLabel('The same passphrase again').fill('correct horse battery staple');
    await section.getByRole('button', { name: 'Encrypt with this passphrase' }).click();
    await section.getByText("Backups are encrypted with a passphrase, kept in this computer's keychain").waitFor();
    expect(await section.getByText(NOTICE).count()).toBe(0);
    expect((await app.api('getSettings')).encryption).toEqual({ recipients: [], passphrase: true });
    // Not in the settings file, not in anything the app wrote.
    for (const [file, text] of Object.entries(filesUnder(app.userDir))) expect(text, file).not.toContain('correct horse battery staple');

    await openView(page, 'Overview');
    await page.getByRole('heading', { name: /./, level: 2 }).first().waitFor();
    expect(await page.getByText(NOTICE).count()).toBe(0);
    expect(app.pageErrors).toEqual([]);
  });

  it('generates a key pair, shows its public key, backs up encrypted, and restores with the identity file (a wrong one changes nothing)', async () => {
    const { page } = app;
    await openView(page, 'Settings');
    const section = page.getByRole('region', { name: 'Encryption' });
    await section.getByLabel('Generate a key pair (recommended)').check();
    await section.getByText('Without the identity file the backups cannot be read').waitFor();
    const problems = [...(await overflowing(page)), ...(await axeViolations(page))];
    await app.screenshot('encryption-generate');

    const identityFile = path.join(app.dir, 'backup-identity.txt');
    await section.getByLabel('Save the identity file to').fill(identityFile);
    await section.getByRole('button', { name: 'Generate key pair' }).click();
    await section.getByText(`Identity saved to ${identityFile}`).waitFor();
    const shown = await section.getByLabel('Public key 1').inputValue();
    expect(shown).toMatch(/^age1[02-9ac-hj-np-z]{58}$/);
    expect((await app.api('getSettings')).encryption).toEqual({ recipients: [shown], passphrase: false });
    expect(statSync(identityFile).mode & 0o777).toBe(0o600);
    const identity = readFileSync(identityFile, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
    for (const [file, text] of Object.entries(filesUnder(app.userDir))) expect(text, file).not.toContain(identity);
    problems.push(...(await overflowing(page)), ...(await axeViolations(page)));
    await app.screenshot('encryption-key-pair');
    expect(problems).toEqual([]);

    const backup = await backUp(app);
    expect(backup.encrypted).toBe(true);
    await openView(page, 'Backups');
    const row = page.locator(`tr[data-backup="${backup.name}"]`);
    await row.getByTestId(`encrypted-${backup.name}`).waitFor();

    // Restore it with another key pair's identity: refused, with the engine's message, and nothing changed.
    const other = await generateKeyPair();
    const wrongFile = path.join(app.dir, 'someone-elses-identity.txt');
    writeFileSync(wrongFile, identityFileText(other), { mode: 0o600 });
    const before = exactFiles(app.dataDir);
    await row.getByRole('button', { name: /Restore/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Restore' }).waitFor();
    const keys = page.getByRole('group', { name: 'This backup is encrypted to a public key' });
    await keys.waitFor();
    const restoreButton = page.getByRole('button', { name: 'Restore everything…' });
    expect(await restoreButton.isDisabled()).toBe(true); // no key yet
    await keys.getByLabel('Identity file').fill(wrongFile);
    problems.push(...(await overflowing(page)), ...(await axeViolations(page)));
    await app.screenshot('encryption-restore-keys');
    await restoreButton.click();
    await page.getByRole('button', { name: 'Replace and restore' }).click();
    const failed = page.getByRole('alert').filter({ hasText: /identit|decrypt/i });
    await failed.waitFor();
    expect(await failed.textContent()).toContain(wrongFile);
    expect(exactFiles(app.dataDir)).toEqual(before);

    // With the identity file the app saved: restored.
    await page.getByRole('button', { name: 'Restore something else' }).click();
    await openView(page, 'Backups');
    await row.getByRole('button', { name: /Restore/ }).click();
    await keys.getByLabel('Identity file').fill(identityFile);
    await restoreButton.click();
    await page.getByRole('button', { name: 'Replace and restore' }).click();
    await page.getByTestId('restore-outcome').getByText(/Restore complete/).waitFor({ timeout: 120_000 });
    expect(problems).toEqual([]);
    expect(app.pageErrors).toEqual([]);
  });

  it('Deep verify on an encrypted backup asks for its key as a restore does: a wrong identity file gets a clear message, the right one passes', async () => {
    const { page } = app;
    const identityFile = path.join(app.dir, 'verify-identity.txt');
    const generated = await app.api('generateEncryptionKey', { identityPath: identityFile, keepCopy: false });
    expect(generated.ok).toBe(true);
    const backup = await backUp(app);
    expect(backup.encrypted).toBe(true);
    // The main process checks the key's path as it checks a restore's.
    await expect(app.api('verifyBackup', { path: backup.path, deep: true, decryption: { identityPath: path.join(app.dir, 'no-such-identity.txt') } })).rejects.toThrow(/no-such-identity\.txt/);

    await openView(page, 'Backups');
    const row = page.locator(`tr[data-backup="${backup.name}"]`);
    await row.getByRole('button', { name: /^Deep verify/ }).click();
    const dialog = page.getByRole('dialog', { name: `Deep verify ${backup.name}` });
    const keys = dialog.getByRole('group', { name: 'This backup is encrypted to a public key' });
    await keys.getByText('A deep verification needs the identity file').waitFor();
    const verifyButton = dialog.getByRole('button', { name: 'Verify with this key' });
    expect(await verifyButton.isDisabled()).toBe(true); // no key yet
    const other = await generateKeyPair();
    const wrongFile = path.join(app.dir, 'not-this-backups-identity.txt');
    writeFileSync(wrongFile, identityFileText(other), { mode: 0o600 });
    await keys.getByLabel('Identity file').fill(wrongFile);
    const problems = [...(await overflowing(page)), ...(await axeViolations(page))];
    await app.screenshot('encryption-verify-key');
    await verifyButton.click();
    const refused = page.getByRole('alert').filter({ hasText: `Could not verify ${backup.name}` });
    await refused.waitFor();
    expect(await refused.textContent()).toContain(`(${wrongFile}) is not one it was encrypted to (wrong key)`);

    await row.getByRole('button', { name: /^Deep verify/ }).click();
    await keys.getByLabel('Identity file').fill(identityFile);
    await verifyButton.click();
    await page.getByTestId(`verify-${backup.name}`).getByText('Deep verification passed').waitFor({ timeout: 120_000 });
    expect(problems).toEqual([]);
    expect(app.pageErrors).toEqual([]);
  });
});

function filesUnder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out[path.join(entry.parentPath, entry.name)] = readFileSync(path.join(entry.parentPath, entry.name), 'utf8');
  }
  return out;
}
