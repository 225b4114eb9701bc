import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { listBackups } from '../../electron/engine/list.js';
import { makeLegacyBackup } from '../helpers/legacy-backup.js';
import { makeManifestBackup } from '../helpers/manifest-backup.js';

let root: string;
let dataDir: string;
let backupDir: string;
const at = (day: number) => new Date(2025, 5, day, 2, 0, 0);

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'list-test-'));
  dataDir = path.join(root, 'data');
  backupDir = path.join(root, 'backups');
  await createFixture(dataDir, { accounts: 2, posts: 3, blobMB: 0.2, seed: 'list' });

  makeManifestBackup(dataDir, backupDir, { at: at(20), env: { PDS_VERSION: '0.3.0' } }); // complete
  const legacy = makeLegacyBackup(dataDir, backupDir, { at: at(19), env: { PDS_VERSION: '0.2.0' } }); // complete, legacy
  writeFileSync(path.join(legacy, 'restore_20250625_100000.log'), 'log'); // the original restore.sh logs here
  unlinkSync(path.join(makeManifestBackup(dataDir, backupDir, { at: at(18) }), 'actors.tar.gz')); // incomplete
  const cut = makeManifestBackup(dataDir, backupDir, { at: at(17) });
  truncateSync(path.join(cut, 'blobs.tar.gz'), 10); // corrupt
  writeFileSync(path.join(makeManifestBackup(dataDir, backupDir, { at: at(16) }), 'manifest.json'), '{ nope'); // corrupt
  mkdirSync(path.join(backupDir, 'backup_20250615_020000', 'databases'), { recursive: true }); // no manifest: incomplete
  cpSync(cut, path.join(backupDir, '.incomplete-backup_20250621_020000'), { recursive: true }); // unfinished run

  mkdirSync(path.join(backupDir, 'pre-restore_20250610_020000')); // no manifest: incomplete, listed as a pre-restore backup
  // Things that are not backups and must not appear.
  writeFileSync(path.join(backupDir, 'notes.txt'), 'hello');
  mkdirSync(path.join(backupDir, 'photos'));
  mkdirSync(path.join(backupDir, '.deleting-backup_20250601_020000'));
  symlinkSync(cut, path.join(backupDir, 'backup_20250630_020000'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('listBackups', () => {
  it('lists every backup folder, ours and legacy, newest first, with status', async () => {
    const list = await listBackups(backupDir);
    expect(list.map((b) => [b.name, b.status])).toEqual([
      ['.incomplete-backup_20250621_020000', 'incomplete'],
      ['backup_20250620_020000', 'complete'],
      ['backup_20250619_020000', 'complete'],
      ['backup_20250618_020000', 'incomplete'],
      ['backup_20250617_020000', 'corrupt'],
      ['backup_20250616_020000', 'corrupt'],
      ['backup_20250615_020000', 'incomplete'],
      ['pre-restore_20250610_020000', 'incomplete'],
    ]);
    expect(list.map((b) => b.kind)).toEqual([...Array(7).fill('backup'), 'pre-restore']);
    // The legacy log files beside the folders, symlinks and other folders are left out.
    expect(readdirSync(backupDir)).toContain('backup_20250620_020000.log');
  });

  it('gives time, size, pds_version and the reason for each status', async () => {
    const byName = Object.fromEntries((await listBackups(backupDir)).map((b) => [b.name, b]));
    const ours = byName.backup_20250620_020000!;
    expect(ours).toMatchObject({ legacy: false, pdsVersion: '0.3.0', compression: 'gzip', durationMs: 1234, createdAt: at(20).toISOString() });
    const folder = path.join(backupDir, 'backup_20250620_020000');
    const expectedSize = readdirSync(folder, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .reduce((sum, e) => sum + statSync(path.join(e.parentPath, e.name)).size, 0);
    expect(ours.size).toBe(expectedSize);

    expect(byName.backup_20250619_020000).toMatchObject({ legacy: true, pdsVersion: '0.2.0', durationMs: null, createdAt: at(19).toISOString() });
    expect(byName.backup_20250618_020000!.statusDetail).toBe('missing: actors.tar.gz');
    expect(byName.backup_20250617_020000!.statusDetail).toMatch(/^blobs\.tar\.gz is 10 bytes, manifest\.json records \d+$/);
    expect(byName.backup_20250616_020000!.statusDetail).toMatch(/manifest\.json is not valid JSON/);
    expect(byName.backup_20250615_020000!.statusDetail).toMatch(/has no manifest\.json/);
    expect(byName.backup_20250615_020000!.createdAt).toBe(at(15).toISOString());
  });

  it('returns an empty list for a backup directory that does not exist yet', async () => {
    expect(await listBackups(path.join(root, 'nothing-here'))).toEqual([]);
  });
});

describe('listBackups while a backup is being written', () => {
  it('lists the unfinished run as incomplete instead of failing on files that come and go', async () => {
    const liveRoot = mkdtempSync(path.join(os.tmpdir(), 'list-live-'));
    try {
      const liveData = path.join(liveRoot, 'data');
      const liveBackups = path.join(liveRoot, 'backups');
      await createFixture(liveData, { accounts: 40, posts: 5, blobMB: 4, seed: 'live' });
      let finished = false;
      const running = runBackup({ dataDir: liveData, backupDir: liveBackups, env: {} }).finally(() => (finished = true));
      const seen = new Set<string>();
      const failures: string[] = [];
      while (!finished) {
        try {
          for (const backup of await listBackups(liveBackups)) seen.add(backup.status);
        } catch (error) {
          failures.push((error as Error).message);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const result = await running;
      expect(failures).toEqual([]);
      expect(seen).toContain('incomplete');
      expect((await listBackups(liveBackups)).map((b) => [b.name, b.status])).toEqual([[result.name, 'complete']]);
    } finally {
      rmSync(liveRoot, { recursive: true, force: true });
    }
  });
});
