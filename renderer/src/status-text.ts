import type { AppStatus } from '../../shared/api.js';
import { capitalize, formatAge, formatBytes, formatDateTime, formatUntil } from './format.js';

export type Tone = 'ok' | 'running' | 'failed' | 'stale' | 'none';

/** The one-line answer to "is everything OK?", and the sentence under it. */
export function describeStatus(status: AppStatus, now: Date): { tone: Tone; title: string; detail: string } {
  const last = status.lastBackup;
  const lastText = last ? `The newest backup was made ${formatAge(last.createdAt, now)} (${formatBytes(last.size)}).` : '';
  switch (status.state) {
    case 'running': {
      const what = status.running?.operation === 'restore' ? 'Restoring' : status.running?.operation === 'verify' ? 'Verifying a backup' : 'Backing up';
      return { tone: 'running', title: `${what} now`, detail: 'You can keep using the PDS while this runs.' };
    }
    case 'failed':
      return {
        tone: 'failed',
        title: 'The last backup failed',
        detail: [status.lastRun?.error ?? 'See History & logs for the reason.', lastText].filter(Boolean).join(' '),
      };
    case 'stale':
      return last
        ? { tone: 'stale', title: 'Backups are out of date', detail: `${lastText} You asked to be told after ${status.staleHours} hours.` }
        : { tone: 'stale', title: 'No backup yet', detail: 'Nothing protects this PDS yet. Make the first backup now.' };
    case 'idle':
      return last
        ? { tone: 'ok', title: 'Everything is backed up', detail: lastText }
        : { tone: 'none', title: 'No backup yet', detail: 'Make the first backup now, then turn on the schedule in Settings.' };
  }
}

/** When the next scheduled backup runs, or why none will. */
export function describeNextRun(status: AppStatus, now: Date): { value: string; detail: string } {
  if (!status.scheduleEnabled) return { value: 'Not scheduled', detail: 'Turn on the schedule in Settings.' };
  if (status.paused) return { value: 'Paused', detail: 'Resume the schedule to back up automatically.' };
  if (!status.nextRunAt) return { value: 'Not planned', detail: 'The schedule has no next run.' };
  return { value: capitalize(formatUntil(status.nextRunAt, now)), detail: formatDateTime(status.nextRunAt) };
}
