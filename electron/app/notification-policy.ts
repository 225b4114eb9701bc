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
}

/** Start of the app: an old success is not news; failures, staleness and low space are. */
export function initialMemory(status: AppStatus): PolicyMemory {
  return { failure: null, stale: null, lowSpace: false, success: status.lastRun?.result === 'success' ? status.lastRun.id : null };
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

  return { notices, memory: next };
}
