import type { AppStatus } from '../../shared/api.js';
import type { Settings } from '../../shared/settings.js';
import { formatBytes } from '../../shared/format.js';
import { formatAge } from './format.js';
import type { Notice } from './platform.js';

export type NotificationPrefs = Settings['notifications'];

/** What has been announced, so each condition is announced once until it changes. */
export interface PolicyMemory {
  /** The failure reason last announced; cleared by a successful backup. */
  failure: string | null;
  /** The backup whose age was announced as stale; cleared when a backup is fresh again. */
  stale: string | null;
  lowSpace: boolean;
  /** The successful run last announced. */
  success: string | null;
  /** Per off-site target: the failed copy last announced (backup and reason); cleared by a copy that works. */
  offsiteFailure: Record<string, string>;
  /** Per off-site target: the newest copy announced as out of date; cleared when a newer copy arrives. */
  offsiteStale: Record<string, string>;
}

/** Start of the app: an old success is not news; failures, staleness and low space are. */
export function initialMemory(status: AppStatus): PolicyMemory {
  return { failure: null, stale: null, lowSpace: false, success: status.lastRun?.result === 'success' ? status.lastRun.id : null, offsiteFailure: {}, offsiteStale: {} };
}

/** Space must rise this much above the threshold before a new low-space warning, so hovering around it stays quiet. */
const LOW_SPACE_HYSTERESIS = 1.1;

/**
 * Which notifications a status calls for, given what was already shown. Pure; the controller calls it on
 * every status change and periodically.
 */
export function decideNotifications(
  memory: PolicyMemory,
  status: AppStatus,
  prefs: NotificationPrefs,
  now: Date,
): { notices: Notice[]; memory: PolicyMemory } {
  const notices: Notice[] = [];
  const next = { ...memory };
  const run = status.lastRun;

  if (run?.kind === 'backup' && run.result === 'failed') {
    const reason = run.error ?? 'no reason was recorded';
    if (next.failure !== reason) {
      next.failure = reason;
      if (prefs.onFailure) notices.push({ condition: 'failure', title: 'Backup failed', body: reason, view: 'history' });
    }
  } else if (run?.kind === 'backup' && run.result === 'success') {
    next.failure = null;
    if (next.success !== run.id) {
      next.success = run.id;
      if (prefs.onSuccess) {
        const size = run.size === undefined ? '' : ` (${formatBytes(run.size)})`;
        notices.push({ condition: 'success', title: 'Backup complete', body: `${run.backupName ?? 'Backup'}${size}`, view: 'backups', backupName: run.backupName });
      }
    }
  }

  const last = status.lastBackup;
  const stale = last !== null && status.state !== 'running' && now.getTime() - new Date(last.createdAt).getTime() > status.staleHours * 3_600_000;
  if (!stale) next.stale = null;
  else if (next.stale !== last.name) {
    next.stale = last.name;
    if (prefs.onStale) {
      notices.push({
        condition: 'stale',
        title: 'Backups are out of date',
        body: `The last backup was made ${formatAge(new Date(last.createdAt), now)} (more than ${status.staleHours} hours).`,
        view: 'overview',
      });
    }
  }

  const space = status.freeSpace;
  const threshold = prefs.lowSpaceMB * 1024 * 1024;
  if (space && space.freeBytes < threshold) {
    if (!next.lowSpace) {
      next.lowSpace = true;
      if (prefs.onLowSpace) {
        notices.push({
          condition: 'low-space',
          title: 'Backup drive is almost full',
          body: `${formatBytes(space.freeBytes)} free on the drive of ${space.path}. Free some space or keep fewer backups.`,
          view: 'backups',
        });
      }
    }
  } else if (space && space.freeBytes >= threshold * LOW_SPACE_HYSTERESIS) {
    next.lowSpace = false;
  }

  const offsite = offsiteNotices(memory, status, prefs, now);
  return { notices: [...notices, ...offsite.notices], memory: { ...next, offsiteFailure: offsite.failure, offsiteStale: offsite.stale } };
}

/** Off-site targets whose newest copy is older than the stale threshold (not while a copy to them runs). */
export function staleTargets(status: AppStatus, now: Date): AppStatus['offsite']['targets'] {
  return status.offsite.targets.filter(
    (t) => t.newestCopy !== null && status.offsite.copying?.target !== t.name && now.getTime() - new Date(t.newestCopy.createdAt).getTime() > status.staleHours * 3_600_000,
  );
}

/** A copy that failed, and a target whose newest copy is out of date: once per target until it changes. */
function offsiteNotices(memory: PolicyMemory, status: AppStatus, prefs: NotificationPrefs, now: Date): { notices: Notice[]; failure: Record<string, string>; stale: Record<string, string> } {
  const notices: Notice[] = [];
  const failure: Record<string, string> = {};
  const stale: Record<string, string> = {};
  const staleNow = new Set(staleTargets(status, now).map((t) => t.name));
  for (const target of status.offsite.targets) {
    const last = target.lastCopy;
    if (last && !last.ok) {
      const key = `${last.backupName}: ${last.error ?? ''}`;
      failure[target.name] = key;
      if (memory.offsiteFailure[target.name] !== key && prefs.onFailure) {
        notices.push({
          condition: 'offsite-failure',
          title: `Off-site copy to "${target.name}" failed`,
          body: `${last.backupName}: ${last.error ?? 'no reason was recorded'} It is tried again with the next backup, or from Backups.`,
          view: 'backups',
          backupName: last.backupName,
        });
      }
    }
    const newest = target.newestCopy;
    if (newest && staleNow.has(target.name)) {
      stale[target.name] = newest.backupName;
      if (memory.offsiteStale[target.name] !== newest.backupName && prefs.onStale) {
        notices.push({
          condition: 'offsite-stale',
          title: `Off-site copies on "${target.name}" are out of date`,
          body: `Its newest copy is of the backup made ${formatAge(new Date(newest.createdAt), now)} (more than ${status.staleHours} hours).`,
          view: 'backups',
        });
      }
    }
  }
  return { notices, failure, stale };
}
