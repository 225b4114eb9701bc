import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Component } from '../../shared/components.js';
import { runBackup } from '../../electron/engine/backup.js';
import { findParent } from '../../electron/engine/chain.js';
import { generateKeyPair, identityFileText, type EncryptionKeys } from '../../electron/engine/crypto/index.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { listBackups } from '../../electron/engine/list.js';
import { restoreBackup } from '../../electron/engine/restore.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { AGE, run } from '../helpers/age-cli.js';
import { addAccount, addBlob, ageFiles, manifestOf, writeToActors } from '../helpers/chain-changes.js';
import { copyDir, digests } from '../helpers/restore-setup.js';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { errorOf } from '../helpers/failure.js';

const PDS_ENV = 'PDS_HOSTNAME=pds.example.com\nPDS_SERVICE_DID=did:web:pds.example.com\nPDS_JWT_SECRET=0123456789abcdef0123456789abcdef\n';

interface Step {
  name: string;
  path: string;
  expected: Record<Component, string>;
}

describe('a chain of encrypted incremental backups (age, X25519 key)', () => {
  let root: string;
  let dataDir: string;
  let backupDir: string;
  let keyFile: string;
  let identity: string;
  let encryption: EncryptionKeys;
  const steps: Step[] = [];
  const backup = async () => {
    const expected = digests(dataDir);
    const result = await runBackup({ dataDir, backupDir, kind: 'auto', encryption });
    steps.push({ name: result.name, path: result.path, expected });
    return result;
  };

  beforeAll(async () => {
    root = makeTempDir('aurora-enc-incremental');
    dataDir = path.join(root, 'data');
    backupDir = path.join(root, 'backups');
    const dids = (await createFixture(dataDir, { accounts: 4, posts: 6, blobMB: 1, seed: 'enc-chain' })).dids;
    writeFileSync(path.join(dataDir, 'pds.env'), PDS_ENV, { mode: 0o600 });
    ageFiles(dataDir);
    const pair = await generateKeyPair();
    identity = pair.identity;
    keyFile = path.join(root, 'key.txt');
    writeFileSync(keyFile, identityFileText(pair), { mode: 0o600 });
    encryption = { kind: 'recipients', recipients: [pair.recipient] };
    writeFileSync(path.join(root, 'recipient.txt'), `${pair.recipient}\n`);

    expect((await backup()).manifest.aurora_backup.kind).toBe('full');
    addBlob(dataDir);
    writeToActors(dataDir, [dids[0]!]);
    await backup();
    await addAccount(dataDir, root, 'newcomer');
    await backup();
    writeToActors(dataDir, [dids[2]!, dids[3]!]);
    addBlob(dataDir);
    await backup();
    // Nothing changed since (once the files written last are settled): a backup of only its manifest and
    // the (encrypted) configuration.
    ageFiles(dataDir);
    await backup();
    await backup();
  }, 300_000);

  it('the backups after the first are incremental, encrypted like their chain, and store only what changed', () => {
    const full = manifestOf(steps[0]!.path);
    for (const step of steps.slice(1)) {
      const manifest = manifestOf(step.path);
      expect(manifest.aurora_backup.kind, step.name).toBe('incremental');
      expect(manifest.aurora_backup.base).toBe(steps[0]!.name);
      expect(manifest.aurora_backup.encryption).toMatchObject({ mode: 'recipients', recipients: encryption.kind === 'recipients' ? encryption.recipients : [] });
      const chainFiles = manifest.aurora_backup.contents!.holders.flatMap((h) => h.files);
      expect(chainFiles.every((f) => f.encrypted === true && f.path.endsWith('.age'))).toBe(true);
    }
    const second = manifestOf(steps[1]!.path);
    expect(second.aurora_backup.contents!.blobs.filter((b) => b[1] === 0)).toHaveLength(1);
    expect(second.aurora_backup.total_size).toBeLessThan(full.aurora_backup.total_size * 0.3);
    const idle = manifestOf(steps.at(-1)!.path);
    expect(idle.aurora_backup.files.map((f) => f.path)).toEqual(['secrets.tar.gz.age']);
  });

  it('restoring each backup with the identity gives exactly the data at its snapshot', async () => {
    for (const [i, step] of steps.entries()) {
      const target = path.join(root, `restored-${i}`);
      const result = await restoreBackup({ backupPath: step.path, dataDir: target, decryption: { identities: [identity] } });
      expect(result.restored).toEqual(['account', 'sequencer', 'did_cache', 'blobs', 'actors']);
      expect(digests(target), `restore of ${step.name} (step ${i})`).toEqual(step.expected);
      expect(readFileSync(path.join(target, 'pds.env'), 'utf8')).toBe(PDS_ENV);
    }
  }, 300_000);

  it("every .age file of an incremental backup decrypts with Debian's age into what gunzip and tar read", async () => {
    const plainDir = path.join(root, 'by-age');
    let decrypted = 0;
    for (const step of steps.slice(1)) {
      for (const file of manifestOf(step.path).aurora_backup.files) {
        const out = path.join(plainDir, step.name, file.path.replace(/\.age$/, ''));
        mkdirSync(path.dirname(out), { recursive: true });
        await run(AGE, ['-d', '-i', keyFile, '-o', out, path.join(step.path, file.path)]);
        if (out.endsWith('.tar.gz')) expect(execFileSync('tar', ['-tzf', out]).toString().trim().split('\n').length).toBeGreaterThan(0);
        else execFileSync('gzip', ['-t', out]);
        decrypted++;
      }
    }
    expect(decrypted).toBeGreaterThanOrEqual(8);
    // The new account's actor store is in the third backup's actors archive.
    const listing = execFileSync('tar', ['-tzf', path.join(plainDir, steps[2]!.name, 'actors.tar.gz')]).toString();
    expect(listing).toMatch(/store\.sqlite/);
  }, 120_000);

  it('verify: quick needs no key for the chain; deep decrypts the chain with the identity and refuses a wrong one', async () => {
    const newest = steps.at(-2)!.path;
    const quick = await verifyBackup(newest);
    expect(quick.problems).toEqual([]);
    expect(quick.files.map((f) => f.path)).toEqual(expect.arrayContaining([`../${steps[0]!.name}/blobs.tar.gz.age`]));
    const deep = await verifyBackup(newest, { deep: true, decryption: { identities: [identity] } });
    expect(deep.problems).toEqual([]);
    expect(deep.ok).toBe(true);
    const other = (await generateKeyPair()).identity;
    const wrong = await errorOf(verifyBackup(steps.at(-1)!.path, { deep: true, decryption: { identities: [other] } }));
    expect(wrong.code).toBe('DECRYPT_WRONG_KEY');
    expect(wrong.message).toContain(steps.at(-1)!.name);
    const none = await errorOf(verifyBackup(newest, { deep: true }));
    expect(none.code).toBe('DECRYPT_NO_KEY');
  }, 120_000);

  it("a wrong key is refused naming the chain's file, before anything is written, even when the backup stores no data itself", async () => {
    const other = (await generateKeyPair()).identity;
    const target = path.join(root, 'wrong-key');
    // The idle backup holds only its configuration: the chain's files are what the key must open.
    const refused = await errorOf(restoreBackup({ backupPath: steps.at(-1)!.path, dataDir: target, components: ['account', 'blobs', 'actors'], decryption: { identities: [other] } }));
    expect(refused.code).toBe('DECRYPT_WRONG_KEY');
    expect(refused.message).toMatch(/backup_\d{8}_\d{6}\/(databases\/\w+\.sqlite|blobs\.tar|actors\.tar)\.gz\.age: .*wrong key.*Nothing was changed/);
    expect(refused.message).not.toContain(steps.at(-1)!.name);
    expect(existsSync(target)).toBe(false);
    const none = await errorOf(restoreBackup({ backupPath: steps.at(-1)!.path, dataDir: target, components: ['account'] }));
    expect(none).toMatchObject({ code: 'DECRYPT_NO_KEY', message: expect.stringContaining('--identity FILE') });
    expect(existsSync(target)).toBe(false);
  }, 60_000);

  it("a flipped byte in a base's .age file is refused on restoring a later backup, naming the file; a missing base too", async () => {
    const copy = copyDir(backupDir, path.join(root, 'flipped'));
    const base = path.join(copy, steps[0]!.name, 'blobs.tar.gz.age');
    const bytes = readFileSync(base);
    bytes[bytes.length - 20]! ^= 0x04; // in the payload: only the last chunk's tag can tell
    writeFileSync(base, bytes);
    const target = path.join(root, 'flip-target');
    const refused = await errorOf(restoreBackup({ backupPath: path.join(copy, steps[3]!.name), dataDir: target, decryption: { identities: [identity] } }));
    expect(refused.code).toBe('VERIFY_FAILED');
    expect(refused.message).toContain(`../${steps[0]!.name}/blobs.tar.gz.age: SHA-256 does not match`);
    expect(existsSync(path.join(target, 'account.sqlite'))).toBe(false);
    expect(existsSync(path.join(target, 'blobs'))).toBe(false);
    const report = await verifyBackup(path.join(copy, steps[3]!.name));
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toContain(`../${steps[0]!.name}/blobs.tar.gz.age`);

    renameSync(path.join(copy, steps[0]!.name), path.join(root, 'moved-away'));
    const missing = await errorOf(restoreBackup({ backupPath: path.join(copy, steps[2]!.name), dataDir: target, decryption: { identities: [identity] } }));
    expect(missing.code).toBe('CHAIN_INCOMPLETE');
    expect(missing.message).toContain(`${steps[0]!.name} is missing`);
    expect(existsSync(target)).toBe(false);
  }, 120_000);

  it('a manifest edited to call a file of the chain plain is refused before anything is read', async () => {
    const copy = copyDir(backupDir, path.join(root, 'edited'));
    const newest = path.join(copy, steps.at(-1)!.name);
    const manifest = manifestOf(newest);
    const holder = manifest.aurora_backup.contents!.holders[1]!;
    holder.files[0] = { ...holder.files[0]!, path: holder.files[0]!.path.replace(/\.age$/, ''), encrypted: false };
    writeFileSync(path.join(newest, 'manifest.json'), JSON.stringify(manifest));
    const refused = await errorOf(verifyBackup(newest));
    expect(refused.message).toContain(`${holder.name}/${holder.files[0]!.path} must be an encrypted .age file like every file this backup reads`);
  });

  it('other keys, or encryption turned off or on, make a full backup that says why; list marks the chain encrypted', async () => {
    const other = await generateKeyPair();
    const copy = copyDir(backupDir, path.join(root, 'rekeyed'));
    const rekeyed = await runBackup({ dataDir, backupDir: copy, kind: 'auto', encryption: { kind: 'recipients', recipients: [other.recipient] } });
    expect(rekeyed.manifest.aurora_backup.kind).toBe('full');
    expect(rekeyed.warnings!.join('\n')).toMatch(/This backup is full, not incremental: the newest backup, backup_\S+, is encrypted to other age public keys/);

    const plain = await runBackup({ dataDir, backupDir: copyDir(backupDir, path.join(root, 'plain-after')), kind: 'auto', encryption: null });
    expect(plain.manifest.aurora_backup.kind).toBe('full');
    expect(plain.warnings!.join('\n')).toMatch(/This backup is full, not incremental: the newest backup, \S+, is encrypted and this backup is not/);

    const plainDir = path.join(root, 'plain-first');
    await runBackup({ dataDir, backupDir: plainDir, kind: 'auto', encryption: null });
    // Turned on from the command line: the CLI prints why this backup is full.
    const encrypted = await runCli(['backup', '--data', dataDir, '--out', plainDir, '--encrypt-to', keyFile.replace(/key\.txt$/, 'recipient.txt'), '--no-prune', '--no-copy']);
    expect(encrypted.code).toBe(0);
    expect(encrypted.stdout).toMatch(/Warning: This backup is full, not incremental: the newest backup, \S+, is not encrypted and this backup is/);
    const newest = readdirSync(plainDir).filter((n) => n.startsWith('backup_')).sort().at(-1)!;
    expect(manifestOf(path.join(plainDir, newest)).aurora_backup).toMatchObject({ kind: 'full', encryption: { mode: 'recipients' } });

    const listed = await listBackups(backupDir);
    expect(listed.every((b) => b.encrypted && b.status === 'complete')).toBe(true);
    expect(listed.filter((b) => b.backupKind === 'incremental')).toHaveLength(steps.length - 1);
  }, 300_000);
});

describe('a chain of encrypted incremental backups with a passphrase', () => {
  // Each age file's key comes from the passphrase through scrypt (about a second each on an idle machine).
  it('restores the incremental backup through its chain with the passphrase; another passphrase makes a full backup', { timeout: 600_000 }, async () => {
    const root = makeTempDir('aurora-enc-incremental-pass');
    const dataDir = path.join(root, 'data');
    const backupDir = path.join(root, 'backups');
    const dids = (await createFixture(dataDir, { accounts: 2, posts: 4, blobMB: 0.3, seed: 'enc-pass' })).dids;
    ageFiles(dataDir);
    const passphrase = 'correct horse battery staple';
    const encryption = { kind: 'passphrase' as const, passphrase };
    const full = await runBackup({ dataDir, backupDir, kind: 'auto', encryption });
    const first = digests(dataDir);
    addBlob(dataDir);
    writeToActors(dataDir, [dids[1]!]);
    const second = digests(dataDir);
    const incremental = await runBackup({ dataDir, backupDir, kind: 'auto', encryption });
    expect(incremental.manifest.aurora_backup).toMatchObject({ kind: 'incremental', base: full.name, encryption: { mode: 'passphrase', recipients: [] } });

    const target = path.join(root, 'restored');
    const wrong = await errorOf(restoreBackup({ backupPath: incremental.path, dataDir: target, decryption: { identities: [], passphrase: 'wrong horse' } }));
    expect(wrong).toMatchObject({ code: 'DECRYPT_WRONG_KEY', message: expect.stringMatching(/wrong passphrase/) });
    expect(existsSync(target)).toBe(false);
    await restoreBackup({ backupPath: incremental.path, dataDir: target, decryption: { identities: [], passphrase } });
    expect(digests(target)).toEqual(second);
    expect(digests(target)).not.toEqual(first);

    // Another passphrase: the next backup would be full, and says why (asked of the choice alone, to spare a full backup's scrypts).
    expect(await findParent(backupDir, dataDir, { kind: 'passphrase', passphrase: 'another passphrase entirely' })).toMatchObject({
      parent: null,
      reason: `the newest backup, ${incremental.name}, is encrypted with another passphrase than this backup`,
      settingsChanged: true,
    });
    expect(await findParent(backupDir, dataDir, encryption)).toMatchObject({ parent: { name: incremental.name, base: full.name } });
  });
});
