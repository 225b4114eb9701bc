import { describe, expect, it } from 'vitest';
import type { AppStatus, HistoryEntry } from '../../shared/api.js';
import { trayModel, type TrayMenuItem } from '../../electron/app/tray-model.js';
import { appStatus } from '../helpers/app-status.js';

const now = new Date('2025-03-22T14:30:00');
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000).toISOString();

function status(overrides: Partial<AppStatus>): AppStatus {
  return appStatus({
    lastBackup: { name: 'backup_20250322_020000', createdAt: hoursAgo(12.5), size: 1234 },
    nextRunAt: new Date('2025-03-23T02:00:00').toISOString(),
    ...overrides,
  });
}

const failedRun: HistoryEntry = {
  id: 'r1',
  kind: 'backup',
  trigger: 'schedule',
  startedAt: hoursAgo(2),
  endedAt: hoursAgo(2),
  result: 'failed',
  error: 'The PDS data directory /srv/pds/data does not exist.',
};

const labels = (menu: TrayMenuItem[]) => menu.filter((i) => i.type !== 'separator').map((i) => ('label' in i ? i.label : ''));
const action = (menu: TrayMenuItem[], name: string) => menu.find((i) => i.type === 'action' && i.action === name) as Extract<TrayMenuItem, { type: 'action' }>;

describe('tray model', () => {
  it('idle: OK icon, age of the last backup, next run, every menu entry', () => {
    const model = trayModel(status({}), now);
    expect(model.icon).toBe('idle');
    expect(model.tooltip).toBe('Aurora Locus Backup: last backup 13 h ago');
    expect(labels(model.menu)).toEqual([
      'Back up now',
      'Open Aurora Locus Backup',
      'Last backup: 13 h ago, OK',
      'Next backup: tomorrow 02:00',
      'Pause schedule',
      'Open backups folder',
      'Quit',
    ]);
    expect(action(model.menu, 'backup-now').enabled).toBe(true);
  });

  it('running: percent in the tooltip and on the disabled "Back up now" entry', () => {
    const model = trayModel(
      status({
        state: 'running',
        running: { operation: 'backup', phase: 'archiving', bytesDone: 420, bytesTotal: 1000, filesDone: 2, filesTotal: 5, startedAt: hoursAgo(0.1) },
      }),
      now,
    );
    expect(model.icon).toBe('running');
    expect(model.tooltip).toBe('Aurora Locus Backup: backing up 42%');
    expect(action(model.menu, 'backup-now')).toMatchObject({ label: 'Backing up… 42%', enabled: false });
  });

  it('running a restore says so', () => {
    const model = trayModel(
      status({ state: 'running', running: { operation: 'restore', phase: 'unpacking', bytesDone: 1, bytesTotal: 4, filesDone: 0, filesTotal: 2, startedAt: hoursAgo(0) } }),
      now,
    );
    expect(model.tooltip).toBe('Aurora Locus Backup: restoring 25%');
    expect(action(model.menu, 'backup-now')).toMatchObject({ label: 'Restoring… 25%', enabled: false });
  });

  it('a restore is a restore from its start, before its first progress event', () => {
    const model = trayModel(status({ state: 'running', job: { kind: 'restore', startedAt: hoursAgo(0) } }), now);
    expect(model.tooltip).toBe('Aurora Locus Backup: restoring…');
  });

  it('failed: failure icon, reason in the tooltip, failure in the menu', () => {
    const model = trayModel(status({ state: 'failed', lastRun: failedRun }), now);
    expect(model.icon).toBe('failed');
    expect(model.tooltip).toContain('last backup failed (The PDS data directory /srv/pds/data does not exist.)');
    expect(model.tooltip.length).toBeLessThanOrEqual(127);
    expect(labels(model.menu)).toContain('Last backup: failed 2 h ago');
  });

  it('stale: warning icon naming the age and threshold; "no backup yet" when there is none', () => {
    const old = trayModel(status({ state: 'stale', lastBackup: { name: 'backup_20250319_020000', createdAt: hoursAgo(72), size: 1 } }), now);
    expect(old.icon).toBe('stale');
    expect(old.tooltip).toBe('Aurora Locus Backup: last backup 3 days ago, older than 48 h');
    const none = trayModel(status({ state: 'stale', lastBackup: null }), now);
    expect(none.tooltip).toBe('Aurora Locus Backup: no backup yet');
    expect(labels(none.menu)).toContain('Last backup: none yet');
  });

  it('paused and disabled schedules: menu says so; Resume toggles back; pause is disabled without a schedule', () => {
    const paused = trayModel(status({ paused: true, nextRunAt: null }), now);
    expect(labels(paused.menu)).toContain('Schedule: paused');
    expect(action(paused.menu, 'toggle-pause')).toMatchObject({ label: 'Resume schedule', enabled: true });
    const off = trayModel(status({ scheduleEnabled: false, nextRunAt: null }), now);
    expect(labels(off.menu)).toContain('Schedule: off');
    expect(action(off.menu, 'toggle-pause').enabled).toBe(false);
  });

  describe('off-site copies', () => {
    const copy = (ok: boolean, backupName = 'backup_20250322_020000', error?: string) => ({ target: 'b2', backupName, at: hoursAgo(12), ok, uploadedBytes: 1, ...(error ? { error } : {}) });
    const newest = { backupName: 'backup_20250322_020000', createdAt: hoursAgo(12.5) };

    it('a failed copy turns a good local state into a warning, naming the target; the menu says so', () => {
      const model = trayModel(status({ offsite: { copying: null, queued: 0, targets: [{ name: 'b2', lastCopy: copy(false, undefined, 'Target "b2": the connection was refused.'), newestCopy: null }] } }), now);
      expect(model.icon).toBe('stale');
      expect(model.tooltip).toBe('Aurora Locus Backup: last backup 13 h ago; off-site: copy to "b2" failed');
      expect(labels(model.menu)).toContain('Off-site: copy to "b2" failed');
    });

    it('a target whose newest copy is older than the threshold is a warning too', () => {
      const old = { backupName: 'backup_20250319_020000', createdAt: hoursAgo(72) };
      const model = trayModel(status({ offsite: { copying: null, queued: 0, targets: [{ name: 'nas', lastCopy: copy(true, old.backupName), newestCopy: old }] } }), now);
      expect(model.icon).toBe('stale');
      expect(labels(model.menu)).toContain('Off-site: copies on "nas" older than 48 h');
    });

    it('copies that worked leave the state alone; a copy running shows in the menu; a local failure still wins', () => {
      const fine = trayModel(status({ offsite: { copying: null, queued: 0, targets: [{ name: 'b2', lastCopy: copy(true), newestCopy: newest }] } }), now);
      expect(fine.icon).toBe('idle');
      expect(fine.tooltip).toBe('Aurora Locus Backup: last backup 13 h ago');
      expect(labels(fine.menu)).toContain('Off-site: copies up to date');
      const copying = trayModel(status({ offsite: { copying: { target: 'b2', backupName: newest.backupName }, queued: 0, targets: [{ name: 'b2', lastCopy: copy(false), newestCopy: null }] } }), now);
      expect(copying.icon).toBe('idle'); // the failure is being retried right now
      expect(labels(copying.menu)).toContain('Off-site: copying to "b2"…');
      const both = trayModel(status({ state: 'failed', lastRun: failedRun, offsite: { copying: null, queued: 0, targets: [{ name: 'b2', lastCopy: copy(false), newestCopy: null }] } }), now);
      expect(both.icon).toBe('failed');
      expect(both.tooltip.length).toBeLessThanOrEqual(127);
    });

    it('no targets: no off-site line at all', () => {
      expect(labels(trayModel(status({}), now).menu).some((l) => l.startsWith('Off-site'))).toBe(false);
    });
  });
});
