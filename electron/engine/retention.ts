import type { BackupSummary } from '../../shared/api.js';
import { BACKUP_NAME_PATTERN, INCOMPLETE_BACKUP_PREFIX, PRE_RESTORE_NAME_PATTERN } from '../../shared/components.js';
import { countOf } from '../../shared/format.js';
import { EngineError } from './errors.js';

export interface RetentionPolicy {
  /** Backups more than this many days (× 24 h) old are removed, as BACKUP_RETAIN_DAYS in the guide. */
  retainDays: number;
  /** Floor: the newest this-many complete backups are always kept, whatever their age (at least 1). */
  keepLast: number;
}

export interface PruneSelection {
  remove: BackupSummary[];
  keep: BackupSummary[];
  /** Folder name → why it is removed or kept, in words. */
  reasons: Record<string, string>;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Pre-restore backups always kept, newest first, whatever their age: the undo of the latest restores. */
export const PRE_RESTORE_KEEP_LAST = 3;

export function assertRetentionPolicy(policy: RetentionPolicy): void {
  if (!Number.isInteger(policy.retainDays) || policy.retainDays < 0) {
    throw new EngineError(`Retain days must be a whole number of days (0 or more), not ${policy.retainDays}.`, 'BAD_SETTING');
  }
  if (!Number.isInteger(policy.keepLast) || policy.keepLast < 1) {
    throw new EngineError(`Keep-last must be a whole number, 1 or more (the newest complete backup is always kept), not ${policy.keepLast}.`, 'BAD_SETTING');
  }
}

/**
 * Decides which backups retention removes. Only finished backup folders (`backup_YYYYMMDD_HHMMSS`,
 * ours or the original script's) can be removed, and only when older than `retainDays`. Never removed:
 * the newest `keepLast` complete backups (so never the newest complete one), leftovers of unfinished
 * runs (a backup may be writing them now; the backup command cleans them under its lock), anything
 * with another name.
 */
export function selectBackupsToPrune(backups: BackupSummary[], policy: RetentionPolicy, now: Date): PruneSelection {
  assertRetentionPolicy(policy);
  const finished = (b: BackupSummary) => BACKUP_NAME_PATTERN.test(b.name);
  const newestComplete = backups
    .filter((b) => finished(b) && b.status === 'complete')
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.name.localeCompare(a.name))
    .slice(0, policy.keepLast)
    .map((b) => b.name);
  const cutoff = now.getTime() - policy.retainDays * DAY_MS;
  const newestPreRestores = backups
    .filter((b) => PRE_RESTORE_NAME_PATTERN.test(b.name))
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.name.localeCompare(a.name))
    .slice(0, PRE_RESTORE_KEEP_LAST)
    .map((b) => b.name);

  const selection: PruneSelection = { remove: [], keep: [], reasons: {} };
  const decide = (backup: BackupSummary, remove: boolean, reason: string) => {
    (remove ? selection.remove : selection.keep).push(backup);
    selection.reasons[backup.name] = reason;
  };
  for (const backup of backups) {
    const created = Date.parse(backup.createdAt);
    const days = Math.floor((now.getTime() - created) / DAY_MS);
    const age = `${countOf(days, 'day')} old`;
    const rank = newestComplete.indexOf(backup.name);
    if (PRE_RESTORE_NAME_PATTERN.test(backup.name)) {
      // Their own rule: the undo of a restore is never the only copy of what it replaced, so the newest are kept.
      if (newestPreRestores.includes(backup.name)) decide(backup, false, `one of the ${PRE_RESTORE_KEEP_LAST} newest pre-restore backups (${age})`);
      else if (Number.isNaN(created) || created >= cutoff) decide(backup, false, `pre-restore backup, ${age}, within the ${policy.retainDays}-day retention`);
      else decide(backup, true, `pre-restore backup, ${age}, older than the ${policy.retainDays}-day retention and not one of the ${PRE_RESTORE_KEEP_LAST} newest`);
    } else if (!finished(backup)) {
      decide(backup, false, backup.name.startsWith(INCOMPLETE_BACKUP_PREFIX)
        ? 'unfinished backup: left for the next backup run to clean up (it may be running now)'
        : 'not a backup folder');
    } else if (rank === 0) {
      decide(backup, false, `newest complete backup (${age})`);
    } else if (rank > 0) {
      decide(backup, false, `one of the ${policy.keepLast} newest complete backups (keep-last ${policy.keepLast}; ${age})`);
    } else if (Number.isNaN(created) || created >= cutoff) {
      decide(backup, false, `${age}, within the ${policy.retainDays}-day retention`);
    } else {
      decide(backup, true, `${age}, older than the ${policy.retainDays}-day retention${backup.status === 'complete' ? '' : ` (${backup.status})`}`);
    }
  }
  keepWhatKeptBackupsNeed(selection);
  return selection;
}

/**
 * An incremental backup is restored from its chain: a backup that one being kept needs is kept too (and
 * so is what that one needs), whatever its age.
 */
function keepWhatKeptBackupsNeed(selection: PruneSelection): void {
  for (let moved = true; moved; ) {
    moved = false;
    for (const kept of selection.keep) {
      for (const needed of kept.needs ?? []) {
        const index = selection.remove.findIndex((b) => b.name === needed);
        if (index < 0) continue;
        const [backup] = selection.remove.splice(index, 1);
        selection.keep.push(backup!);
        selection.reasons[needed] = `needed by ${kept.name}, an incremental backup that is kept (it is restored from ${needed})`;
        moved = true;
      }
    }
  }
}
