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
  listFolders: [
    [() => ({ path: 'backups' }), 'is not a full path'],
    [() => ({ path: missing() }), 'does not exist'],
    [() => ({ path: envFile }), 'is not a folder'],
    [() => ({ path: root.dir, hidden: true }), 'hidden'],
  ],
  readLog: [
    [() => ({}), 'lines'],
    [() => ({ lines: 0 }), 'lines'],
    [() => ({ lines: 5000 }), 'lines'],
    [() => ({ lines: 10, level: 'debug' }), 'level'],
  ],
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
    [() => ({ path: aBackup, components: ['account'], decryption: { identityPath: 'key.txt' } }), 'is not a full path'],
    [() => ({ path: aBackup, components: ['account'], decryption: { identityPath: missing() } }), 'does not exist'],
    [() => ({ path: aBackup, components: ['account'], decryption: { passphrase: '' } }), 'decryption'],
    [() => ({ path: aBackup, components: ['account'], decryption: { remembered: false } }), 'decryption'],
    [() => ({ path: aBackup, components: ['account'], secrets: 'yes' }), 'secrets'],
    [() => ({ path: aBackup, components: ['account'], decryption: { passphrase: 'x', identityPath: envFile } }), 'decryption'],
  ],
  answerConfigQuestion: [
    [() => ({}), 'choice'],
    [() => ({ choice: 'merge' }), 'choice'],
  ],
  getEncryption: [[() => ({ secrets: true }), 'Invalid input for getEncryption']],
  generateEncryptionKey: [
    [() => ({}), 'keepCopy'],
    [() => ({ keepCopy: 'yes' }), 'keepCopy'],
    [() => ({ keepCopy: false, identityPath: '' }), 'A path is required'],
    [() => ({ keepCopy: false, identity: 'AGE-SECRET-KEY-1' }), 'identity'],
  ],
  setEncryption: [
    [() => ({}), 'mode'],
    [() => ({ mode: 'gpg' }), 'mode'],
    [() => ({ mode: 'recipients', recipients: [] }), 'Paste at least one public key'],
    [() => ({ mode: 'recipients', recipients: 'age1' }), 'recipients'],
    [() => ({ mode: 'passphrase', passphrase: 'short' }), 'at least 10 characters'],
    [() => ({ mode: 'off', passphrase: 'a long enough passphrase' }), 'passphrase'],
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
  listTargets: [[() => ({ all: true }), 'Invalid input for listTargets']],
  addTarget: [
    [() => ({}), 'Invalid input for addTarget'],
    [() => ({ target: { type: 'folder', name: 'x', path: '/tmp' }, secret: '' }), 'secret'],
    [() => ({ target: { type: 'folder', name: 'x', path: '/tmp' }, pin: true }), 'pin'],
  ],
  testTarget: [
    [() => ({}), 'name'],
    [() => ({ name: 'nowhere' }), 'There is no off-site target named "nowhere"'],
  ],
  removeTarget: [[() => ({ name: 5 }), 'name']],
  copyStates: [[() => ({ target: 'x' }), 'Invalid input for copyStates']],
  copyBackup: [
    [() => ({}), 'path'],
    [() => ({ path: relative }), 'is not a full path'],
    [() => ({ path: root.dir }), 'is not a backup in the backups folder'],
    [() => ({ path: aBackup, target: 'nowhere' }), 'There is no off-site target named "nowhere"'],
  ],
  listTargetBackups: [[() => ({ name: 'nowhere' }), 'There is no off-site target named "nowhere"']],
  downloadFromTarget: [
    [() => ({ name: 'x', backupName: '../../etc' }), 'A backup name like backup_20250322_143022'],
    [() => ({ name: 'nowhere', backupName: 'backup_20250322_143022' }), 'There is no off-site target named "nowhere"'],
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

  it('setSettings refuses a file as the backup folder, a folder that is not a PDS as the data directory, and a compression backups cannot be written with', async () => {
    const before = controller.getSettings();
    expect(await handlers.setSettings({ ...before, backupDir: envFile })).toEqual({ ok: false, errors: { backupDir: `${envFile} is a file, not a folder. Choose a folder to keep backups in.` } });
    const photos = path.join(root.dir, 'photos');
    await mkdir(photos, { recursive: true });
    await writeFile(path.join(photos, 'beach.jpg'), 'not a PDS');
    expect(await handlers.setSettings({ ...before, dataDir: photos })).toEqual({ ok: false, errors: { dataDir: expect.stringContaining('does not look like a PDS data directory') } });
    expect(await handlers.setSettings({ ...before, compression: 'xz' })).toEqual({ ok: false, errors: { compression: expect.stringContaining('Choose gzip, zstd, none') } });
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

  it('listFolders lists the sub-folders of a folder, marks backups, and names the parent', async () => {
    await writeFile(path.join(aBackup, 'manifest.json'), '{}');
    await mkdir(path.join(backupDir, '.hidden'), { recursive: true });
    const listing = await handlers.listFolders({});
    expect(listing).toEqual({ path: backupDir, parent: root.dir, folders: [{ name: 'backup_20250322_143022', path: aBackup, backup: true }] });
    expect((await handlers.listFolders({ path: '/' })).parent).toBeNull();
  });

  it('readLog answers with the last lines of the log file, of a level and above', async () => {
    await mkdir(path.dirname(controller.logPath), { recursive: true });
    await writeFile(
      controller.logPath,
      ['[2025-03-22 14:30:00.000] [info]  started', '[2025-03-22 14:31:00.000] [error] backup failed:', '  caused by: disk full', '[2025-03-22 14:32:00.000] [warn]  slow'].join('\n') + '\n',
    );
    expect(await handlers.readLog({ lines: 2 })).toEqual({
      path: controller.logPath,
      more: true,
      lines: [
        { level: 'error', text: '[2025-03-22 14:31:00.000] [error] backup failed:\n  caused by: disk full' },
        { level: 'warn', text: '[2025-03-22 14:32:00.000] [warn]  slow' },
      ],
    });
    expect((await handlers.readLog({ lines: 10, level: 'error' })).lines.map((l) => l.level)).toEqual(['error']);
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
