import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Component } from '../../shared/components.js';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { listBackups } from '../../electron/engine/list.js';
import { pruneBackups } from '../../electron/engine/prune.js';
import { restoreBackup } from '../../electron/engine/restore.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { addAccount, addBlob, ageFiles, deleteAccount, manifestOf, writeToActors } from '../helpers/chain-changes.js';
import { copyDir, digests, startWriter } from '../helpers/restore-setup.js';
import { makeTempDir } from '../helpers/tmp.js';

interface Step {
  name: string;
  path: string;
  /** The data directory's content when the backup was taken (null when a writer ran during it). */
  expected: Record<Component, string> | null;
}

describe('a chain of incremental backups', () => {
  let root: string;
  let dataDir: string;
  let backupDir: string;
  let dids: string[];
  const steps: Step[] = [];
  const backup = async (kind: 'full' | 'incremental', expected: boolean) => {
    const before = expected ? digests(dataDir) : null;
    const result = await runBackup({ dataDir, backupDir, kind });
    steps.push({ name: result.name, path: result.path, expected: before });
    return result;
  };

  beforeAll(async () => {
    root = makeTempDir('aurora-incremental');
    dataDir = path.join(root, 'data');
    backupDir = path.join(root, 'backups');
    dids = (await createFixture(dataDir, { accounts: 5, posts: 8, blobMB: 1.5, seed: 'chain' })).dids;
    ageFiles(dataDir);

    const full = await backup('full', true);
    expect(full.manifest.aurora_backup.kind).toBe('full');

    addBlob(dataDir);
    writeToActors(dataDir, [dids[0]!]);
    await backup('incremental', true);

    await addAccount(dataDir, root, 'newcomer');
    await backup('incremental', true);

    deleteAccount(dataDir, dids[1]!);
    writeToActors(dataDir, [dids[2]!, dids[3]!]);
    addBlob(dataDir);
    await backup('incremental', true);

    // A PDS writing all through the backup: whatever it snapshots is what it stands for; the next backup,
    // made after the writer stopped, must catch every write the first one did not see.
    const writer = await startWriter(dataDir, 150);
    try {
      await backup('incremental', false);
    } finally {
      await writer.stop();
    }
    await backup('incremental', true);

    // Nothing changed at all (once the files written last are settled).
    ageFiles(dataDir);
    await backup('incremental', true);
    await backup('incremental', true);
  }, 120_000);

  it('stores only what changed: one new blob and the changed stores, not the rest', () => {
    const full = manifestOf(steps[0]!.path);
    const second = manifestOf(steps[1]!.path);
    expect(second.aurora_backup.kind).toBe('incremental');
    expect(second.aurora_backup.format_version).toBe(2);
    expect(second.aurora_backup.base).toBe(steps[0]!.name);
    const own = second.aurora_backup.contents!.blobs.filter((b) => b[1] === 0);
    expect(own).toHaveLength(1);
    const ownActors = second.aurora_backup.contents!.actors.filter((a) => a[1] === 0);
    expect(ownActors.map((a) => a[0])).toEqual([expect.stringContaining(dids[0]!.replaceAll(':', '_'))]);
    // It stands for every blob and actor store of the data directory.
    expect(second.aurora_backup.contents!.blobs).toHaveLength(full.aurora_backup.contents!.blobs.length + 1);
    expect(second.aurora_backup.counts.actors).toBe(full.aurora_backup.counts.actors);
    expect(second.aurora_backup.total_size).toBeLessThan(full.aurora_backup.total_size * 0.2);
    // Nothing changed: nothing stored but the manifest.
    const last = manifestOf(steps.at(-1)!.path);
    expect(last.aurora_backup.files).toEqual([]);
    expect(readdirSync(steps.at(-1)!.path)).toEqual(['manifest.json']);
  });

  it('restores every backup of the chain to exactly the data at its snapshot', async () => {
    for (const [i, step] of steps.entries()) {
      const target = path.join(root, `restored-${i}`);
      const result = await restoreBackup({ backupPath: step.path, dataDir: target, backupDir: path.join(root, 'pre-restore') });
      expect(result.restored).toEqual(['account', 'sequencer', 'did_cache', 'blobs', 'actors']);
      if (step.expected) expect(digests(target), `restore of ${step.name} (step ${i})`).toEqual(step.expected);
    }
    // The backup taken under the writer holds, for what it stored, its own snapshots; the rest is as the step before.
    expect(digests(path.join(root, 'restored-4')).did_cache).toEqual(steps[3]!.expected!.did_cache);
    expect(await verifyBackup(steps[4]!.path, { deep: true })).toMatchObject({ ok: true });
  }, 120_000);

  it('verifies the newest backup deeply through its chain', async () => {
    const report = await verifyBackup(steps.at(-2)!.path, { deep: true });
    expect(report.problems).toEqual([]);
    expect(report.files.map((f) => f.path)).toEqual(expect.arrayContaining([`../${steps[0]!.name}/blobs.tar.gz`]));
  }, 60_000);

  it('lists kind, own size and the size each backup stands for', async () => {
    const listed = await listBackups(backupDir);
    const full = listed.find((b) => b.name === steps[0]!.name)!;
    const second = listed.find((b) => b.name === steps[1]!.name)!;
    expect(full).toMatchObject({ backupKind: 'full', status: 'complete' });
    expect(second).toMatchObject({ backupKind: 'incremental', status: 'complete', base: steps[0]!.name });
    expect(second.standsForSize).toBeGreaterThan(full.size * 0.9);
    expect(second.size).toBeLessThan(full.size * 0.2);
  });

  it('refuses a bit-flip in the base when restoring a later backup, naming the damaged file', async () => {
    const copy = copyDir(backupDir, path.join(root, 'flipped'));
    const base = path.join(copy, steps[0]!.name, 'actors.tar.gz');
    const bytes = readFileSync(base);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(base, bytes);
    const target = path.join(root, 'flip-target');
    await expect(restoreBackup({ backupPath: path.join(copy, steps[3]!.name), dataDir: target })).rejects.toThrow(
      new RegExp(`${steps[0]!.name}/actors\\.tar\\.gz: SHA-256 does not match`),
    );
    expect(existsSync(path.join(target, 'account.sqlite'))).toBe(false);
    const report = await verifyBackup(path.join(copy, steps[3]!.name));
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toContain(`../${steps[0]!.name}/actors.tar.gz`);
  }, 60_000);

  it('detects a base deleted by hand: list, verify and restore name it, and the next backup is full', async () => {
    const copy = copyDir(backupDir, path.join(root, 'no-base'));
    renameSync(path.join(copy, steps[0]!.name), path.join(root, 'moved-away'));
    const listed = await listBackups(copy);
    const later = listed.find((b) => b.name === steps[2]!.name)!;
    expect(later.status).toBe('incomplete');
    expect(later.statusDetail).toContain(`${steps[0]!.name} is missing`);
    const report = await verifyBackup(path.join(copy, steps[2]!.name));
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toContain(`${steps[0]!.name} is missing`);
    await expect(restoreBackup({ backupPath: path.join(copy, steps[2]!.name), dataDir: path.join(root, 'no-base-target') })).rejects.toThrow(
      new RegExp(`needs ${steps[0]!.name}.*${steps[0]!.name} is missing`),
    );
    const next = await runBackup({ dataDir, backupDir: copy, kind: 'auto' });
    expect(next.manifest.aurora_backup.kind).toBe('full');
    expect(statSync(path.join(next.path, 'blobs.tar.gz')).size).toBeGreaterThan(1_000_000);
    const forced = await runBackup({ dataDir, backupDir: path.join(root, 'empty-backups'), kind: 'incremental' });
    expect(forced.manifest.aurora_backup.kind).toBe('full');
    expect(forced.warnings!.join('\n')).toMatch(/This backup is full, not incremental: there is no earlier backup/);
  }, 60_000);

  it('prune keeps every backup a kept incremental backup needs, however old, and the kept ones still restore', async () => {
    const copy = copyDir(backupDir, path.join(root, 'pruned'));
    const newest = manifestOf(path.join(copy, steps.at(-1)!.name));
    const needed = newest.aurora_backup.contents!.holders.map((h) => h.name);
    expect(needed).toContain(steps[0]!.name);
    // Two months later, keeping only the newest: everything else is past the retention.
    const result = await pruneBackups({ backupDir: copy, retainDays: 30, keepLast: 1, now: new Date(Date.now() + 60 * 86_400_000) });
    const left = readdirSync(copy).filter((n) => n.startsWith('backup_')).sort();
    expect(left).toEqual([...new Set([...needed, steps.at(-1)!.name])].sort());
    expect(result.removed.length).toBe(steps.length - left.length);
    expect(result.reasons[steps[0]!.name]).toMatch(/needed by .*an incremental backup that is kept/);
    const target = path.join(root, 'after-prune');
    await restoreBackup({ backupPath: path.join(copy, steps.at(-1)!.name), dataDir: target });
    expect(digests(target)).toEqual(steps.at(-1)!.expected);
    // With the base gone too, the next backup starts a new chain: full.
    expect((await listBackups(copy)).every((b) => b.status === 'complete')).toBe(true);
  }, 60_000);
});
