import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, renameSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createFixture } from '../../electron/engine/fixture.js';
import { makeLegacyBackup } from '../helpers/legacy-backup.js';
import { collect, ROOT, runCli, startCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';

describe('verify on a damaged backup made by backup.sh', () => {
  it('ends with exit 1 when actors.tar.gz is cut short, instead of hanging on the file it was unpacking', async () => {
    const root = makeTempDir('damaged');
    const dataDir = path.join(root, 'data');
    await createFixture(dataDir, { accounts: 3, posts: 5, blobMB: 1, seed: 'truncated' });
    const backup = makeLegacyBackup(dataDir, path.join(root, 'backups'));
    const archive = path.join(backup, 'actors.tar.gz');
    truncateSync(archive, Math.floor(statSync(archive).size / 2));

    for (const args of [['verify', backup], ['verify', backup, '--deep']]) {
      const run = await runCli(args); // a hang fails the test by its timeout
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('actors.tar.gz: truncated gzip stream (unexpected end of file).');
      expect(run.stdout).toMatch(/Backup has 1 problem:/);
    }
  });

  it('names only the cut when actors.tar.gz ends inside a store, not the whole store before it that was still being checked', async () => {
    const root = makeTempDir('cut-after-store');
    const dataDir = path.join(root, 'data');
    await createFixture(dataDir, { accounts: 2, posts: 2, blobMB: 0, seed: 'cut-after-store' });
    const stores = readdirSync(path.join(dataDir, 'actors'), { recursive: true })
      .map(String)
      .filter((p) => p.endsWith('store.sqlite'))
      .sort();
    const [whole, cut] = stores.map((p) => path.join('actors', path.dirname(p))) as [string, string];
    // A whole store big enough that it is still being written out for its check when the archive's end is found.
    const big = new Database(path.join(dataDir, whole, 'store.sqlite'));
    big.exec('CREATE TABLE padding (bytes BLOB)');
    const insert = big.prepare('INSERT INTO padding VALUES (?)');
    for (let i = 0; i < 48; i++) insert.run(randomBytes(512 * 1024));
    big.pragma('wal_checkpoint(TRUNCATE)');
    big.close();
    const backup = makeLegacyBackup(dataDir, path.join(root, 'backups'));

    // The same archive with the whole store first, cut 1 KiB into the next store's bytes.
    const tar = path.join(root, 'actors.tar');
    execFileSync('tar', ['-cf', tar, '-C', dataDir, '--no-recursion', 'actors', whole, path.join(whole, 'store.sqlite'), cut, path.join(cut, 'store.sqlite')]);
    const listing = execFileSync('tar', ['-tvR', '-f', tar], { encoding: 'utf8' });
    const block = Number(/^block (\d+): .*store\.sqlite$/m.exec(listing.split('\n').filter((l) => l.endsWith(path.join(cut, 'store.sqlite'))).join('\n'))![1]);
    truncateSync(tar, (block + 1) * 512 + 1024);
    execFileSync('gzip', ['-6', tar]);
    renameSync(`${tar}.gz`, path.join(backup, 'actors.tar.gz'));

    const run = await runCli(['verify', backup, '--deep']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/Backup has 1 problem:\n {2}- actors\.tar\.gz: /);
    expect(run.stdout).not.toContain('cannot be checked');
  });
});

describe('a backup user who may read the data directory but not write to it', () => {
  it('is told that SQLite needs write access to the folder for the -shm, not that the file is unreadable', async () => {
    const root = makeTempDir('readonly');
    chmodSync(root, 0o755);
    chmodSync(path.dirname(root), 0o711); // the test run's own temporary folder: the other user must pass through it
    const dataDir = path.join(root, 'data');
    await createFixture(dataDir, { accounts: 1, posts: 1, blobMB: 0, seed: 'readonly' });
    const out = path.join(root, 'out');
    mkdirSync(out, { mode: 0o777 });
    chmodSync(out, 0o777);
    chmodSync(dataDir, 0o555); // readable and listable, not writable: SQLite cannot create account.sqlite-shm
    try {
      const asOtherUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
      const run = await collect(startCli(['backup', '--data', dataDir, '--out', out], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: '/tmp' }, ...asOtherUser }));
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(
        `The file is readable, but SQLite must create or update account.sqlite-shm beside a database in WAL mode, even only to read it: give this user write access to the folder ${dataDir}`,
      );
      expect(run.stderr).not.toContain('Check that the file is readable');
    } finally {
      chmodSync(dataDir, 0o755);
    }
  });
});
