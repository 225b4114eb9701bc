// The app's backups and restores with encryption on, through the handlers and the controller's job worker,
// on a generated PDS: encrypted to a key pair the app made, then with a passphrase from the keychain.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppStatus, ApiOutputs } from '../../shared/api.js';
import { createHandlers, type Handlers } from '../../electron/app/handlers.js';
import { stopJobWorker } from '../../electron/app/job-runner.js';
import { MemorySecretStore } from '../../electron/app/secret-store.js';
import type { Controller } from '../../electron/app/controller.js';
import { generateKeyPair, identityFileText } from '../../electron/engine/crypto/index.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { makeTempDir } from '../helpers/tmp.js';
import { exactFiles } from '../helpers/digest.js';
import { startController } from './harness.js';

const PDS_ENV = 'PDS_HOSTNAME=pds.example.org\nPDS_SERVICE_DID=did:web:pds.example.org\nPDS_JWT_SECRET=0123456789abcdef\n';

let dir: string;
let dataDir: string;
let controller: Controller;
let handlers: Handlers;

beforeAll(async () => {
  dir = makeTempDir('aurora-app-encrypted');
  dataDir = path.join(dir, 'data');
  await createFixture(dataDir, { accounts: 2, posts: 5, blobMB: 1, seed: 'app-encrypted' });
  writeFileSync(path.join(dataDir, 'pds.env'), PDS_ENV, { mode: 0o600 });
  ({ controller } = await startController(path.join(dir, 'user-data'), { secrets: new MemorySecretStore() }));
  await controller.updateSettings({ ...controller.getSettings(), dataDir, backupDir: path.join(dir, 'backups') });
  handlers = createHandlers(controller);
});
afterAll(() => stopJobWorker());

async function backUp() {
  const started = await controller.startBackup('manual');
  if (!started.started) throw new Error(started.reason);
  const entry = await started.done;
  if (entry.result !== 'success') throw new Error(`backup ${entry.result}: ${entry.error}`);
  const backup = (await controller.listBackups()).find((b) => b.name === entry.backupName)!;
  return backup;
}

/** Restores into a new empty data directory (a new machine), as the settings say. */
async function restoreInto(target: string, backupPath: string, decryption: unknown, extra: Record<string, unknown> = {}): Promise<ApiOutputs['restore']> {
  mkdirSync(target, { recursive: true });
  await controller.updateSettings({ ...controller.getSettings(), dataDir: target });
  try {
    return await handlers.restore({ path: backupPath, components: ['account', 'sequencer', 'did_cache', 'blobs', 'actors'], decryption, secrets: true, ...extra });
  } finally {
    await controller.updateSettings({ ...controller.getSettings(), dataDir });
  }
}

describe('encrypted backups made by the app', () => {
  let identityPath: string;
  let backupPath: string;

  it('backs up encrypted to the key pair generated in the app, the PDS configuration included', async () => {
    identityPath = path.join(dir, 'identity.txt');
    const made = await handlers.generateEncryptionKey({ identityPath, keepCopy: false });
    if (!made.ok) throw new Error(made.error);
    const backup = await backUp();
    backupPath = backup.path;
    expect(backup.encrypted).toBe(true);
    const manifest = JSON.parse(readFileSync(path.join(backup.path, 'manifest.json'), 'utf8'));
    expect(manifest.aurora_backup.encryption).toMatchObject({ mode: 'recipients', recipients: [made.recipient] });
    const files: Array<{ path: string; component: string; encrypted?: boolean }> = manifest.aurora_backup.files;
    expect(files.every((f) => f.encrypted === true && f.path.endsWith('.age'))).toBe(true);
    expect(files.map((f) => f.component)).toContain('secrets');
    const inspected = await handlers.inspectBackup({ path: backup.path });
    expect(inspected).toMatchObject({ ok: true, encryption: { mode: 'recipients', recipients: [made.recipient], secrets: true } });
  });

  it('a wrong identity is refused with the engine’s message, before anything is written', async () => {
    const wrong = path.join(dir, 'someone-else.txt');
    writeFileSync(wrong, identityFileText(await generateKeyPair()), { mode: 0o600 });
    const target = path.join(dir, 'new-machine-wrong-key');
    const answer = await restoreInto(target, backupPath, { identityPath: wrong });
    expect(answer).toMatchObject({ ok: false, error: expect.stringContaining('someone-else.txt') });
    expect(exactFiles(target)).toEqual({});
  });

  it('restores onto a new machine with the identity file: the data and pds.env (0600) come back', async () => {
    const target = path.join(dir, 'new-machine');
    const answer = await restoreInto(target, backupPath, { identityPath });
    if (!answer.ok) throw new Error(answer.error);
    expect(answer.result.restored).toEqual(['account', 'sequencer', 'did_cache', 'blobs', 'actors']);
    expect(readFileSync(path.join(target, 'pds.env'), 'utf8')).toBe(PDS_ENV);
    expect(statSync(path.join(target, 'pds.env')).mode & 0o777).toBe(0o600);
    const { 'pds.env': _env, ...restored } = exactFiles(target);
    const { 'pds.env': _original, ...original } = exactFiles(dataDir);
    expect(Object.keys(restored).filter((f) => f.endsWith('account.sqlite'))).toEqual(Object.keys(original).filter((f) => f.endsWith('account.sqlite')));
  });

  it('asks before replacing a pds.env that names another PDS, showing both values; kept, it stays as it was', async () => {
    const target = path.join(dir, 'other-server');
    mkdirSync(target, { recursive: true });
    const theirs = 'PDS_HOSTNAME=new.example.net\nPDS_SERVICE_DID=did:web:new.example.net\n';
    writeFileSync(path.join(target, 'pds.env'), theirs, { mode: 0o600 });
    const asked = new Promise<NonNullable<AppStatus['configQuestion']>>((resolve) => {
      const onStatus = (status: AppStatus) => {
        if (!status.configQuestion) return;
        controller.off('status', onStatus);
        resolve(status.configQuestion);
      };
      controller.on('status', onStatus);
    });
    const restoring = restoreInto(target, backupPath, { identityPath });
    const question = await asked;
    expect(question).toEqual({
      target: path.join(target, 'pds.env'),
      differences: [
        { name: 'PDS_HOSTNAME', now: 'new.example.net', backup: 'pds.example.org' },
        { name: 'PDS_SERVICE_DID', now: 'did:web:new.example.net', backup: 'did:web:pds.example.org' },
      ],
    });
    expect(await handlers.answerConfigQuestion({ choice: 'keep' })).toEqual({ answered: true });
    const answer = await restoring;
    if (!answer.ok) throw new Error(answer.error);
    expect(readFileSync(path.join(target, 'pds.env'), 'utf8')).toBe(theirs);
    expect(controller.getStatus().configQuestion).toBeNull();
  });

  it('keeps the data a restore replaces encrypted to the key its backups use: the pre-restore backup is all .age and decrypts with the identity', async () => {
    const answer = await handlers.restore({ path: backupPath, components: ['did_cache'], decryption: { identityPath } });
    if (!answer.ok) throw new Error(answer.error);
    const recipient = controller.getSettings().encryption.recipients[0];
    expect(answer.result.preRestoreEncryption).toEqual({ mode: 'recipients', recipients: [recipient] });
    const pre = answer.result.preRestoreBackup!;
    const files: Array<{ path: string; encrypted?: boolean }> = JSON.parse(readFileSync(path.join(pre, 'manifest.json'), 'utf8')).aurora_backup.files;
    expect(files.map((f) => [f.path, f.encrypted])).toEqual([['databases/did_cache.sqlite.gz.age', true]]);
    const verified = await handlers.verifyBackup({ path: pre, deep: true, decryption: { identityPath } });
    expect(verified.problems).toEqual([]);
    expect(verified.files[0]!.detail).toContain('integrity_check ok');
  });

  // age derives each file's key from the passphrase with scrypt (2^18, about a second each when the machine
  // is idle, far more beside other test runs), so this restore takes one component, not all six files.
  it('with a passphrase from the keychain: backs up, restores with the remembered passphrase, refuses a wrong one', { timeout: 300_000 }, async () => {
    expect(await handlers.setEncryption({ mode: 'passphrase', passphrase: 'correct horse battery staple' })).toMatchObject({ ok: true });
    const backup = await backUp();
    expect(JSON.parse(readFileSync(path.join(backup.path, 'manifest.json'), 'utf8')).aurora_backup.encryption).toMatchObject({ mode: 'passphrase', recipients: [] });
    const target = path.join(dir, 'with-passphrase');
    const answer = await restoreInto(target, backup.path, { remembered: true }, { components: ['did_cache'], secrets: false });
    if (!answer.ok) throw new Error(answer.error);
    expect(answer.result.restored).toEqual(['did_cache']);
    expect(Object.keys(exactFiles(target))).toEqual(['did_cache.sqlite']);
    const wrong = await restoreInto(path.join(dir, 'wrong-passphrase'), backup.path, { passphrase: 'not the passphrase at all' }, { components: ['did_cache'], secrets: false });
    expect(wrong).toMatchObject({ ok: false, error: expect.stringMatching(/wrong passphrase.*Nothing was changed/) });
    expect(exactFiles(path.join(dir, 'wrong-passphrase'))).toEqual({});
  });
});
