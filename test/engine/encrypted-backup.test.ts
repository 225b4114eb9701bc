import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SECRETS_NOT_BACKED_UP } from '../../shared/encryption.js';
import { runBackup } from '../../electron/engine/backup.js';
import { generateKeyPair, IDENTITY_PREFIX, identityFileText } from '../../electron/engine/crypto/index.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { restoreBackup } from '../../electron/engine/restore.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { AGE, run } from '../helpers/age-cli.js';
import { digests } from '../helpers/restore-setup.js';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startWriter } from '../helpers/writer.js';
import { errorOf } from '../helpers/failure.js';
import { mistype } from '../helpers/typo.js';

const PDS_ENV = [
  'PDS_HOSTNAME=pds.example.com',
  'PDS_SERVICE_DID=did:web:pds.example.com',
  'PDS_JWT_SECRET=0123456789abcdef0123456789abcdef',
  'PDS_ADMIN_PASSWORD=hunter2-not-really',
  'PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX=aa'.padEnd(64 + 'PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX='.length, 'b'),
  '',
].join('\n');

const RESERVED_KEY = 'did:key:zQ3shreserved';

/** Every signing key and reserved key below an actor folder, by path, with its bytes and mode. */
function keysBelow(actorsDir: string): Record<string, { bytes: string; mode: number }> {
  const found = execFileSync('find', [actorsDir, '-type', 'f', '(', '-name', 'key', '-o', '-path', '*/reserved_keys/*', ')']).toString().trim().split('\n').filter(Boolean);
  return Object.fromEntries(found.map((f) => [path.relative(actorsDir, f), { bytes: readFileSync(f).toString('hex'), mode: statSync(f).mode & 0o777 }]));
}

interface Setup {
  dir: string;
  source: string;
  key: { identity: string; recipient: string; file: string };
}

/** A generated PDS with the official installer's pds.env in its data directory, and an age key pair. */
async function setup(label: string, accounts = 3): Promise<Setup> {
  const dir = makeTempDir(label);
  const source = path.join(dir, 'pds');
  await createFixture(source, { accounts, posts: 4, blobMB: 0.3, seed: label });
  await writeFile(path.join(source, 'pds.env'), PDS_ENV, { mode: 0o600 });
  // A key the PDS reserved for an account being created (createAccount's reserveSigningKey).
  await mkdir(path.join(source, 'actors', 'reserved_keys'), { recursive: true, mode: 0o700 });
  await writeFile(path.join(source, 'actors', 'reserved_keys', RESERVED_KEY), `reserved-key:${label}`, { mode: 0o600 });
  const pair = await generateKeyPair();
  const file = path.join(dir, 'key.txt');
  await writeFile(file, identityFileText(pair), { mode: 0o600 });
  return { dir, source, key: { ...pair, file } };
}

/** Decrypts every .age file of a backup with Debian's age into a plain copy of the folder's layout. */
async function decryptWithAgeCli(backupPath: string, keyFile: string, into: string): Promise<string[]> {
  const manifest = JSON.parse(readFileSync(path.join(backupPath, 'manifest.json'), 'utf8')) as { aurora_backup: { files: Array<{ path: string }> } };
  const plain: string[] = [];
  for (const { path: file } of manifest.aurora_backup.files) {
    const out = path.join(into, file.replace(/\.age$/, ''));
    execFileSync('mkdir', ['-p', path.dirname(out)]);
    await run(AGE, ['-d', '-i', keyFile, '-o', out, path.join(backupPath, file)]);
    plain.push(out);
  }
  return plain;
}

describe('encrypted backups (age, X25519 key)', () => {
  let s: Setup;
  let backupPath: string;
  let warnings: string[];
  beforeAll(async () => {
    s = await setup('enc-key');
    // A PDS writing all along: the snapshots must still be consistent once decrypted.
    const writer = await startWriter(s.source, 100);
    try {
      const result = await runBackup({ dataDir: s.source, backupDir: path.join(s.dir, 'backups'), encryption: { kind: 'recipients', recipients: [s.key.recipient] } });
      backupPath = result.path;
      warnings = result.warnings ?? [];
    } finally {
      await writer.stop();
    }
  }, 600_000);

  it('encrypts every file, records it in a plain manifest, and adds pds.env as the secrets component', async () => {
    const manifest = JSON.parse(await readFile(path.join(backupPath, 'manifest.json'), 'utf8'));
    const keyPaths = Object.keys(keysBelow(path.join(s.source, 'actors'))).map((k) => `actors/${k}`).sort();
    expect(keyPaths).toHaveLength(4); // three actors' keys and the reserved one
    expect(manifest.aurora_backup.encryption).toEqual({ format: 'age-encryption.org/v1', mode: 'recipients', recipients: [s.key.recipient], secrets: ['pds.env', ...keyPaths] });
    const files = manifest.aurora_backup.files as Array<{ path: string; component: string; encrypted: boolean; age_header_sha256: string }>;
    expect(files.map((f) => f.path).sort()).toEqual(
      ['actors.tar.gz.age', 'blobs.tar.gz.age', 'databases/account.sqlite.gz.age', 'databases/did_cache.sqlite.gz.age', 'databases/sequencer.sqlite.gz.age', 'secrets.tar.gz.age'],
    );
    expect(files.every((f) => f.encrypted)).toBe(true);
    // Each records the SHA-256 of its age header and nonce: the bytes before the payload.
    for (const f of files) {
      const bytes = await readFile(path.join(backupPath, f.path));
      const headerEnd = bytes.indexOf('\n', bytes.indexOf('\n---') + 1) + 1;
      expect(f.age_header_sha256, f.path).toBe(createHash('sha256').update(bytes.subarray(0, headerEnd + 16)).digest('hex'));
    }
    expect(files.find((f) => f.path === 'secrets.tar.gz.age')?.component).toBe('secrets');
    // Nothing secret reads through: not the env file, not a database page.
    for (const f of files) expect((await readFile(path.join(backupPath, f.path))).includes('hunter2')).toBe(false);
    expect(JSON.stringify(manifest)).not.toContain('AGE-SECRET-KEY');
    expect(warnings.join('\n')).not.toContain('Secrets not backed up');
  });

  it('every file decrypts with Debian\'s age CLI into what gunzip, tar and sqlite3 read', async () => {
    const plainDir = path.join(s.dir, 'by-age');
    const plain = await decryptWithAgeCli(backupPath, s.key.file, plainDir);
    for (const file of plain) {
      if (file.endsWith('.sqlite.gz')) {
        execFileSync('sh', ['-c', `gunzip -c "${file}" > "${file.slice(0, -3)}"`]);
        expect(execFileSync('sqlite3', [file.slice(0, -3), 'PRAGMA integrity_check;']).toString().trim()).toBe('ok');
      } else {
        expect(execFileSync('tar', ['-tzf', file]).toString().length).toBeGreaterThan(0);
      }
    }
    expect(execFileSync('sqlite3', [path.join(plainDir, 'databases/account.sqlite'), 'SELECT count(*) FROM account;']).toString().trim()).toBe('3');
    execFileSync('tar', ['-xzf', path.join(plainDir, 'secrets.tar.gz'), '-C', plainDir]);
    expect(readFileSync(path.join(plainDir, 'secrets/pds.env'), 'utf8')).toBe(PDS_ENV);
    // The secrets component holds every signing key and the reserved keys, byte for byte.
    const live = keysBelow(path.join(s.source, 'actors'));
    expect(keysBelow(path.join(plainDir, 'secrets/actors'))).toEqual(live);
    // The actor archive keeps them too, so it restores on its own (a restore of the actors only, or tar by hand).
    const inActors = execFileSync('tar', ['-tzf', path.join(plainDir, 'actors.tar.gz')]).toString().split('\n').filter((p) => p.endsWith('/key') || /reserved_keys\/./.test(p));
    expect(inActors.map((p) => p.replace(/^actors\//, '')).sort()).toEqual(Object.keys(live).sort());
  });

  it('verify: quick needs no key; deep refuses without one, names the wrong one, and passes with the right one', async () => {
    const quick = await verifyBackup(backupPath);
    expect(quick.ok).toBe(true);
    expect(quick.files.every((f) => f.detail === 'sha256 ok, age header ok')).toBe(true);

    const none = await errorOf(verifyBackup(backupPath, { deep: true }));
    expect(none.code).toBe('DECRYPT_NO_KEY');
    expect(none.message).toContain(`is encrypted to the age public key ${s.key.recipient}: give the matching identity file (AGE-SECRET-KEY-1…) with --identity FILE`);
    const other = await generateKeyPair();
    const wrong = await errorOf(verifyBackup(backupPath, { deep: true, decryption: { identities: [other.identity], source: '--identity other.txt' } }));
    expect(wrong.code).toBe('DECRYPT_WRONG_KEY');
    expect(wrong.message).toMatch(/the identity given \(--identity other\.txt\) is not one it was encrypted to \(wrong key\)\. The backup is encrypted to the age public key age1/);
    const passphrase = await errorOf(verifyBackup(backupPath, { deep: true, decryption: { identities: [], passphrase: 'guess' } }));
    expect(passphrase.code).toBe('DECRYPT_NO_KEY');
    expect(passphrase.message).toContain('is encrypted to age public keys, not with a passphrase');

    const deep = await verifyBackup(backupPath, { deep: true, decryption: { identities: [s.key.identity] } });
    expect(deep.problems).toEqual([]);
    expect(deep.files.find((f) => f.path === 'databases/account.sqlite.gz.age')?.detail).toBe('sha256 ok, age header ok, decompresses, integrity_check ok');
  });

  it('a restore with a wrong key or the wrong kind of secret changes nothing; with the key it restores onto a new machine', async () => {
    const other = await generateKeyPair();
    const target = path.join(s.dir, 'new-machine');
    const wrong = await errorOf(restoreBackup({ backupPath, dataDir: target, decryption: { identities: [other.identity] } }));
    expect(wrong.code).toBe('DECRYPT_WRONG_KEY');
    expect(existsSync(target)).toBe(false);
    const none = await errorOf(restoreBackup({ backupPath, dataDir: target }));
    expect(none.code).toBe('DECRYPT_NO_KEY');
    expect(existsSync(target)).toBe(false);

    const result = await restoreBackup({ backupPath, dataDir: target, decryption: { identities: [s.key.identity] } });
    expect(result.restored).toEqual(['account', 'sequencer', 'did_cache', 'blobs', 'actors']);
    // Every signing key and reserved key comes back with its bytes, mode 0600.
    const keys = keysBelow(path.join(target, 'actors'));
    expect(Object.keys(keys)).toHaveLength(4);
    expect(keys).toEqual(Object.fromEntries(Object.entries(keysBelow(path.join(s.source, 'actors'))).map(([k, v]) => [k, { ...v, mode: 0o600 }])));
    expect(execFileSync('sqlite3', [path.join(target, 'account.sqlite'), 'SELECT count(*) FROM account;']).toString().trim()).toBe('3');
    // The new machine gets the PDS's configuration back, private.
    expect(result.configRestored).toBe(path.join(target, 'pds.env'));
    expect(readFileSync(path.join(target, 'pds.env'), 'utf8')).toBe(PDS_ENV);
    expect(statSync(path.join(target, 'pds.env')).mode & 0o777).toBe(0o600);
  });

  it("a pds.env of another hostname or service DID is replaced only when asked; otherwise the restore is refused, naming the flags", async () => {
    const target = path.join(s.dir, 'other-server');
    const keys = { identities: [s.key.identity] };
    await restoreBackup({ backupPath, dataDir: target, decryption: keys });
    const theirs = PDS_ENV.replace('PDS_HOSTNAME=pds.example.com', 'PDS_HOSTNAME=new.example.net');
    await writeFile(path.join(target, 'pds.env'), theirs, { mode: 0o600 });
    const before = digests(target);

    const refused = await errorOf(restoreBackup({ backupPath, dataDir: target, decryption: keys, components: ['account'], secrets: true }));
    expect(refused.code).toBe('CONFIG_DIFFERS');
    expect(refused.message).toContain('(PDS_HOSTNAME new.example.net here, pds.example.com in the backup). Restore with --overwrite-config');
    expect(refused.message).toContain('--keep-config');
    expect(digests(target)).toEqual(before);
    expect(readFileSync(path.join(target, 'pds.env'), 'utf8')).toBe(theirs);

    const asked: string[] = [];
    const kept = await restoreBackup({ backupPath, dataDir: target, decryption: keys, chooseConfig: async (d) => (asked.push(d.target), 'keep') });
    expect(asked).toEqual([path.join(target, 'pds.env')]);
    expect(kept.configRestored).toBeNull();
    expect(readFileSync(path.join(target, 'pds.env'), 'utf8')).toBe(theirs);

    const replaced = await restoreBackup({ backupPath, dataDir: target, decryption: keys, configChoice: 'overwrite' });
    expect(replaced.configRestored).toBe(path.join(target, 'pds.env'));
    expect(readFileSync(path.join(target, 'pds.env'), 'utf8')).toBe(PDS_ENV);
    expect(readFileSync(path.join(target, 'pds.env.before-restore'), 'utf8')).toBe(theirs);

    // The CLI without a terminal: refused with the flags named, unless one is given.
    await writeFile(path.join(target, 'pds.env'), theirs, { mode: 0o600 });
    const cli = await runCli(['restore', backupPath, '--data', target, '--identity', s.key.file, '--force']);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('Restore with --overwrite-config to replace it');
    const forced = await runCli(['restore', backupPath, '--data', target, '--identity', s.key.file, '--force', '--overwrite-config']);
    expect(forced.stdout).toContain(`The PDS's configuration is back in ${path.join(target, 'pds.env')} (mode 0600).`);
    expect(forced.code).toBe(0);
    // The plan to confirm names the configuration beside the data it replaces (without a terminal, only the plan is shown).
    const planned = await runCli(['restore', backupPath, '--data', target, '--identity', s.key.file]);
    expect(planned.code).toBe(2);
    expect(planned.stdout).toContain(`  → ${path.join(target, 'pds.env')}, mode 0600 (asked first if it belongs to another PDS)\n`);
    expect(planned.stdout).toMatch(/\n {2}secrets +\S+ \S+ {2}→ /);
  }, 600_000);

  it('a restore killed while reading the secrets leaves no copy of them in the temporary folder, and changes nothing', async () => {
    const target = path.join(s.dir, 'killed-target');
    await mkdir(target);
    const tmp = path.join(s.dir, 'killed-tmp');
    await mkdir(tmp);
    const killed = await runCli(['restore', backupPath, '--data', target, '--identity', s.key.file, '--force'], { env: { TMPDIR: tmp, AURORA_FAULT_AT: 'restore:secrets-read' } });
    expect(killed.signal).toBe('SIGKILL');
    expect(readdirSync(target)).toEqual([]);
    // Whatever else the CLI keeps there (tsx's cache), no file holds the configuration or a signing key.
    const keys = Object.values(keysBelow(path.join(s.source, 'actors'))).map((k) => Buffer.from(k.bytes, 'hex'));
    const files = readdirSync(tmp, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    const leaks = files.filter((e) => {
      const bytes = readFileSync(path.join(e.parentPath, e.name));
      return bytes.includes('PDS_JWT_SECRET') || keys.some((key) => bytes.equals(key));
    });
    expect(leaks.map((e) => path.relative(tmp, path.join(e.parentPath, e.name)))).toEqual([]);
  }, 600_000);
});

describe('encrypted backups: round trips and damage', () => {
  it('a key pair and a passphrase both give back exactly the data; a partial restore works too', async () => {
    const s = await setup('enc-round', 2);
    const byKey = await runBackup({ dataDir: s.source, backupDir: path.join(s.dir, 'a'), encryption: { kind: 'recipients', recipients: [s.key.recipient] } });
    const byPass = await runBackup({ dataDir: s.source, backupDir: path.join(s.dir, 'b'), encryption: { kind: 'passphrase', passphrase: 'correct horse battery staple' } });
    expect(byPass.manifest.aurora_backup.encryption).toMatchObject({ mode: 'passphrase', recipients: [] });

    const fromKey = path.join(s.dir, 'from-key');
    await restoreBackup({ backupPath: byKey.path, dataDir: fromKey, decryption: { identities: [s.key.identity] } });
    expect(digests(fromKey)).toEqual(digests(s.source));
    const fromPass = path.join(s.dir, 'from-pass');
    const wrong = await errorOf(restoreBackup({ backupPath: byPass.path, dataDir: fromPass, decryption: { identities: [], passphrase: 'wrong horse' } }));
    expect(wrong).toMatchObject({ code: 'DECRYPT_WRONG_KEY' });
    expect(wrong.message).toMatch(/wrong passphrase/);
    const keyForPass = await errorOf(restoreBackup({ backupPath: byPass.path, dataDir: fromPass, decryption: { identities: [s.key.identity] } }));
    expect(keyForPass.message).toContain('is encrypted with a passphrase, not to a key: give the passphrase with --passphrase-file FILE');
    expect(existsSync(fromPass)).toBe(false);
    await restoreBackup({ backupPath: byPass.path, dataDir: fromPass, decryption: { identities: [], passphrase: 'correct horse battery staple' } });
    expect(digests(fromPass)).toEqual(digests(s.source));

    const partial = path.join(s.dir, 'partial');
    const only = await restoreBackup({ backupPath: byKey.path, dataDir: partial, components: ['account', 'blobs'], decryption: { identities: [s.key.identity] } });
    expect(only.restored).toEqual(['account', 'blobs']);
    expect(digests(partial)).toMatchObject({ account: digests(s.source).account, blobs: digests(s.source).blobs, actors: 'absent' });
  }, 600_000); // a passphrase costs an scrypt per file, each a few seconds on a busy machine

  it('a bit flipped in any .age file is refused by verify --deep and by restore, which changes nothing', async () => {
    const s = await setup('enc-flip', 2);
    const backup = await runBackup({ dataDir: s.source, backupDir: path.join(s.dir, 'backups'), encryption: { kind: 'recipients', recipients: [s.key.recipient] } });
    const keys = { identities: [s.key.identity] };
    const target = path.join(s.dir, 'live');
    await restoreBackup({ backupPath: backup.path, dataDir: target, decryption: keys });
    const before = digests(target);
    for (const file of backup.manifest.aurora_backup.files) {
      const full = path.join(backup.path, file.path);
      const original = await readFile(full);
      const flipped = Buffer.from(original);
      flipped[flipped.length - 20]! ^= 0x04; // in the payload: only the last chunk's tag can tell
      await writeFile(full, flipped);
      try {
        const report = await verifyBackup(backup.path, { deep: true, decryption: keys });
        expect(report.ok, file.path).toBe(false);
        expect(report.problems.join('\n')).toContain(`${file.path}: SHA-256 does not match manifest.json`);
        expect(report.problems.filter((p) => /decryption failed|\.\.$/.test(p)), file.path).toEqual([expect.stringMatching(/: decryption failed: .* does not authenticate: it was changed or cut short\. Its contents cannot be trusted and were not used\.$/)]);
        const refused = await errorOf(restoreBackup({ backupPath: backup.path, dataDir: target, decryption: keys, components: file.component === 'secrets' ? undefined : [file.component] }));
        expect(refused.code, file.path).toBe('VERIFY_FAILED');
        expect(digests(target)).toEqual(before);
      } finally {
        await writeFile(full, original);
      }
    }
  }, 600_000);
});

describe('an age file put in place of one of a backup', () => {
  it("is refused by restore and verify --deep when it decrypts with the backup's key and is the same size, whether or not the manifest records its header digest", async () => {
    const s = await setup('enc-swap', 2);
    // Stored without compression, so that a changed database encrypts to a file of the very same size.
    const backup = await runBackup({ dataDir: s.source, backupDir: path.join(s.dir, 'backups'), compression: 'none', encryption: { kind: 'recipients', recipients: [s.key.recipient] } });
    const keys = { identities: [s.key.identity] };
    const entry = backup.manifest.aurora_backup.files.find((f) => f.component === 'account')!;
    const stored = path.join(backup.path, entry.path);
    const original = await readFile(stored);

    // Someone holding the public key (every server backed up has it) makes an account database of their own.
    const plain = path.join(s.dir, 'account.sqlite');
    await run(AGE, ['-d', '-i', s.key.file, '-o', plain, stored]);
    execFileSync('sqlite3', [plain, "UPDATE account SET passwordScrypt = substr('attacker:' || passwordScrypt, 1, length(passwordScrypt));"]);
    await run(AGE, ['-e', '-r', s.key.recipient, '-o', `${stored}.theirs`, plain]);
    const theirs = await readFile(`${stored}.theirs`);
    expect(theirs.length).toBe(original.length);
    await writeFile(stored, theirs);

    const manifestPath = path.join(backup.path, 'manifest.json');
    const manifest = await readFile(manifestPath, 'utf8');
    const withoutDigests = JSON.parse(manifest);
    for (const f of withoutDigests.aurora_backup.files) delete f.age_header_sha256; // as versions before it wrote them
    for (const [label, text] of [['header digest', manifest], ['no header digest', JSON.stringify(withoutDigests, null, 2)]]) {
      await writeFile(manifestPath, text!);
      const target = path.join(s.dir, `restored-${label!.replaceAll(' ', '-')}`);
      const refused = await errorOf(restoreBackup({ backupPath: backup.path, dataDir: target, decryption: keys }));
      expect(refused.code, label).toBe('VERIFY_FAILED');
      expect(refused.message).toContain(`${entry.path}: SHA-256 does not match manifest.json`);
      expect(existsSync(target), label).toBe(false);
      const report = await verifyBackup(backup.path, { deep: true, decryption: keys });
      expect(report.problems.join('\n'), label).toContain(`${entry.path}: SHA-256 does not match manifest.json`);
      // A quick verify checks the header digest too, without a key: what restore relies on is what verify checks.
      const quick = await verifyBackup(backup.path);
      expect(quick.problems.some((p) => p.startsWith(`${entry.path}: its age header does not match manifest.json`)), label).toBe(label === 'header digest');
    }

    await writeFile(manifestPath, manifest);
    await writeFile(stored, original);
    const target = path.join(s.dir, 'restored');
    await restoreBackup({ backupPath: backup.path, dataDir: target, decryption: keys });
    expect(digests(target)).toEqual(digests(s.source));

    // A digest edited in manifest.json: verify and restore agree that the file is not the one recorded.
    const edited = JSON.parse(manifest);
    edited.aurora_backup.files.find((f: { component: string }) => f.component === 'account').age_header_sha256 = '0'.repeat(64);
    await writeFile(manifestPath, JSON.stringify(edited, null, 2));
    expect((await verifyBackup(backup.path)).problems).toEqual([`${entry.path}: its age header does not match manifest.json (the file was replaced, or its header damaged, after the backup).`]);
    expect(await errorOf(restoreBackup({ backupPath: backup.path, dataDir: path.join(s.dir, 'refused'), decryption: keys }))).toMatchObject({ code: 'DECRYPT_DAMAGED', message: expect.stringContaining(`${entry.path} is damaged: its header and nonce are not the ones manifest.json records`) });
    expect(existsSync(path.join(s.dir, 'refused'))).toBe(false);
    // …and a plain file cannot carry one.
    const plainBackup = await runBackup({ dataDir: s.source, backupDir: path.join(s.dir, 'plain') });
    const plainManifest = JSON.parse(await readFile(path.join(plainBackup.path, 'manifest.json'), 'utf8'));
    plainManifest.aurora_backup.files[0].age_header_sha256 = '0'.repeat(64);
    await writeFile(path.join(plainBackup.path, 'manifest.json'), JSON.stringify(plainManifest));
    expect((await errorOf(verifyBackup(plainBackup.path))).message).toContain('is not an age file, so it has no age header to record');
  }, 600_000);
});

describe('aurora-backup backup/verify with encryption', () => {
  it('--encrypt-to takes a key file, BACKUP_ENCRYPTION_RECIPIENTS a key; verify --deep --identity checks it; a plain backup says once that secrets are left out', async () => {
    const s = await setup('enc-cli', 1);
    const out = path.join(s.dir, 'backups');
    const byFlag = await runCli(['backup', '--data', s.source, '--out', out, '--encrypt-to', s.key.file, '--no-prune', '--no-copy']);
    expect(byFlag.stderr + byFlag.stdout).toContain(`Encrypted (age) to ${s.key.recipient}; with the PDS's configuration (pds.env) and 2 signing keys`); // one actor's, one reserved
    expect(byFlag.code).toBe(0);
    // Given the identity file, the backup works but says the server needs only the public key.
    expect(byFlag.stdout).toContain(`Warning: ${s.key.file} holds the secret key (AGE-SECRET-KEY-1…) as well as the public key. Backing up needs only the public key (age1…)`);
    const name = /Backup complete: (\S+)/.exec(byFlag.stdout)![1]!;
    const deep = await runCli(['verify', name, '--deep', '--identity', s.key.file]);
    expect(deep.stdout).toContain('Backup is good.');
    expect(deep.code).toBe(0);
    const noKey = await runCli(['verify', name, '--deep']);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('give the matching identity file (AGE-SECRET-KEY-1…) with --identity FILE');

    const byEnv = await runCli(['backup', '--data', s.source, '--out', out, '--no-prune', '--no-copy', '--json'], { env: { BACKUP_ENCRYPTION_RECIPIENTS: s.key.recipient } });
    expect(byEnv.code).toBe(0);
    expect(JSON.parse(byEnv.stdout).manifest.aurora_backup.encryption.recipients).toEqual([s.key.recipient]);
    expect(JSON.parse(byEnv.stdout).warnings.join('\n')).not.toContain('secret key');

    const both = await runCli(['backup', '--data', s.source, '--out', out, '--encrypt-to', s.key.recipient, '--passphrase-file', s.key.file]);
    expect(both.code).toBe(2);
    const typo = await runCli(['backup', '--data', s.source, '--out', out, '--encrypt-to', mistype(s.key.recipient)]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/Cannot encrypt: age1.* is not a valid age public key/);
    const blank = await runCli(['backup', '--data', s.source, '--out', out, '--encrypt-to', ' ']);
    expect(blank.code).toBe(1);
    expect(blank.stderr).toContain('Encryption was asked for, but no age public key (age1…) was given.');
    expect(blank.stdout).not.toMatch(/databases/i); // refused before the run starts
    // The secret key given by mistake, on the command line or in the environment: refused, and never printed.
    for (const [args, env] of [[['--encrypt-to', s.key.identity], {}], [[], { BACKUP_ENCRYPTION_RECIPIENTS: s.key.identity }]] as const) {
      const secret = await runCli(['backup', '--data', s.source, '--out', out, '--json', ...args], { env });
      expect(secret.code).toBe(1);
      expect(secret.stderr + secret.stdout).toContain('given where the public key belongs');
      expect(secret.stderr + secret.stdout).not.toContain(s.key.identity.slice(IDENTITY_PREFIX.length, IDENTITY_PREFIX.length + 8));
    }

    const plain = await runCli(['backup', '--data', s.source, '--out', path.join(s.dir, 'plain'), '--no-prune', '--no-copy']);
    expect(plain.code).toBe(0);
    expect(plain.stdout.split(SECRETS_NOT_BACKED_UP).length - 1).toBe(1);
    const plainName = /Backup complete: (\S+)/.exec(plain.stdout)![1]!;
    expect(existsSync(path.join(plainName, 'secrets.tar.gz'))).toBe(false);

    // list says what a restore of each needs.
    expect((await runCli(['list', '--out', out])).stdout).toMatch(new RegExp(`${path.basename(name)} .* age key +complete`));
    expect((await runCli(['list', '--out', path.join(s.dir, 'plain')])).stdout).toMatch(new RegExp(`${path.basename(plainName)} .* - +complete`));
  }, 600_000);
});
