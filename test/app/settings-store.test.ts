import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../shared/settings.js';
import { importEnvFile, SettingsStore, WriteQueue, writeFileAtomic } from '../../electron/app/settings-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'aurora-settings-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('settings store', () => {
  it('no file yet: the guide\'s defaults (appendix A, daily 02:00)', async () => {
    const loaded = await new SettingsStore(dir).load();
    expect(loaded.problem).toBeNull();
    expect(loaded.settings).toMatchObject({
      dataDir: './data',
      backupDir: './backups',
      compression: 'gzip',
      retainDays: 30,
      schedule: { enabled: false, mode: 'daily', intervalHours: 24, dailyAt: '02:00' },
      notifications: { staleHours: 48, onFailure: true, onSuccess: false },
    });
  });

  it('saves and loads back; the file is plain JSON readable by a person', async () => {
    const store = new SettingsStore(dir);
    const settings = { ...DEFAULT_SETTINGS, retainDays: 14, schedule: { ...DEFAULT_SETTINGS.schedule, enabled: true, dailyAt: '03:30' } };
    await store.save(settings);
    expect((await new SettingsStore(dir).load()).settings).toEqual(settings);
    expect(JSON.parse(await readFile(path.join(dir, 'settings.json'), 'utf8')).retainDays).toBe(14);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a file that is not JSON is kept aside as settings.corrupt-<time>.json and reported; defaults are used', async () => {
    await writeFile(path.join(dir, 'settings.json'), '{"retainDays": 14, "backupDir": "/mnt/ba');
    const loaded = await new SettingsStore(dir).load(new Date('2025-03-22T14:30:00.000Z'));
    expect(loaded.settings).toEqual(DEFAULT_SETTINGS);
    const aside = path.join(dir, 'settings.corrupt-2025-03-22T14-30-00-000Z.json');
    expect(loaded.problem).toContain('not valid JSON');
    expect(loaded.problem).toContain(aside);
    expect(await readFile(aside, 'utf8')).toBe('{"retainDays": 14, "backupDir": "/mnt/ba');
    expect(await readdir(dir)).toEqual(['settings.corrupt-2025-03-22T14-30-00-000Z.json']);
  });

  it('a file that fails validation is kept aside too, naming the bad fields', async () => {
    await writeFile(path.join(dir, 'settings.json'), JSON.stringify({ retainDays: 0, schedule: { dailyAt: '25:00' } }));
    const loaded = await new SettingsStore(dir).load();
    expect(loaded.problem).toContain('retainDays: At least 1 day');
    expect(loaded.problem).toContain('schedule.dailyAt: Use a 24-hour time like 02:00');
    expect((await readdir(dir)).some((f) => f.startsWith('settings.corrupt-'))).toBe(true);
  });
});

describe('write queue', () => {
  it('two saves of one file that overlap end with the later one, even when the earlier one is slower', async () => {
    const file = path.join(dir, 'offsite.json');
    const queue = new WriteQueue();
    const { promise: diskBusy, resolve: diskFree } = Promise.withResolvers<void>();
    const older = queue.run(async () => {
      await diskBusy;
      await writeFileAtomic(file, 'older');
    });
    const newer = queue.run(() => writeFileAtomic(file, 'newer'));
    diskFree();
    await Promise.all([older, newer]);
    expect(await readFile(file, 'utf8')).toBe('newer');
  });

  it('a failed write does not stop the ones after it', async () => {
    const file = path.join(dir, 'history.jsonl');
    const queue = new WriteQueue();
    const failed = expect(queue.run(() => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    await queue.run(() => writeFile(file, 'next'));
    await failed;
    await queue.settled();
    expect(await readFile(file, 'utf8')).toBe('next');
  });
});

describe('.env import', () => {
  it('reads the guide\'s BACKUP_* variables and PDS_DATA_DIRECTORY/PDS_VERSION; relative paths from the .env folder', async () => {
    const envFile = path.join(dir, '.env');
    await writeFile(
      envFile,
      [
        '# Aurora Locus PDS',
        'PDS_HOSTNAME=pds.example.com',
        'PDS_DATA_DIRECTORY=./data',
        'PDS_VERSION=0.4.2',
        'BACKUP_ENABLED=true',
        'BACKUP_INTERVAL_HOURS=12        # Run every 12 hours',
        'BACKUP_DIR=/mnt/backup-drive/aurora-locus',
        'BACKUP_RETAIN_DAYS=60',
        'BACKUP_COMPRESSION="zstd"',
      ].join('\n'),
    );
    const result = await importEnvFile(envFile, DEFAULT_SETTINGS);
    expect(result).toEqual({
      ok: true,
      imported: ['BACKUP_ENABLED', 'BACKUP_INTERVAL_HOURS', 'BACKUP_DIR', 'BACKUP_RETAIN_DAYS', 'BACKUP_COMPRESSION', 'PDS_DATA_DIRECTORY', 'PDS_VERSION'],
      settings: {
        ...DEFAULT_SETTINGS,
        dataDir: path.join(dir, 'data'),
        backupDir: '/mnt/backup-drive/aurora-locus',
        envFile,
        compression: 'zstd',
        retainDays: 60,
        schedule: { ...DEFAULT_SETTINGS.schedule, enabled: true, mode: 'interval', intervalHours: 12 },
        pds: { ...DEFAULT_SETTINGS.pds, version: '0.4.2' },
      },
    });
  });

  it('keeps what the file does not mention; COMPRESSION works as in backup.sh', async () => {
    const envFile = path.join(dir, 'pds.env');
    await writeFile(envFile, 'COMPRESSION=none\n');
    const base = { ...DEFAULT_SETTINGS, retainDays: 9 };
    const result = await importEnvFile(envFile, base);
    expect(result).toMatchObject({ ok: true, imported: ['COMPRESSION'], settings: { retainDays: 9, compression: 'none', envFile } });
  });

  it('bad values are refused with the variable named, and nothing is imported', async () => {
    const envFile = path.join(dir, '.env');
    await writeFile(envFile, 'BACKUP_ENABLED=maybe\nBACKUP_RETAIN_DAYS=thirty\nBACKUP_COMPRESSION=rar\n');
    const result = await importEnvFile(envFile, DEFAULT_SETTINGS);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toContain('BACKUP_ENABLED=maybe should be true or false');
    expect(result.error).toContain('BACKUP_RETAIN_DAYS=thirty is not a whole number');
    expect(result.error).toContain('BACKUP_COMPRESSION=rar is not one of gzip');
  });

  it('an interval the schema refuses is reported with the field', async () => {
    const envFile = path.join(dir, '.env');
    await writeFile(envFile, 'BACKUP_INTERVAL_HOURS=0\n');
    expect(await importEnvFile(envFile, DEFAULT_SETTINGS)).toEqual({ ok: false, error: `${envFile}: schedule.intervalHours: At least 1 hour. Nothing was imported.` });
  });

  it('a missing file is reported, not thrown', async () => {
    const result = await importEnvFile(path.join(dir, 'nope.env'), DEFAULT_SETTINGS);
    expect(result).toEqual({ ok: false, error: expect.stringContaining('ENOENT') });
  });
});

describe('launch at login on Linux', () => {
  it('writes an XDG autostart entry that starts the app hidden, and removes it again', async () => {
    const { setLinuxAutostart } = await import('../../electron/app/autostart.js');
    const file = await setLinuxAutostart(true, { exec: '/opt/Aurora Locus Backup/aurora-locus-backup', configHome: dir });
    expect(file).toBe(path.join(dir, 'autostart', 'aurora-locus-backup.desktop'));
    expect(await readFile(file, 'utf8')).toContain('Exec="/opt/Aurora Locus Backup/aurora-locus-backup" --hidden');
    await setLinuxAutostart(false, { exec: 'x', configHome: dir });
    expect(await readdir(path.join(dir, 'autostart'))).toEqual([]);
  });
});
