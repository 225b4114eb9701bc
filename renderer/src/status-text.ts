import type { AppStatus, View } from '../../shared/api.js';
import type { Component } from '../../shared/components.js';
import type { Progress } from '../../shared/progress.js';
import { capitalize, formatAge, formatBytes, formatDateTime, formatUntil } from './format.js';

export type Tone = 'ok' | 'running' | 'failed' | 'stale' | 'none';

/** What fixes an unprotected state: a button next to the reason. */
export type StatusAction = { label: string; view: View } | { label: string; resume: true } | { label: string; backUp: true };

export interface StatusSummary {
  tone: Tone;
  title: string;
  detail: string;
  action?: StatusAction;
}

/** The steps of a restore, in order, as the window lists them. */
export const RESTORE_STEPS = [
  { id: 'check', label: 'Check the backup' },
  { id: 'unpack', label: 'Unpack beside the live data' },
  { id: 'check-databases', label: 'Check every database' },
  { id: 'stop', label: 'Stop the PDS' },
  { id: 'save', label: 'Save the current data' },
  { id: 'swap', label: 'Put the restored data in place' },
  { id: 'start', label: 'Start the PDS' },
] as const;
export type RestoreStep = (typeof RESTORE_STEPS)[number]['id'];

const STEP_OF_PHASE: Partial<Record<Progress['phase'], RestoreStep>> = {
  preparing: 'check',
  unpacking: 'unpack',
  checking: 'check-databases',
  'stopping-pds': 'stop',
  'pre-restore-backup': 'save',
  swapping: 'swap',
  'starting-pds': 'start',
  done: 'start',
};

/** The step a restore is in; before its first progress event, the first one. */
export const restoreStep = (progress: Progress | null): RestoreStep => (progress && STEP_OF_PHASE[progress.phase]) || 'check';

/** Once the data is being swapped in, a cancel could leave the PDS half old, half new: the app refuses it. */
export const restoreCancellable = (progress: Progress | null): boolean => {
  const step = restoreStep(progress);
  return step !== 'swap' && step !== 'start' && progress?.phase !== 'done';
};

/** What a restore in `step` says about the PDS. */
export function restorePdsText(step: RestoreStep): string {
  const index = RESTORE_STEPS.findIndex((s) => s.id === step);
  if (index < 3) return 'The PDS still runs while the backup is unpacked and checked; it will be stopped before the restored data is put in place, then started again.';
  if (index === 3) return 'The PDS is being stopped: it must not write while its data is replaced. It is started again at the end.';
  if (index < 6) return 'The PDS is stopped while its data is saved and replaced; it is started again at the end.';
  return 'The restored data is in place; the PDS is being started again.';
}

/**
 * What a partial restore leaves inconsistent: parts of a PDS refer to each other (an account has a
 * repository, a repository its media), so restoring one without the other mixes two points in time.
 * Media restored on their own are merged (uploads since the backup are kept), so they risk nothing.
 */
export function partialRestoreRisks(selected: Component[], available: Component[]): string[] {
  const has = (c: Component) => selected.includes(c);
  const left = (c: Component) => available.includes(c) && !has(c);
  const risks: string[] = [];
  if (has('account') && left('actors')) risks.push('Accounts without their repositories: accounts created after the backup keep a repository the restored account list does not know, and restored accounts may have no repository.');
  if (has('actors') && left('account')) risks.push('Repositories without their accounts: accounts created after the backup lose their posts, and repositories may belong to accounts that no longer exist.');
  if (has('actors') && left('blobs')) risks.push('Repositories without their media: posts from the backup may point to images that are no longer there.');
  if (has('actors') && left('sequencer')) risks.push('The event sequence is not restored: servers that follow this PDS may miss or repeat events.');
  return risks;
}

/** The one-line answer to "is everything OK?", the sentence under it, and the button that fixes it. */
export function describeStatus(status: AppStatus, now: Date): StatusSummary {
  const last = status.lastBackup;
  const lastText = last ? `The newest backup was made ${formatAge(last.createdAt, now)} (${formatBytes(last.size)}).` : '';
  if (status.state === 'running') {
    if (status.job?.kind === 'restore') {
      const step = restoreStep(status.running);
      const label = RESTORE_STEPS.find((s) => s.id === step)!.label;
      return { tone: 'running', title: 'Restoring', detail: `${label}. ${restorePdsText(step)}` };
    }
    return { tone: 'running', title: 'Backing up now', detail: 'You can keep using the PDS while this runs.' };
  }
  if (status.state === 'failed') {
    return {
      tone: 'failed',
      title: 'The last backup failed',
      detail: [status.lastRun?.kind === 'backup' && status.lastRun.error ? status.lastRun.error : 'See History & logs for the reason.', lastText].filter(Boolean).join(' '),
      action: { label: 'Back up now', backUp: true },
    };
  }
  if (status.backupDirProblem) {
    return { tone: 'stale', title: 'Unprotected: the backup folder cannot be read', detail: status.backupDirProblem, action: { label: 'Open settings', view: 'settings' } };
  }
  const restore = status.lastRestoreRun;
  const backupSinceRestore = last && restore?.endedAt ? Date.parse(last.createdAt) > Date.parse(restore.endedAt) : false;
  if (restore?.result === 'failed' && !backupSinceRestore) {
    return {
      tone: 'stale',
      title: 'Unprotected: the last restore failed',
      detail: `${restore.error ?? 'See History & logs for the reason.'} Check that the PDS runs and holds the data you expect, then back up again.`,
      action: { label: 'Open Restore', view: 'restore' },
    };
  }
  if (!last) {
    return status.state === 'stale'
      ? { tone: 'stale', title: 'No backup yet', detail: 'Nothing protects this PDS yet. Make the first backup now.', action: { label: 'Back up now', backUp: true } }
      : { tone: 'none', title: 'No backup yet', detail: 'Make the first backup now, then turn on the schedule in Settings.', action: { label: 'Back up now', backUp: true } };
  }
  if (status.state === 'stale') {
    return { tone: 'stale', title: 'Backups are out of date', detail: `${lastText} You asked to be told after ${status.staleHours} hours.`, action: { label: 'Back up now', backUp: true } };
  }
  if (!status.scheduleEnabled) {
    return { tone: 'stale', title: 'Unprotected: automatic backups are off', detail: `${lastText} Nothing new is backed up unless you do it by hand.`, action: { label: 'Turn on the schedule', view: 'settings' } };
  }
  if (status.paused) {
    return { tone: 'stale', title: 'Unprotected: the schedule is paused', detail: `${lastText} No backup runs until you resume it.`, action: { label: 'Resume schedule', resume: true } };
  }
  const offsite = describeOffsiteProblem(status, now);
  if (offsite) return { tone: 'stale', title: offsite.title, detail: `${offsite.detail} ${lastText}`, action: { label: 'Open Backups', view: 'backups' } };
  return { tone: 'ok', title: 'Everything is backed up', detail: lastText };
}

/** A failed off-site copy (not being retried now), else a target whose newest copy is older than the stale threshold. */
function describeOffsiteProblem(status: AppStatus, now: Date): { title: string; detail: string } | null {
  const { targets, copying } = status.offsite;
  const failed = targets.find((t) => t.lastCopy && !t.lastCopy.ok && copying?.target !== t.name);
  if (failed?.lastCopy) {
    return { title: `The off-site copy to "${failed.name}" failed`, detail: `${failed.lastCopy.error ?? 'No reason was recorded.'} It is tried again with the next backup, or with Copy off-site.` };
  }
  const stale = targets.find((t) => t.newestCopy && copying?.target !== t.name && now.getTime() - Date.parse(t.newestCopy.createdAt) > status.staleHours * 3_600_000);
  if (stale?.newestCopy) {
    return { title: `Off-site copies on "${stale.name}" are out of date`, detail: `Its newest copy is of the backup made ${formatAge(stale.newestCopy.createdAt, now)}.` };
  }
  return null;
}

/** When the next scheduled backup runs, or why none will. */
export function describeNextRun(status: AppStatus, now: Date): { value: string; detail: string } {
  if (!status.scheduleEnabled) return { value: 'Not scheduled', detail: 'Turn on the schedule in Settings.' };
  if (status.paused) return { value: 'Paused', detail: 'Resume the schedule to back up automatically.' };
  if (!status.nextRunAt) return { value: 'Not planned', detail: 'The schedule has no next run.' };
  return { value: capitalize(formatUntil(status.nextRunAt, now)), detail: formatDateTime(status.nextRunAt) };
}

/**
 * The standing notice while backups are not encrypted (a pure function of the encryption settings): they
 * leave the PDS's secrets out, and the actors' signing keys they do hold are unencrypted. Null when on.
 */
export function secretsNotice(encryption: AppStatus['encryption']): { title: string; detail: string } | null {
  if (encryption.passphrase || encryption.recipients.length > 0) return null;
  return {
    title: 'Secrets not backed up: turn on encryption',
    detail:
      "Backups leave out the PDS's configuration (pds.env: JWT secret, PLC rotation key, admin password), so a restore on a new server cannot sign identity changes. " +
      "The accounts' signing keys are in the backups unencrypted: keep the backup folder private.",
  };
}
