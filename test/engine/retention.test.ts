import { describe, expect, it } from 'vitest';
import type { BackupStatus, BackupSummary } from '../../shared/api.js';
import { selectBackupsToPrune } from '../../electron/engine/retention.js';

const NOW = new Date('2025-06-30T12:00:00Z');
const DAY = 24 * 60 * 60 * 1000;

/** A backup `days` old (fractions allowed) with the folder name its time gives. */
function backup(days: number, status: BackupStatus = 'complete', name?: string): BackupSummary {
  const created = new Date(NOW.getTime() - days * DAY);
  const stamp = created.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  return {
    name: name ?? `backup_${stamp}`,
    path: `/backups/${name ?? `backup_${stamp}`}`,
    createdAt: created.toISOString(),
    size: 1000,
    durationMs: null,
    status,
    compression: 'gzip',
    pdsVersion: '0.1.0',
    legacy: false,
    kind: name?.startsWith('pre-restore_') ? 'pre-restore' : 'backup',
    preRestoreOf: null,
    components: [],
  };
}

interface Case {
  title: string;
  backups: BackupSummary[];
  retainDays: number;
  keepLast: number;
  /** Indexes into `backups` that must be removed; every other one kept. */
  removed: number[];
}

const cases: Case[] = [
  { title: 'nothing to prune in an empty folder', backups: [], retainDays: 30, keepLast: 3, removed: [] },
  { title: 'all young: everything kept', backups: [backup(1), backup(2), backup(29)], retainDays: 30, keepLast: 1, removed: [] },
  {
    title: 'old ones removed once keep-last young complete ones exist',
    backups: [backup(1), backup(2), backup(3), backup(31), backup(60)],
    retainDays: 30,
    keepLast: 3,
    removed: [3, 4],
  },
  { title: 'all old: the newest complete one survives (keep-last 1)', backups: [backup(40), backup(50), backup(60)], retainDays: 30, keepLast: 1, removed: [1, 2] },
  { title: 'all old: keep-last 2 keeps the two newest', backups: [backup(40), backup(50), backup(60)], retainDays: 30, keepLast: 2, removed: [2] },
  { title: 'keep-last larger than the number of backups keeps all', backups: [backup(40), backup(50)], retainDays: 30, keepLast: 10, removed: [] },
  {
    title: 'the floor counts complete backups only: old incomplete/corrupt do not protect themselves',
    backups: [backup(35, 'corrupt'), backup(40, 'incomplete'), backup(50)],
    retainDays: 30,
    keepLast: 1,
    removed: [0, 1],
  },
  {
    title: 'newest complete survives even when newer broken ones exist',
    backups: [backup(1, 'corrupt'), backup(2, 'incomplete'), backup(100)],
    retainDays: 30,
    keepLast: 1,
    removed: [],
  },
  {
    title: 'young broken backups are within retention and kept',
    backups: [backup(1, 'corrupt'), backup(2), backup(3)],
    retainDays: 30,
    keepLast: 1,
    removed: [],
  },
  { title: 'boundary: exactly retain-days old is kept, a minute more is removed', backups: [backup(0.5), backup(30), backup(30 + 1 / 1440)], retainDays: 30, keepLast: 1, removed: [2] },
  { title: 'retain-days 0 removes all but the floor', backups: [backup(0.1), backup(0.2), backup(0.3)], retainDays: 0, keepLast: 1, removed: [1, 2] },
  { title: 'order of the input does not matter', backups: [backup(60), backup(1), backup(45)], retainDays: 30, keepLast: 1, removed: [0, 2] },
  {
    title: 'unfinished-run leftovers are never removed, however old',
    backups: [backup(1), backup(90, 'incomplete', '.incomplete-backup_20250401_000000')],
    retainDays: 30,
    keepLast: 1,
    removed: [],
  },
  {
    title: 'names that are not backups are never removed, and a lone old pre-restore backup is kept',
    backups: [backup(1), backup(90, 'complete', 'pre-restore_20250401_000000'), backup(90, 'complete', 'my-notes')],
    retainDays: 30,
    keepLast: 1,
    removed: [],
  },
  {
    title: 'pre-restore backups by their own rule: the 3 newest and any within retention kept, whatever the backups',
    backups: [
      backup(2),
      ...[1, 10, 40, 50, 60, 70].map((days) => backup(days, 'complete', `pre-restore_202504${String(days).padStart(2, '0')}_000000`)),
    ],
    retainDays: 30,
    keepLast: 1,
    removed: [4, 5, 6],
  },
  {
    title: 'pre-restore backups never count as the newest complete backup',
    backups: [backup(50), backup(1, 'complete', 'pre-restore_20250629_000000'), backup(60)],
    retainDays: 30,
    keepLast: 1,
    removed: [2],
  },
  { title: 'a backup dated in the future (clock skew) is kept', backups: [backup(-2), backup(40)], retainDays: 30, keepLast: 1, removed: [1] },
  {
    title: 'legacy backups from the original script follow the same rules',
    backups: [{ ...backup(1), legacy: true }, { ...backup(45), legacy: true }],
    retainDays: 30,
    keepLast: 1,
    removed: [1],
  },
];

describe('selectBackupsToPrune', () => {
  it.each(cases)('$title', ({ backups, retainDays, keepLast, removed }) => {
    const result = selectBackupsToPrune(backups, { retainDays, keepLast }, NOW);
    expect(result.remove.map((b) => b.name).sort()).toEqual(removed.map((i) => backups[i]!.name).sort());
    expect(result.keep.length + result.remove.length).toBe(backups.length);
    for (const b of backups) expect(result.reasons[b.name]).toBeTruthy();
  });

  it('explains each decision in words', () => {
    const backups = [backup(1), backup(2), backup(45), backup(50, 'corrupt'), backup(10, 'incomplete', '.incomplete-backup_20250620_000000')];
    const { reasons } = selectBackupsToPrune(backups, { retainDays: 30, keepLast: 2 }, NOW);
    expect(reasons[backups[0]!.name]).toBe('newest complete backup (1 day old)');
    expect(reasons[backups[1]!.name]).toBe('one of the 2 newest complete backups (keep-last 2; 2 days old)');
    expect(reasons[backups[2]!.name]).toBe('45 days old, older than the 30-day retention');
    expect(reasons[backups[3]!.name]).toBe('50 days old, older than the 30-day retention (corrupt)');
    expect(reasons[backups[4]!.name]).toMatch(/^unfinished backup/);
  });

  it('refuses a policy that would allow removing the newest complete backup', () => {
    expect(() => selectBackupsToPrune([backup(1)], { retainDays: 30, keepLast: 0 }, NOW)).toThrow(/Keep-last must be a whole number, 1 or more/);
    expect(() => selectBackupsToPrune([backup(1)], { retainDays: -1, keepLast: 1 }, NOW)).toThrow(/Retain days must be a whole number/);
  });
});
