import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_NAMES, type ApiName } from '../../shared/api.js';
import { createHandlers, InputError, type Handlers } from '../../electron/app/handlers.js';
import { RecordingPlatform, startController, tempDir } from './harness.js';
import type { Controller } from '../../electron/app/controller.js';

let root: { dir: string; cleanup(): Promise<void> };
let handlers: Handlers;
let controller: Controller;
let platform: RecordingPlatform;
let dataDir: string;
let backupDir: string;
let aBackup: string;
let envFile: string;

beforeAll(async () => {
  root = await tempDir('handlers');
  dataDir = path.join(root.dir, 'data');
  backupDir = path.join(root.dir, 'backups');
  aBackup = path.join(backupDir, 'backup_20250322_143022');
  envFile = path.join(root.dir, '.env');
  await mkdir(dataDir, { recursive: true });
  await mkdir(aBackup, { recursive: true });
  await writeFile(envFile, 'BACKUP_RETAIN_DAYS=45\n');
  ({ controller, platform } = await startController(path.join(root.dir, 'user-data')));
  await controller.updateSettings({ ...controller.getSettings(), dataDir, backupDir });
  handlers = createHandlers(controller);
});
afterAll(() => root.cleanup());

const relative = 'backups/backup_20250322_143022';
const missing = () => path.join(root.dir, 'does-not-exist');

/** Bad inputs for every request, each with a piece of the message it must be refused with. */
const badInputs: Record<ApiName, Array<[input: () => unknown, message: string | RegExp]>> = {
  getStatus: [[() => ({}), 'Invalid input for getStatus'], [() => 'x', 'Invalid input']],
  getSettings: [[() => ({ all: true }), 'Invalid input for getSettings']],
  setSettings: [], // answers with field errors instead, tested below
  importEnv: [
    [() => ({}), 'path'],
    [() => ({ path: 42 }), 'path'],
    [() => ({ path: '.env' }), 'is not a full path'],
    [() => ({ path: missing() }), 'does not exist'],
    [() => ({ path: root.dir }), 'is not a file'],
    [() => ({ path: envFile, apply: true }), 'apply'],
  ],
  startBackup: [[() => ({ now: true }), 'Invalid input for startBackup'], [() => null, 'Invalid input']],
  cancel: [[() => 1, 'Invalid input for cancel']],
  pauseSchedule: [
    [() => undefined, 'Invalid input for pauseSchedule'],
    [() => ({}), 'paused'],
    [() => ({ paused: 'yes' }), 'paused'],
    [() => ({ paused: true, until: 'tomorrow' }), 'until'],
  ],
  listBackups: [[() => ({ dir: backupDir }), 'Invalid input for listBackups']],
  verifyBackup: [
    [() => ({ path: aBackup }), 'deep'],
    [() => ({ path: aBackup, deep: 'yes' }), 'deep'],
    [() => ({ path: relative, deep: false }), 'is not a full path'],
    [() => ({ path: missing(), deep: false }), 'does not exist'],
    [() => ({ path: envFile, deep: false }), 'is not a folder'],
    [() => ({ path: '', deep: false }), 'A path is required'],
    [() => ({ path: aBackup, deep: false, fix: true }), 'fix'],
  ],
  inspectBackup: [
    [() => ({ path: ['/'] }), 'path'],
    [() => ({ path: relative }), 'is not a full path'],
    [() => ({ path: missing() }), 'does not exist'],
    [() => ({ path: `${aBackup}\0x` }), 'NUL'],
  ],
  restore: [
    [() => ({ path: aBackup }), 'components'],
    [() => ({ path: aBackup, components: [] }), 'Choose at least one component'],
    [() => ({ path: aBackup, components: ['account', 'keys'] }), 'components.1'],
    [() => ({ path: aBackup, components: ['blobs', 'blobs'] }), 'Each component once'],
    [() => ({ path: relative, components: ['account'] }), 'is not a full path'],
    [() => ({ path: missing(), components: ['account'] }), 'does not exist'],
    [() => ({ path: aBackup, components: ['account'], force: true }), 'force'],
  ],
  getHistory: [[() => ({ limit: 5 }), 'Invalid input for getHistory']],
  getLogPath: [[() => 'main.log', 'Invalid input for getLogPath']],
  openFolder: [
    [() => ({ target: 'home' }), 'target'],
    [() => ({ target: 'backup' }), 'which backup to open is required'],
    [() => ({ target: 'backup', path: root.dir }), 'is not inside the backups folder'],
    [() => ({ target: 'backup', path: path.join(backupDir, '..') }), 'is not inside the backups folder'],
    [() => ({ target: 'backup', path: relative }), 'is not a full path'],
    [() => ({ target: 'backups', path: '/etc' }), 'only for target "backup"'],
  ],
  pickFolder: [
    [() => ({}), 'purpose'],
    [() => ({ purpose: 'anything' }), 'purpose'],
  ],
};

describe('API handlers reject bad input', () => {
  it('cover every request of the API', () => {
    expect(Object.keys(handlers).sort()).toEqual([...API_NAMES].sort());
    expect(Object.keys(badInputs).sort()).toEqual([...API_NAMES].sort());
  });

  for (const name of API_NAMES) {
    for (const [input, message] of badInputs[name]) {
      it(`${name}(${JSON.stringify(input.toString().replace(/^\(\) => /, ''))}) is refused`, async () => {
        const error = await handlers[name](input()).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(InputError);
        expect((error as Error).message).toMatch(message);
      });
    }
  }

  it('nothing happened for the refused calls: no run, nothing opened or picked', () => {
    expect(controller.history.list()).toEqual([]);
    expect(platform.opened).toEqual([]);
    expect(platform.picked).toEqual([]);
  });

  it('setSettings answers with field errors for wrong types, relative or missing paths and unknown fields; nothing is saved', async () => {
    const before = controller.getSettings();
    expect(await handlers.setSettings({ ...before, retainDays: 'thirty' })).toEqual({ ok: false, errors: { retainDays: expect.any(String) } });
    expect(await handlers.setSettings({ ...before, dataDir: 'data' })).toEqual({ ok: false, errors: { dataDir: expect.stringContaining('is not a full path') } });
    expect(await handlers.setSettings({ ...before, dataDir: missing() })).toEqual({ ok: false, errors: { dataDir: expect.stringContaining('does not exist') } });
    expect(await handlers.setSettings({ ...before, backupDir: path.join(missing(), 'deeper') })).toEqual({
      ok: false,
      errors: { backupDir: expect.stringContaining('nor its parent folder exists') },
    });
    expect(await handlers.setSettings({ ...before, envFile: 'pds.env' })).toEqual({ ok: false, errors: { envFile: expect.stringContaining('is not a full path') } });
    expect(await handlers.setSettings({ ...before, colour: 'blue', schedule: { ...before.schedule, cron: '* * * * *' } })).toEqual({
      ok: false,
      errors: { colour: 'Unknown setting', 'schedule.cron': 'Unknown setting' },
    });
    expect(await handlers.setSettings('everything')).toMatchObject({ ok: false });
    expect(controller.getSettings()).toEqual(before);
  });
});

describe('API handlers accept good input', () => {
  it('setSettings saves valid settings with a new backup folder whose parent exists', async () => {
    const next = { ...controller.getSettings(), backupDir: path.join(root.dir, 'new-backups'), retainDays: 7 };
    expect(await handlers.setSettings(next)).toEqual({ ok: true, settings: next });
    expect(await handlers.getSettings(undefined)).toEqual(next);
    await handlers.setSettings({ ...next, backupDir });
  });

  it('importEnv returns the implied settings without saving them', async () => {
    const result = await handlers.importEnv({ path: envFile });
    expect(result).toMatchObject({ ok: true, imported: ['BACKUP_RETAIN_DAYS'], settings: { retainDays: 45, envFile } });
    expect(controller.getSettings().retainDays).not.toBe(45);
  });

  it('openFolder opens the backups folder and a backup inside it; pauseSchedule answers with the status', async () => {
    expect(await handlers.openFolder({ target: 'backups' })).toEqual({ opened: true });
    expect(await handlers.openFolder({ target: 'backup', path: aBackup })).toEqual({ opened: true });
    expect(platform.opened).toEqual([backupDir, aBackup]);
    expect(await handlers.pauseSchedule({ paused: true })).toMatchObject({ paused: true });
    expect(await handlers.pickFolder({ purpose: 'backupDir' })).toBeNull();
  });
});
