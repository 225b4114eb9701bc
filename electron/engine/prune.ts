import { lstat, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { BACKUP_NAME_PATTERN, PRE_RESTORE_NAME_PATTERN } from '../../shared/components.js';

const isPrunable = (name: string) => BACKUP_NAME_PATTERN.test(name) || PRE_RESTORE_NAME_PATTERN.test(name);
import { listBackups } from './list.js';
import { selectBackupsToPrune } from './retention.js';

export interface PruneOptions {
  backupDir: string;
  retainDays: number;
  keepLast: number;
  now?: Date;
  /** Decide and report, remove nothing. */
  dryRun?: boolean;
}

export interface PruneResult {
  /** Folder names removed (or, in a dry run, that would be). */
  removed: string[];
  kept: string[];
  /** Folder name → why it was removed or kept. */
  reasons: Record<string, string>;
  /** Folders that were due but could not be removed (in use, permission denied), one sentence each. */
  failed: string[];
}

/** A folder being deleted is renamed to this first, so a crash never leaves a half-deleted `backup_…`. */
export const DELETING_PREFIX = '.deleting-';

/**
 * Applies retention (see selectBackupsToPrune) to the backups in `backupDir`. Does not take the backup
 * lock: callers that are not already inside a backup run take it (the CLI's prune command does).
 */
export async function pruneBackups(opts: PruneOptions): Promise<PruneResult> {
  const backupDir = path.resolve(opts.backupDir);
  const selection = selectBackupsToPrune(await listBackups(backupDir), opts, opts.now ?? new Date());
  const result: PruneResult = { removed: [], kept: selection.keep.map((b) => b.name), reasons: selection.reasons, failed: [] };
  if (opts.dryRun) return { ...result, removed: selection.remove.map((b) => b.name) };

  await finishInterruptedDeletions(backupDir);
  for (const backup of selection.remove) {
    try {
      if (await removeBackupFolder(backupDir, backup.name)) result.removed.push(backup.name);
    } catch (error) {
      // Keep going: one folder held open (Windows) or not permitted must not stop the others.
      result.failed.push(`Could not remove ${backup.path}: ${(error as Error).message}. Close programs using it, check permissions, and prune again.`);
    }
  }
  return result;
}

/** Renames, then deletes. Re-checks that it is still a real folder with a backup name, not a symlink. */
async function removeBackupFolder(backupDir: string, name: string): Promise<boolean> {
  if (!isPrunable(name)) return false;
  const folder = path.join(backupDir, name);
  const info = await lstat(folder).catch(() => null);
  if (!info?.isDirectory()) return false;
  const doomed = path.join(backupDir, `${DELETING_PREFIX}${name}`);
  await rename(folder, doomed);
  await rm(doomed, { recursive: true, force: true });
  return true;
}

/** Folders a crashed prune had renamed but not finished deleting. */
async function finishInterruptedDeletions(backupDir: string): Promise<void> {
  const entries = await readdir(backupDir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory() && entry.name.startsWith(DELETING_PREFIX) && isPrunable(entry.name.slice(DELETING_PREFIX.length))) {
      await rm(path.join(backupDir, entry.name), { recursive: true, force: true });
    }
  }
}
