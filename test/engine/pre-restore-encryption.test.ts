import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../electron/engine/backup.js';
import { generateKeyPair, identityFileText } from '../../electron/engine/crypto/index.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { restoreBackup } from '../../electron/engine/restore.js';
import { AGE, run } from '../helpers/age-cli.js';
import { manifestOf } from '../helpers/chain-changes.js';
import { digests } from '../helpers/restore-setup.js';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { mistype } from '../helpers/typo.js';

/**
 * The backup a restore makes of the data it replaces holds the same signing keys and accounts as any
 * backup: when backups are encrypted, it is encrypted to the same keys.
 */
describe('the pre-restore backup is encrypted as backups are', () => {
  let dir: string;
  let source: string;
  let backupDir: string;
  let plainBackup: string;
  let pair: { identity: string; recipient: string };
  let keyFile: string;
  beforeAll(async () => {
    dir = makeTempDir('pre-restore-enc');
    source = path.join(dir, 'pds');
    backupDir = path.join(dir, 'backups');
    await createFixture(source, { accounts: 2, posts: 2, blobMB: 0.1, seed: 'pre-restore-enc' });
    pair = await generateKeyPair();
    keyFile = path.join(dir, 'key.txt');
    await writeFile(keyFile, identityFileText(pair), { mode: 0o600 });
    plainBackup = (await runBackup({ dataDir: source, backupDir, encryption: null, env: {} })).path;
  }, 300_000);


  it('with BACKUP_ENCRYPTION_RECIPIENTS, the CLI encrypts it and says so; every file is .age and decrypts with age into the data it replaced', async () => {
    const before = digests(source);
    const cli = await runCli(['restore', plainBackup, '--data', source, '--out', backupDir, '--force'], { env: { BACKUP_ENCRYPTION_RECIPIENTS: pair.recipient } });
    expect(cli.code, cli.stderr).toBe(0);
    // The phases in words (stderr is not a terminal: one line each), the pre-restore backup among them.
    expect(cli.stderr).toBe('Restore: unpacking\nRestore: checking the restored data\nRestore: saving the current data first\nRestore: putting the restored data in place\nRestore: done\n');
    const said = /The data it replaced is in (\S+), encrypted \(age\) to (age1\S+)\./.exec(cli.stdout);
    expect(said, cli.stdout).not.toBeNull();
    const [, preRestore, recipient] = said!;
    expect(recipient).toBe(pair.recipient);

    const manifest = manifestOf(preRestore!);
    expect(manifest.aurora_backup.encryption).toMatchObject({ mode: 'recipients', recipients: [pair.recipient] });
    const files = manifest.aurora_backup.files;
    expect(files.map((f) => f.path).sort()).toEqual(['actors.tar.gz.age', 'blobs.tar.gz.age', 'databases/account.sqlite.gz.age', 'databases/did_cache.sqlite.gz.age', 'databases/sequencer.sqlite.gz.age']);
    expect(files.every((f) => f.encrypted === true)).toBe(true);
    // Nothing readable beside the manifest.
    expect(readdirSync(preRestore!, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !e.name.endsWith('.age')).map((e) => e.name)).toEqual(['manifest.json']);

    const plain = path.join(dir, 'decrypted');
    for (const file of files) {
      const out = path.join(plain, file.path.replace(/\.age$/, ''));
      execFileSync('mkdir', ['-p', path.dirname(out)]);
      await run(AGE, ['-d', '-i', keyFile, '-o', out, path.join(preRestore!, file.path)]);
    }
    execFileSync('gunzip', [path.join(plain, 'databases/account.sqlite.gz')]);
    expect(execFileSync('sqlite3', [path.join(plain, 'databases/account.sqlite'), 'SELECT count(*) FROM account;']).toString().trim()).toBe('2');
    const keys = execFileSync('tar', ['-tzf', path.join(plain, 'actors.tar.gz')]).toString().split('\n').filter((p) => p.endsWith('/key'));
    expect(keys).toHaveLength(2);
    // And it is a whole backup of what was there: restoring it with the identity gives the same data back.
    const undone = path.join(dir, 'undone');
    await restoreBackup({ backupPath: preRestore!, dataDir: undone, env: {}, decryption: { identities: [pair.identity] } });
    expect(digests(undone)).toEqual(before);
  }, 300_000);

  it('keys given to the restore win; without any it stays plain and says so; a mistyped key refuses the restore before anything changes', async () => {
    const byOption = await restoreBackup({ backupPath: plainBackup, dataDir: source, backupDir, env: {}, preRestoreEncryption: { kind: 'recipients', recipients: [keyFile] } });
    expect(byOption.preRestoreEncryption).toEqual({ mode: 'recipients', recipients: [pair.recipient] });
    expect(manifestOf(byOption.preRestoreBackup!).aurora_backup.files.every((f) => f.path.endsWith('.age'))).toBe(true);

    const plainRun = await runCli(['restore', plainBackup, '--data', source, '--out', backupDir, '--force'], { env: {} });
    expect(plainRun.code).toBe(0);
    expect(plainRun.stdout).toMatch(/The data it replaced is in \S+, not encrypted \(no age public key is set: give --encrypt-to or set BACKUP_ENCRYPTION_RECIPIENTS to encrypt it\)\./);

    const before = digests(source);
    const typo = await runCli(['restore', plainBackup, '--data', source, '--out', backupDir, '--force', '--encrypt-to', mistype(pair.recipient)], { env: {} });
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/Cannot encrypt: age1.* is not a valid age public key/);
    expect(digests(source)).toEqual(before);
  }, 300_000);
});
