import { describe, expect, it } from 'vitest';
import type { AppStatus } from '../../shared/api.js';
import type { Progress } from '../../shared/progress.js';
import { appStatus } from '../../test/helpers/app-status.js';
import { describeNextRun, describeStatus, partialRestoreRisks, restoreCancellable, secretsNotice } from './status-text.js';

const now = new Date('2026-03-22T14:30:00Z');
const status = (over: Partial<AppStatus>): AppStatus =>
  appStatus({
    lastBackup: { name: 'backup_20260322_123000', createdAt: '2026-03-22T12:30:00Z', size: 5 * 1024 * 1024 },
    nextRunAt: '2026-03-23T02:00:00Z',
    ...over,
  });

describe('describeStatus', () => {
  it('answers "is everything OK?" for each state', () => {
    expect(describeStatus(status({}), now)).toEqual({ tone: 'ok', title: 'Everything is backed up', detail: 'The newest backup was made 2 hours ago (5 MB).' });
    expect(describeStatus(status({ lastBackup: null }), now).title).toBe('No backup yet');
    expect(describeStatus(status({ state: 'stale' }), now)).toMatchObject({ tone: 'stale', title: 'Backups are out of date' });
    expect(describeStatus(status({ state: 'stale' }), now).detail).toContain('after 48 hours');
  });

  it('gives the reason of a failed backup', () => {
    const failed = status({
      state: 'failed',
      lastRun: { id: '1', kind: 'backup', trigger: 'schedule', startedAt: '', endedAt: '', result: 'failed', error: '/mnt/usb is not writable.' },
    });
    expect(describeStatus(failed, now)).toMatchObject({ tone: 'failed', title: 'The last backup failed' });
    expect(describeStatus(failed, now).detail).toMatch(/^\/mnt\/usb is not writable\. The newest backup/);
  });
});

describe('describeStatus with off-site copies', () => {
  const copy = (ok: boolean, error?: string) => ({ target: 'b2', backupName: 'backup_20260322_123000', at: '2026-03-22T12:31:00Z', ok, uploadedBytes: 1, ...(error ? { error } : {}) });
  const withTarget = (target: AppStatus['offsite']['targets'][number], copying: AppStatus['offsite']['copying'] = null) => status({ offsite: { copying, queued: 0, targets: [target] } });

  it('a failed copy is a warning naming the target and its reason, with the way to Backups', () => {
    const summary = describeStatus(withTarget({ name: 'b2', lastCopy: copy(false, 'Target "b2": access denied.'), newestCopy: null }), now);
    expect(summary).toMatchObject({ tone: 'stale', title: 'The off-site copy to "b2" failed', action: { label: 'Open Backups', view: 'backups' } });
    expect(summary.detail).toMatch(/^Target "b2": access denied\. It is tried again/);
  });

  it('a target whose newest copy is older than the threshold is a warning; copies that worked, or a retry running, are not', () => {
    const old = { backupName: 'backup_20260318_120000', createdAt: '2026-03-18T12:00:00Z' };
    expect(describeStatus(withTarget({ name: 'nas', lastCopy: copy(true), newestCopy: old }), now).title).toBe('Off-site copies on "nas" are out of date');
    const fresh = { backupName: 'backup_20260322_123000', createdAt: '2026-03-22T12:30:00Z' };
    expect(describeStatus(withTarget({ name: 'b2', lastCopy: copy(true), newestCopy: fresh }), now).tone).toBe('ok');
    expect(describeStatus(withTarget({ name: 'b2', lastCopy: copy(false, 'down'), newestCopy: null }, { target: 'b2', backupName: fresh.backupName }), now).tone).toBe('ok');
  });

  it('a local problem comes first', () => {
    expect(describeStatus(status({ state: 'stale', offsite: { copying: null, queued: 0, targets: [{ name: 'b2', lastCopy: copy(false, 'down'), newestCopy: null }] } }), now).title).toBe('Backups are out of date');
  });
});

describe('describeStatus while a restore runs', () => {
  const restoring = (phase: Progress['phase'] | null) =>
    status({
      state: 'running',
      job: { kind: 'restore', startedAt: '2026-03-22T14:29:00Z', backupPath: '/b/backup_1', components: ['account'] },
      running: phase ? { operation: 'restore', phase, bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0, startedAt: '2026-03-22T14:29:00Z' } : null,
    });

  it('says "Restoring", the step, and that the PDS will be stopped, from the first status on', () => {
    expect(describeStatus(restoring(null), now)).toMatchObject({ tone: 'running', title: 'Restoring', detail: expect.stringMatching(/^Check the backup\. .*will be stopped/) });
    expect(describeStatus(restoring('unpacking'), now).detail).toMatch(/^Unpack beside the live data\./);
    expect(describeStatus(restoring('swapping'), now).detail).toMatch(/^Put the restored data in place\. The PDS is stopped/);
  });

  it('can be cancelled until the data is swapped in', () => {
    expect(restoreCancellable(restoring('pre-restore-backup').running)).toBe(true);
    expect(restoreCancellable(restoring('swapping').running)).toBe(false);
    expect(restoreCancellable(restoring('starting-pds').running)).toBe(false);
  });
});

describe('describeStatus: unprotected is a warning with its reason and its fix', () => {
  it('while the schedule is off or paused', () => {
    expect(describeStatus(status({ scheduleEnabled: false }), now)).toMatchObject({ tone: 'stale', title: 'Unprotected: automatic backups are off', action: { label: 'Turn on the schedule', view: 'settings' } });
    expect(describeStatus(status({ paused: true }), now)).toMatchObject({ tone: 'stale', title: 'Unprotected: the schedule is paused', action: { label: 'Resume schedule', resume: true } });
  });

  it('while the backup folder cannot be read', () => {
    const unreadable = status({ lastBackup: null, backupDirProblem: 'Cannot read the backup directory /mnt/usb: EACCES.' });
    expect(describeStatus(unreadable, now)).toMatchObject({ tone: 'stale', title: 'Unprotected: the backup folder cannot be read', detail: 'Cannot read the backup directory /mnt/usb: EACCES.' });
  });

  it('after a failed restore, until a newer backup exists', () => {
    const restore = { id: 'r', kind: 'restore' as const, trigger: 'manual' as const, startedAt: '2026-03-22T13:00:00Z', endedAt: '2026-03-22T13:05:00Z', result: 'failed' as const, error: 'The PDS seems to be running.' };
    expect(describeStatus(status({ lastRestoreRun: restore }), now)).toMatchObject({ tone: 'stale', title: 'Unprotected: the last restore failed', detail: expect.stringContaining('The PDS seems to be running.') });
    expect(describeStatus(status({ lastRestoreRun: restore, lastBackup: { name: 'backup_20260322_140000', createdAt: '2026-03-22T14:00:00Z', size: 1 } }), now).tone).toBe('ok');
  });
});

describe('partialRestoreRisks', () => {
  const all = ['account', 'sequencer', 'did_cache', 'blobs', 'actors'] as const;
  it('names what a partial restore leaves inconsistent, and nothing for a whole one', () => {
    expect(partialRestoreRisks([...all], [...all])).toEqual([]);
    expect(partialRestoreRisks(['account'], [...all])).toEqual([expect.stringMatching(/^Accounts without their repositories/)]);
    expect(partialRestoreRisks(['did_cache'], [...all])).toEqual([]);
    expect(partialRestoreRisks(['account'], ['account'])).toEqual([]); // nothing else in the backup
  });
});

describe('describeNextRun', () => {
  it('says when, or why there is no next run', () => {
    expect(describeNextRun(status({}), now).value).toBe('In 12 hours');
    expect(describeNextRun(status({ paused: true }), now).value).toBe('Paused');
    expect(describeNextRun(status({ scheduleEnabled: false }), now).value).toBe('Not scheduled');
  });
});

describe('secretsNotice', () => {
  it('stands while encryption is off, saying the secrets are left out and the actor keys are in unencrypted; gone once on', () => {
    const off = secretsNotice({ recipients: [], passphrase: false });
    expect(off?.title).toBe('Secrets not backed up: turn on encryption');
    expect(off?.detail).toContain('pds.env');
    expect(off?.detail).toMatch(/signing keys are in the backups unencrypted/);
    expect(secretsNotice({ recipients: ['age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq'], passphrase: false })).toBeNull();
    expect(secretsNotice({ recipients: [], passphrase: true })).toBeNull();
  });
});
