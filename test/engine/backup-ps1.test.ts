import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFixture } from '../../electron/engine/fixture.js';
import { inspectBackup } from '../../electron/engine/inspect.js';
import { listBackups } from '../../electron/engine/list.js';
import { restoreBackup } from '../../electron/engine/restore.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { treeDigest, databaseDigest } from '../helpers/digest.js';
import { makePs1Backup, replaceAll } from '../helpers/ps1-backup.js';
import { makeTempDir } from '../helpers/tmp.js';

describe('backups made by the original backup.ps1 (zip)', () => {
  for (const backslashes of [false, true]) {
    it(`are listed, verified quick and deep, and restored whole (${backslashes ? '\\' : '/'} separators)`, async () => {
      const root = makeTempDir('ps1');
      const dataDir = path.join(root, 'data');
      await createFixture(dataDir, { accounts: 3, posts: 5, blobMB: 1, seed: 'ps1' });
      const backupDir = path.join(root, 'backups');
      const folder = makePs1Backup(dataDir, backupDir, { backslashes });
      if (backslashes) expect(readFileSync(path.join(folder, 'actors.zip')).includes(Buffer.from('actors\\'))).toBe(true);

      const [listed] = await listBackups(backupDir);
      expect(listed).toMatchObject({ name: 'backup_20250322_143022', status: 'complete', legacy: true, compression: 'zip' });
      // The app's restore view says "stored with zip": its archives are deflated, not stored uncompressed.
      expect(await inspectBackup(folder)).toMatchObject({ ok: true, compression: 'zip' });

      for (const deep of [false, true]) {
        const report = await verifyBackup(folder, { deep });
        expect(report.problems).toEqual([]);
        expect(report.notice).toMatch(/made by the original backup\.ps1: its databases are plain copies of the live files, made without SQLite's help/);
        expect(report.files.map((f) => f.path).sort()).toEqual(['actors.zip', 'blobs.zip', 'databases/account.sqlite.zip', 'databases/did_cache.sqlite.zip', 'databases/sequencer.sqlite.zip']);
        expect(report.files.find((f) => f.path === 'actors.zip')?.detail).toMatch(/3 databases pass integrity_check/);
      }

      const target = path.join(root, 'restored');
      const result = await restoreBackup({ backupPath: folder, dataDir: target, backupDir: path.join(root, 'pre'), env: {}, cwd: root });
      expect(result.warnings.join('\n')).toMatch(/plain copies of the live files, made without SQLite's help/);
      expect(treeDigest(path.join(target, 'blobs'))).toBe(treeDigest(path.join(dataDir, 'blobs')));
      expect(treeDigest(path.join(target, 'actors'))).toBe(treeDigest(path.join(dataDir, 'actors')));
      for (const db of ['account', 'sequencer', 'did_cache']) expect(databaseDigest(path.join(target, `${db}.sqlite`))).toBe(databaseDigest(path.join(dataDir, `${db}.sqlite`)));
    });
  }

  it('refuses an entry that climbs out of its folder, and a damaged entry, as it would a tar', async () => {
    const root = makeTempDir('ps1');
    const dataDir = path.join(root, 'data');
    await createFixture(dataDir, { accounts: 2, posts: 2, blobMB: 1, seed: 'ps1-hostile' });
    const folder = makePs1Backup(dataDir, path.join(root, 'backups'));
    const blobsZip = path.join(folder, 'blobs.zip');
    const did = readdirSync(path.join(dataDir, 'blobs'))[0]!;
    const name = `blobs/${did}/`;
    writeFileSync(blobsZip, replaceAll(readFileSync(blobsZip), Buffer.from(name), Buffer.from(`../${'x'.repeat(name.length - 4)}/`)));

    const report = await verifyBackup(folder, { deep: true });
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/^blobs\.zip: .*(\.\.|invalid relative path)/m);
    const target = path.join(root, 'restored');
    await expect(restoreBackup({ backupPath: folder, dataDir: target, backupDir: path.join(root, 'pre'), env: {}, cwd: root })).rejects.toThrow(/Refused .*blobs\.zip/);
    expect(readdirSync(root).sort()).toEqual(['backups', 'data']);

    // A flipped byte inside the account database's zip: its CRC-32 no longer matches.
    const accountZip = path.join(folder, 'databases', 'account.sqlite.zip');
    const bytes = readFileSync(accountZip);
    bytes[200] = bytes[200]! ^ 0xff;
    writeFileSync(accountZip, bytes);
    const damaged = await verifyBackup(folder, { deep: true });
    expect(damaged.problems.find((p) => p.startsWith('databases/account.sqlite.zip:'))).toBeDefined();
  });
});
