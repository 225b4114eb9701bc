import { describe, expect, it } from 'vitest';
import type { AppStatus, HistoryEntry } from '../../shared/api.js';
import { DEFAULT_SETTINGS } from '../../shared/settings.js';
import { decideNotifications, initialMemory, type PolicyMemory } from '../../electron/app/notification-policy.js';
import type { Notice } from '../../electron/app/platform.js';
import { appStatus } from '../helpers/app-status.js';

const prefs = DEFAULT_SETTINGS.notifications;
const t0 = new Date('2025-03-22T14:30:00Z');
const at = (hours: number) => new Date(t0.getTime() + hours * 3_600_000);
const GB = 1024 ** 3;

function status(overrides: Partial<AppStatus>): AppStatus {
  return appStatus({
    lastBackup: { name: 'backup_a', createdAt: t0.toISOString(), size: 10 },
    freeSpace: { path: '/backups', freeBytes: 100 * GB, totalBytes: 200 * GB },
    ...overrides,
  });
}

function run(id: string, result: HistoryEntry['result'], error?: string): HistoryEntry {
  return { id, kind: 'backup', trigger: 'schedule', startedAt: t0.toISOString(), endedAt: t0.toISOString(), result, error, backupName: 'backup_a', size: 2048 };
}

/** Feeds statuses in order, as the controller does, and collects everything shown. */
function replay(steps: Array<{ status: AppStatus; now: Date }>, p = prefs, memory: PolicyMemory = initialMemory(steps[0]!.status)): Notice[] {
  const shown: Notice[] = [];
  for (const step of steps) {
    const decided = decideNotifications(memory, step.status, p, step.now);
    memory = decided.memory;
    shown.push(...decided.notices);
  }
  return shown;
}

describe('notification policy', () => {
  it('a failed backup is announced with its reason and opens the history', () => {
    const shown = replay([{ status: status({ state: 'failed', lastRun: run('1', 'failed', 'Disk full writing /backups/x') }), now: t0 }]);
    expect(shown).toEqual([{ condition: 'failure', title: 'Backup failed', body: 'Disk full writing /backups/x', view: 'history' }]);
  });

  it('no storm: the same failure repeated (hourly retries, periodic checks) is announced once', () => {
    const failing = (id: string) => status({ state: 'failed', lastRun: run(id, 'failed', 'The PDS data directory /d does not exist.') });
    const steps = Array.from({ length: 24 }, (_, i) => ({ status: failing(String(i)), now: at(i) }));
    expect(replay(steps).filter((n) => n.condition === 'failure')).toHaveLength(1);
  });

  it('a different reason, or the same one after a success, is announced again', () => {
    const shown = replay([
      { status: status({ lastRun: run('1', 'failed', 'reason A') }), now: t0 },
      { status: status({ lastRun: run('2', 'failed', 'reason B') }), now: at(1) },
      { status: status({ lastRun: run('3', 'success') }), now: at(2) },
      { status: status({ lastRun: run('4', 'failed', 'reason B') }), now: at(3) },
    ]);
    expect(shown.map((n) => n.body)).toEqual(['reason A', 'reason B', 'reason B']);
  });

  it('stale after the threshold (48 h by default), once per stale backup, again once a newer one goes stale', () => {
    const shown = replay([
      { status: status({}), now: at(47) },
      { status: status({ state: 'stale' }), now: at(49) },
      { status: status({ state: 'stale' }), now: at(60) },
      { status: status({ state: 'stale' }), now: at(100) },
      { status: status({ lastBackup: { name: 'backup_b', createdAt: at(101).toISOString(), size: 1 } }), now: at(101) },
      { status: status({ state: 'stale', lastBackup: { name: 'backup_b', createdAt: at(101).toISOString(), size: 1 } }), now: at(150) },
    ]);
    const stale = shown.filter((n) => n.condition === 'stale');
    expect(stale).toHaveLength(2);
    expect(stale[0]).toMatchObject({ title: 'Backups are out of date', view: 'overview' });
    expect(stale[0]!.body).toContain('more than 48 hours');
  });

  it('the stale threshold follows the status (settings)', () => {
    const shown = replay([{ status: status({ staleHours: 6 }), now: at(7) }]);
    expect(shown.map((n) => n.condition)).toEqual(['stale']);
  });

  it('low free space once; quiet while it hovers near the threshold; again after it recovered', () => {
    const space = (gb: number) => status({ freeSpace: { path: '/backups', freeBytes: gb * GB, totalBytes: 200 * GB } });
    const shown = replay([
      { status: space(1.5), now: t0 },
      { status: space(1.4), now: at(1) },
      { status: space(2.05), now: at(2) }, // just above 2 GB: not recovered yet
      { status: space(1.9), now: at(3) },
      { status: space(50), now: at(4) },
      { status: space(1), now: at(5) },
    ]);
    const low = shown.filter((n) => n.condition === 'low-space');
    expect(low).toHaveLength(2);
    expect(low[0]!.body).toContain('/backups');
  });

  it('success only when asked for, once per run, and not for the run found at start-up', () => {
    const first = status({ lastRun: run('old', 'success') });
    expect(replay([{ status: first, now: t0 }], { ...prefs, onSuccess: true })).toEqual([]);
    const later = replay(
      [
        { status: first, now: t0 },
        { status: status({ lastRun: run('new', 'success') }), now: at(1) },
        { status: status({ lastRun: run('new', 'success') }), now: at(2) },
      ],
      { ...prefs, onSuccess: true },
    );
    expect(later).toEqual([{ condition: 'success', title: 'Backup complete', body: 'backup_a (2 KB)', view: 'backups', backupName: 'backup_a' }]);
    expect(replay([{ status: first, now: t0 }, { status: status({ lastRun: run('new', 'success') }), now: at(1) }])).toEqual([]);
  });

  it('switched-off conditions stay quiet', () => {
    const off = { ...prefs, onFailure: false, onStale: false, onLowSpace: false };
    const shown = replay(
      [{ status: status({ state: 'failed', lastRun: run('1', 'failed', 'x'), freeSpace: { path: '/b', freeBytes: 1, totalBytes: 2 } }), now: at(100) }],
      off,
    );
    expect(shown).toEqual([]);
  });

  describe('off-site copies', () => {
    type Target = AppStatus['offsite']['targets'][number];
    const failedCopy = (backupName: string, error: string): Target['lastCopy'] => ({ target: 'b2', backupName, at: t0.toISOString(), ok: false, uploadedBytes: 0, error });
    const goodCopy = (backupName: string): Target['lastCopy'] => ({ target: 'b2', backupName, at: t0.toISOString(), ok: true, uploadedBytes: 10 });
    const withTargets = (...targets: Target[]) => status({ offsite: { copying: null, queued: 0, targets } });

    it('a failed copy is announced once per target and reason, naming both; a copy that works clears it', () => {
      const down = withTargets({ name: 'b2', lastCopy: failedCopy('backup_20250322_020000', 'Target "b2": the connection was refused.'), newestCopy: null });
      const shown = replay([
        { status: down, now: t0 },
        { status: down, now: at(1) },
        { status: withTargets({ name: 'b2', lastCopy: failedCopy('backup_20250322_020000', 'Target "b2": access denied.'), newestCopy: null }), now: at(2) },
        { status: withTargets({ name: 'b2', lastCopy: goodCopy('backup_20250322_030000'), newestCopy: { backupName: 'backup_20250322_030000', createdAt: at(3).toISOString() } }), now: at(3) },
        { status: down, now: at(4) },
      ]);
      expect(shown.filter((n) => n.condition === 'offsite-failure').map((n) => [n.title, n.body.split(' It is')[0]])).toEqual([
        ['Off-site copy to "b2" failed', 'backup_20250322_020000: Target "b2": the connection was refused.'],
        ['Off-site copy to "b2" failed', 'backup_20250322_020000: Target "b2": access denied.'],
        ['Off-site copy to "b2" failed', 'backup_20250322_020000: Target "b2": the connection was refused.'],
      ]);
      expect(shown.find((n) => n.condition === 'offsite-failure')).toMatchObject({ view: 'backups', backupName: 'backup_20250322_020000' });
    });

    it("a target's newest copy older than the threshold is announced once, again only after a newer copy went stale too", () => {
      const copied = (h: number): Target => ({ name: 'nas', lastCopy: goodCopy(`backup_${h}`), newestCopy: { backupName: `backup_${h}`, createdAt: at(h).toISOString() } });
      const shown = replay([
        { status: withTargets(copied(0)), now: at(10) },
        { status: withTargets(copied(0)), now: at(49) },
        { status: withTargets(copied(0)), now: at(60) },
        { status: withTargets(copied(50)), now: at(61) },
        { status: withTargets(copied(50)), now: at(99) },
      ]);
      expect(shown.filter((n) => n.condition === 'offsite-stale').map((n) => n.title)).toEqual(['Off-site copies on "nas" are out of date', 'Off-site copies on "nas" are out of date']);
      expect(shown.find((n) => n.condition === 'offsite-stale')!.body).toMatch(/^Its newest copy is of the backup made .* \(more than 48 hours\)\.$/);
    });

    it('follows the failure and stale switches; no copy being made to a stale target is announced while it runs', () => {
      const down = withTargets({ name: 'b2', lastCopy: failedCopy('backup_x', 'refused'), newestCopy: { backupName: 'backup_w', createdAt: t0.toISOString() } });
      expect(replay([{ status: down, now: at(100) }], { ...prefs, onFailure: false, onStale: false })).toEqual([]);
      const running = status({ offsite: { copying: { target: 'nas', backupName: 'backup_y' }, queued: 0, targets: [{ name: 'nas', lastCopy: goodCopy('backup_w'), newestCopy: { backupName: 'backup_w', createdAt: t0.toISOString() } }] } });
      expect(replay([{ status: running, now: at(100) }]).filter((n) => n.condition.startsWith('offsite'))).toEqual([]);
    });
  });
});
