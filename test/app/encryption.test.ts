// Settings → Encryption through the API handlers, on a real controller: key generation, pasted public keys
// and the passphrase in the keychain; where the identity and the passphrase end up (and where they never do).
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createHandlers, type Handlers } from '../../electron/app/handlers.js';
import { KEPT_IDENTITIES_FILE, PASSPHRASE_SECRET } from '../../electron/app/encryption.js';
import { MemorySecretStore, UnavailableSecretStore, type SecretStore } from '../../electron/app/secret-store.js';
import { generateKeyPair, readIdentityFile, recipientOf } from '../../electron/engine/crypto/index.js';
import type { Controller } from '../../electron/app/controller.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startController, type RecordingPlatform } from './harness.js';
import { mistype } from '../helpers/typo.js';

/** Every file under `dir`, with its text. */
const filesUnder = (dir: string): Array<[string, string]> =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const file = path.join(e.parentPath, e.name);
      return [file, readFileSync(file, 'utf8')];
    });

let dir: string;
let userData: string;
let controller: Controller;
let platform: RecordingPlatform;
let handlers: Handlers;
let secrets: SecretStore;

async function start(store: SecretStore = new MemorySecretStore()) {
  dir = makeTempDir('aurora-encryption');
  userData = path.join(dir, 'user-data');
  secrets = store;
  ({ controller, platform } = await startController(userData, { secrets }));
  handlers = createHandlers(controller);
}

describe('turning encryption on with a key pair made by the app', () => {
  beforeEach(() => start());

  it('saves the identity where the user chose (0600, age-keygen format), encrypts to its public key, and keeps no copy of it', async () => {
    expect(controller.getStatus().encryption).toEqual({ recipients: [], passphrase: false });
    const identityPath = path.join(dir, 'my-backup-key.txt');
    const answer = await handlers.generateEncryptionKey({ identityPath, keepCopy: false });
    if (!answer.ok) throw new Error(answer.error);
    expect(answer.identityPath).toBe(identityPath);
    expect(answer.recipient).toMatch(/^age1[02-9ac-hj-np-z]{58}$/);
    expect(statSync(identityPath).mode & 0o777).toBe(0o600);
    const text = readFileSync(identityPath, 'utf8');
    expect(text).toContain(`# public key: ${answer.recipient}`);
    const [identity] = await readIdentityFile(identityPath);
    expect(await recipientOf(identity!)).toBe(answer.recipient);

    expect(answer.state).toEqual({ mode: 'recipients', recipients: [answer.recipient], passphraseRemembered: false, keptIdentities: null });
    expect(controller.getSettings().encryption).toEqual({ recipients: [answer.recipient], passphrase: false });
    expect(controller.getStatus().encryption.recipients).toEqual([answer.recipient]);
    // The identity is nowhere in the app's folder: settings, logs, history.
    for (const [file, content] of filesUnder(userData)) expect(content, file).not.toContain(identity);
    expect(JSON.parse(readFileSync(path.join(userData, 'settings.json'), 'utf8')).encryption).toEqual({ recipients: [answer.recipient], passphrase: false });
  });

  it('keeps a copy in the app folder (0600) only when asked, next to earlier kept identities', async () => {
    const first = await handlers.generateEncryptionKey({ identityPath: path.join(dir, 'first.txt'), keepCopy: true });
    const second = await handlers.generateEncryptionKey({ identityPath: path.join(dir, 'second.txt'), keepCopy: true });
    if (!first.ok || !second.ok) throw new Error('not generated');
    const kept = path.join(userData, KEPT_IDENTITIES_FILE);
    expect(second.state.keptIdentities).toBe(kept);
    expect(statSync(kept).mode & 0o777).toBe(0o600);
    const identities = await readIdentityFile(kept);
    expect(await Promise.all(identities.map(recipientOf))).toEqual([first.recipient, second.recipient]);
    expect(controller.getSettings().encryption.recipients).toEqual([second.recipient]);
  });

  it('never overwrites an existing file (it may be the key to older backups), and a folder that does not exist is named; nothing changes', async () => {
    const existing = path.join(dir, 'old-key.txt');
    writeFileSync(existing, 'AGE-SECRET-KEY-1 the only key to last year’s backups\n');
    const refused = await handlers.generateEncryptionKey({ identityPath: existing, keepCopy: false });
    expect(refused).toEqual({ ok: false, error: expect.stringMatching(/old-key\.txt already exists\. Choose another name/) });
    expect(readFileSync(existing, 'utf8')).toContain('last year');
    const nowhere = await handlers.generateEncryptionKey({ identityPath: path.join(dir, 'missing', 'key.txt'), keepCopy: false });
    expect(nowhere).toEqual({ ok: false, error: expect.stringMatching(/Cannot save the identity there: .*missing does not exist/) });
    expect(await handlers.generateEncryptionKey({ identityPath: 'key.txt', keepCopy: false })).toMatchObject({ ok: false, error: expect.stringContaining('is not a full path') });
    expect(controller.getSettings().encryption).toEqual({ recipients: [], passphrase: false });
  });

  it('on the desktop asks where to save with a save dialog; closing it changes nothing', async () => {
    expect(await handlers.generateEncryptionKey({ keepCopy: false })).toMatchObject({ ok: false, cancelled: true });
    expect(platform.picked).toEqual(['identityFile']);
    expect(controller.getSettings().encryption.recipients).toEqual([]);
    platform.saveAnswers.identityFile = path.join(dir, 'chosen-in-dialog.txt');
    const answer = await handlers.generateEncryptionKey({ keepCopy: false });
    expect(answer).toMatchObject({ ok: true, identityPath: platform.saveAnswers.identityFile });
    expect(statSync(platform.saveAnswers.identityFile).mode & 0o777).toBe(0o600);
  });
});

describe('pasted public keys and a passphrase', () => {
  beforeEach(() => start());

  it('accepts pasted age public keys (trimmed, duplicates once) and refuses a bad one by its position and why', async () => {
    const [a, b] = [(await generateKeyPair()).recipient, (await generateKeyPair()).recipient];
    const answer = await handlers.setEncryption({ mode: 'recipients', recipients: [` ${a} `, b, a, ''] });
    expect(answer).toMatchObject({ ok: true, state: { mode: 'recipients', recipients: [a, b] } });

    const typo = mistype(b);
    expect(await handlers.setEncryption({ mode: 'recipients', recipients: [a, typo] })).toEqual({ ok: false, error: expect.stringMatching(/^Public key 2: .*checksum is wrong/) });
    expect(await handlers.setEncryption({ mode: 'recipients', recipients: ['ssh-ed25519 AAAAC3Nza me@host'] })).toEqual({ ok: false, error: expect.stringContaining('is an SSH key') });
    // The secret key pasted by mistake: refused without being shown again.
    const secret = await handlers.setEncryption({ mode: 'recipients', recipients: ['AGE-SECRET-KEY-1QQQXYZ'] });
    expect(secret).toEqual({ ok: false, error: expect.stringMatching(/^An age secret key .* was given where the public key belongs/) });
    expect(JSON.stringify(secret)).not.toContain('QQQXYZ');
    expect(controller.getSettings().encryption.recipients).toEqual([a, b]);
  });

  it('accepts an X25519 key whose data happens to start with "pq" (one in 1024 generated keys), unlike a post-quantum one', async () => {
    let recipient = '';
    for (let i = 0; i < 50_000 && !recipient.startsWith('age1pq'); i++) recipient = (await generateKeyPair()).recipient;
    expect(recipient).toMatch(/^age1pq/);
    expect(await handlers.setEncryption({ mode: 'recipients', recipients: [recipient] })).toMatchObject({ ok: true, state: { recipients: [recipient] } });
    expect(await handlers.setEncryption({ mode: 'recipients', recipients: [`age1pq1${'q'.repeat(70)}`] })).toEqual({ ok: false, error: expect.stringContaining('post-quantum') });
  });

  it('keeps the passphrase in the keychain only: not in settings.json, not in any answer to the window', async () => {
    const passphrase = 'correct horse battery staple';
    const answer = await handlers.setEncryption({ mode: 'passphrase', passphrase });
    expect(answer).toEqual({ ok: true, state: { mode: 'passphrase', recipients: [], passphraseRemembered: true, keptIdentities: null } });
    expect(await secrets.get(PASSPHRASE_SECRET)).toBe(passphrase);
    for (const [file, content] of filesUnder(userData)) expect(content, file).not.toContain(passphrase);
    for (const reply of [await handlers.getSettings(undefined), await handlers.getStatus(undefined), await handlers.getEncryption(undefined)]) {
      expect(JSON.stringify(reply)).not.toContain(passphrase);
    }
    // Switching to public keys (or off) forgets it.
    await handlers.setEncryption({ mode: 'recipients', recipients: [(await generateKeyPair()).recipient] });
    expect(await secrets.get(PASSPHRASE_SECRET)).toBeNull();
    await handlers.setEncryption({ mode: 'off' });
    expect(controller.getStatus().encryption).toEqual({ recipients: [], passphrase: false });
  });

  it('the settings form cannot change encryption behind the keychain’s back, and saving it keeps encryption as it is', async () => {
    const recipient = (await generateKeyPair()).recipient;
    await handlers.setEncryption({ mode: 'recipients', recipients: [recipient] });
    mkdirSync(path.join(dir, 'data'));
    const { encryption: _left, ...form } = { ...controller.getSettings(), dataDir: path.join(dir, 'data') };
    expect(await handlers.setSettings({ ...form, retainDays: 9 })).toMatchObject({ ok: true, settings: { retainDays: 9, encryption: { recipients: [recipient] } } });
    expect(await handlers.setSettings({ ...form, encryption: { recipients: [], passphrase: true } })).toEqual({ ok: false, errors: { encryption: expect.stringContaining('Settings → Encryption') } });
    expect(controller.getSettings().encryption).toEqual({ recipients: [recipient], passphrase: false });
  });
});

describe('without a keychain', () => {
  beforeEach(() => start(new UnavailableSecretStore('no keyring is running in this session.')));

  it('a passphrase is refused with the keychain’s reason and nothing changes', async () => {
    const answer = await handlers.setEncryption({ mode: 'passphrase', passphrase: 'correct horse battery staple' });
    expect(answer).toEqual({ ok: false, error: 'Cannot save the secret: no keyring is running in this session.' });
    expect(controller.getSettings().encryption).toEqual({ recipients: [], passphrase: false });
  });
});
