import { describe, expect, it } from 'vitest';
import type { AppStatus } from '../../shared/api.js';
import { describeNextRun, describeStatus } from './status-text.js';

const now = new Date('2026-03-22T14:30:00Z');
const status = (over: Partial<AppStatus>): AppStatus => ({
  state: 'idle',
  job: null,
  running: null,
  lastRestore: null,
  backupDirProblem: null,
  lastRestoreRun: null,
  lastBackup: { name: 'backup_20260322_123000', createdAt: '2026-03-22T12:30:00Z', size: 5 * 1024 * 1024 },
  lastRun: null,
  nextRunAt: '2026-03-23T02:00:00Z',
  paused: false,
  scheduleEnabled: true,
  freeSpace: null,
  staleHours: 48,
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

describe('describeNextRun', () => {
  it('says when, or why there is no next run', () => {
    expect(describeNextRun(status({}), now).value).toBe('In 12 hours');
    expect(describeNextRun(status({ paused: true }), now).value).toBe('Paused');
    expect(describeNextRun(status({ scheduleEnabled: false }), now).value).toBe('Not scheduled');
  });
});
