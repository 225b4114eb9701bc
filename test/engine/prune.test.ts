import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFixture } from '../../electron/engine/fixture.js';
import { listBackups } from '../../electron/engine/list.js';
import { pruneBackups } from '../../electron/engine/prune.js';
import { makeLegacyBackup } from '../helpers/legacy-backup.js';
import { makeManifestBackup } from '../helpers/manifest-backup.js';

let root: string;
let dataDir: string;
let template: string;
let backupDir: string;
let run = 0;
const at = (day: number) => new Date(2025, 5, day, 2, 0, 0);
const NOW = new Date(2025, 5, 30, 12, 0, 0);

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'prune-test-'));
  dataDir = path.join(root, 'data');
  await createFixture(dataDir, { accounts: 1, posts: 2, blobMB: 0.1, seed: 'prune' });
  // Backups 29, 20, 10, 5 and 1 days old (before NOW); the 10-day-old one made by the original script.
  template = path.join(root, 'template');
  for (const day of [1, 10, 25, 29]) makeManifestBackup(dataDir, template, { at: at(day) });
  makeLegacyBackup(dataDir, template, { at: at(20) });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeEach(() => {
  backupDir = path.join(root, `backups-${++run}`);
  cpSync(template, backupDir, { recursive: true });
});

/** Real backup folders left (not the symlinks or files with backup-like names some tests add). */
const backupNames = () =>
  readdirSync(backupDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^backup_\d{8}_\d{6}$/.test(e.name))
    .map((e) => e.name)
    .sort();

describe('pruneBackups', () => {
  it('removes backups older than retain-days and keeps the rest', async () => {
    const result = await pruneBackups({ backupDir, retainDays: 7, keepLast: 2, now: NOW });
    expect(result.removed.sort()).toEqual(['backup_20250601_020000', 'backup_20250610_020000', 'backup_20250620_020000']);
    expect(backupNames()).toEqual(['backup_20250625_020000', 'backup_20250629_020000']);
    expect(result.reasons.backup_20250620_020000).toBe('10 days old, older than the 7-day retention');
    expect(readdirSync(backupDir).filter((n) => n.startsWith('.deleting-'))).toEqual([]);
  });

  it('never goes below keep-last complete backups, and never removes the newest complete one', async () => {
    // Make the two newest unusable: the floor must reach back to older complete backups.
    rmSync(path.join(backupDir, 'backup_20250629_020000', 'manifest.json'));
    unlinkSync(path.join(backupDir, 'backup_20250625_020000', 'blobs.tar.gz'));
    const result = await pruneBackups({ backupDir, retainDays: 0, keepLast: 2, now: NOW });
    expect(backupNames()).toEqual(['backup_20250610_020000', 'backup_20250620_020000']);
    expect(result.kept.sort()).toEqual(['backup_20250610_020000', 'backup_20250620_020000']);
    expect(result.reasons.backup_20250620_020000).toBe('newest complete backup (10 days old)');
  });

  it('never touches anything that is not one of our backup folders', async () => {
    const outside = path.join(root, `outside-${run}`);
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'precious.txt'), 'keep me');
    symlinkSync(outside, path.join(backupDir, 'backup_20200101_000000')); // looks like an old backup, is a symlink
    mkdirSync(path.join(backupDir, 'pre-restore_20200101_000000'));
    mkdirSync(path.join(backupDir, 'photos'));
    writeFileSync(path.join(backupDir, 'backup_20200101_000001'), 'a file, not a folder');
    mkdirSync(path.join(backupDir, '.incomplete-backup_20200101_000000'));

    await pruneBackups({ backupDir, retainDays: 1, keepLast: 1, now: NOW });
    expect(existsSync(path.join(outside, 'precious.txt'))).toBe(true);
    for (const name of ['backup_20200101_000000', 'pre-restore_20200101_000000', 'photos', 'backup_20200101_000001', '.incomplete-backup_20200101_000000', 'backup_20250601_020000.log']) {
      expect(readdirSync(backupDir)).toContain(name);
    }
    expect(backupNames()).toEqual(['backup_20250629_020000']);
  });

  it('a dry run reports and removes nothing', async () => {
    const before = readdirSync(backupDir).sort();
    const result = await pruneBackups({ backupDir, retainDays: 7, keepLast: 1, now: NOW, dryRun: true });
    expect(result.removed).toHaveLength(3);
    expect(readdirSync(backupDir).sort()).toEqual(before);
  });

  it('finishes a deletion a crash interrupted, and list never shows it as a backup', async () => {
    const leftover = path.join(backupDir, '.deleting-backup_20250501_020000');
    mkdirSync(path.join(leftover, 'databases'), { recursive: true });
    writeFileSync(path.join(leftover, 'blobs.tar.gz'), 'half');
    expect((await listBackups(backupDir)).map((b) => b.name)).not.toContain('.deleting-backup_20250501_020000');
    await pruneBackups({ backupDir, retainDays: 30, keepLast: 1, now: NOW });
    expect(existsSync(leftover)).toBe(false);
    expect(backupNames()).toHaveLength(5);
  });
});
