import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppStatus } from '../../shared/api.js';
import type { Progress } from '../../shared/progress.js';
import { BACKUP_NAME_PATTERN } from '../../shared/components.js';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { createHandlers } from '../../electron/app/handlers.js';
import { History } from '../../electron/app/history.js';
import { measureEventLoopDelay } from '../../electron/app/event-loop.js';
import { ManualClock } from './manual-clock.js';
import { powerMonitor } from './electron-glue/stand-in.js';
import { startController, tempDir, until } from './harness.js';
import { threadsOf } from '../helpers/threads.js';

let root: { dir: string; cleanup(): Promise<void> };
let dataDir: string;

beforeAll(async () => {
  root = await tempDir('controller');
  dataDir = path.join(root.dir, 'data');
  await createFixture(dataDir, { accounts: 4, posts: 20, blobMB: 3, seed: 'controller' });
  // Load (and, under vitest, transform) the engine before measuring the event loop: the built app loads
  // compiled modules, so a first-import transform stall is not part of a backup.
  await Promise.all([import('../../electron/engine/backup.js'), import('../../electron/engine/list.js'), import('../../electron/engine/lock.js')]);
});
afterAll(() => root.cleanup());

/** A controller whose settings point at the fixture and a fresh backup folder. */
async function appFor(name: string, clock?: ManualClock) {
  const userData = path.join(root.dir, name, 'user-data');
  const backupDir = path.join(root.dir, name, 'backups');
  const app = await startController(userData, clock ? { clock } : {});
  await app.controller.updateSettings({ ...app.controller.getSettings(), dataDir, backupDir });
  return { ...app, userData, backupDir };
}

describe('controller', () => {
  it('runs a real backup with progress and status events, records it in the history, and keeps the main loop free', async () => {
    const { controller, platform, userData, backupDir } = await appFor('real');
    const progress: Progress[] = [];
    const states: AppStatus['state'][] = [];
    controller.on('progress', (p) => progress.push(p));
    controller.on('status', (s) => states.push(s.state));

    const appThreadNice = os.getPriority();
    const cpuBefore = { thread: mainThreadCpuMs(), process: process.cpuUsage() };
    const { result: entry, delay } = await measureEventLoopDelay(async () => {
      const started = await controller.startBackup('manual');
      if (!started.started) throw new Error(started.reason);
      return started.done;
    });
    const processCpuMs = (({ user, system }) => (user + system) / 1000)(process.cpuUsage(cpuBefore.process));
    const threadCpuMs = mainThreadCpuMs() - cpuBefore.thread;
    console.log(`main event loop during a small fixture backup: p99 ${delay.p99Ms.toFixed(1)} ms, max ${delay.maxMs.toFixed(1)} ms; CPU: this thread ${threadCpuMs} ms of the process's ${processCpuMs.toFixed(0)} ms`);
    // The engine's work happens on other threads: this one only relays progress. CPU time, unlike delays,
    // does not grow when the machine is busy with other work.
    expect(threadCpuMs / processCpuMs).toBeLessThan(0.25);

    expect(entry).toMatchObject({ kind: 'backup', trigger: 'manual', result: 'success' });
    expect(entry.backupName).toMatch(BACKUP_NAME_PATTERN);
    expect(entry.size).toBeGreaterThan(0);
    expect(await readdir(backupDir)).toContain(entry.backupName);

    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((p) => p.operation === 'backup')).toBe(true);
    expect(new Set(progress.map((p) => p.phase))).toContain('archiving');
    expect(states).toContain('running');
    expect(states.at(-1)).toBe('idle');
    expect(platform.trays.some((t) => t.icon === 'running' && /backing up/.test(t.tooltip))).toBe(true);
    expect(platform.trays.at(-1)!.icon).toBe('idle');

    const status = controller.getStatus();
    expect(status.lastBackup?.name).toBe(entry.backupName);
    expect(status.lastRun?.id).toBe(entry.id);
    expect(status.freeSpace?.freeBytes).toBeGreaterThan(0);
    expect((await controller.listBackups()).map((b) => b.name)).toEqual([entry.backupName]);

    // The history survives a restart of the app.
    const reloaded = new History(userData);
    await reloaded.load();
    expect(reloaded.list()[0]).toEqual(entry);

    // The backup ran below normal priority (the PDS keeps the CPU), and the app's own thread did not.
    if (process.platform === 'linux') {
      const threads = threadsOf('self');
      const niceOf = (tid: string) => threads.find((t) => t.tid === tid)!.nice;
      // Relative to the priority the tests run at (a CI may run them under `nice`).
      const lowered = Math.max(appThreadNice, 10);
      expect(niceOf(readlinkSync('/proc/thread-self').split('/').at(-1)!)).toBe(appThreadNice);
      expect(threads.filter((t) => t.name === 'libuv-worker').map((t) => t.nice)).toEqual(expect.arrayContaining([lowered]));
      expect(threads.filter((t) => t.name === 'libuv-worker' && t.nice !== lowered)).toEqual([]);
      expect(threads.filter((t) => t.name !== 'libuv-worker' && t.nice === lowered).length).toBeGreaterThan(0); // the job worker
    }
  });

  it('verifies, inspects and restores a backup through the API handlers, recording the restore', async () => {
    const { controller } = await appFor('restore');
    const handlers = createHandlers(controller);
    const started = await controller.startBackup('manual');
    if (!started.started) throw new Error(started.reason);
    const backupPath = path.join(controller.backupDir, (await started.done).backupName!);

    const progress: Progress[] = [];
    controller.on('progress', (p) => progress.push(p));
    expect(await handlers.verifyBackup({ path: backupPath, deep: true })).toMatchObject({ ok: true, problems: [] });
    expect(progress.some((p) => p.operation === 'verify')).toBe(true);
    expect(await handlers.inspectBackup({ path: backupPath })).toMatchObject({ ok: true, components: expect.arrayContaining([{ component: 'account', present: true, size: expect.any(Number) }]) });

    const statuses: AppStatus[] = [];
    controller.on('status', (s) => statuses.push(s));
    const restored = await handlers.restore({ path: backupPath, components: ['account'] });
    expect(restored).toMatchObject({ ok: true, result: { restored: ['account'], dataDir } });
    expect(progress.some((p) => p.operation === 'restore')).toBe(true);
    const phases = progress.filter((p) => p.operation === 'restore').map((p) => p.phase);
    expect(phases.indexOf('unpacking')).toBeLessThan(phases.indexOf('swapping'));
    expect(controller.history.list()[0]).toMatchObject({ kind: 'restore', result: 'success', backupName: path.basename(backupPath) });
    // From its first status on, the restore is known as one (before any progress), and it stays known after.
    expect(statuses[0]).toMatchObject({ state: 'running', job: { kind: 'restore', backupPath, components: ['account'] }, lastRestore: { entry: { result: 'running' } } });
    const after = controller.getStatus();
    expect(after).toMatchObject({ state: 'idle', job: null, lastRun: { kind: 'restore', result: 'success' }, lastRestore: { result: { restored: ['account'] }, error: null } });
  });

  it('runs retention after a successful backup, with the settings\' days and floor', async () => {
    const { controller, log, backupDir } = await appFor('retention');
    await controller.updateSettings({ ...controller.getSettings(), retainDays: 30, keepLast: 1 });
    const first = await controller.startBackup('manual');
    if (!first.started) throw new Error(first.reason);
    const oldName = (await first.done).backupName!;
    // Make that backup 60 days old, as its manifest tells it.
    const aged = path.join(backupDir, 'backup_20200101_020000');
    await rename(path.join(backupDir, oldName), aged);
    const manifestFile = path.join(aged, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    manifest.backup_timestamp = '20200101_020000';
    manifest.aurora_backup.created_at = new Date(Date.now() - 60 * 86_400_000).toISOString();
    await writeFile(manifestFile, JSON.stringify(manifest));

    const second = await controller.startBackup('manual');
    if (!second.started) throw new Error(second.reason);
    const entry = await second.done;
    expect(entry.result).toBe('success');
    expect(await readdir(backupDir)).not.toContain('backup_20200101_020000');
    expect((await controller.listBackups()).map((b) => b.name)).toEqual([entry.backupName]);
    expect(log.lines.some((l) => l.text.includes('removed by retention: backup_20200101_020000'))).toBe(true);
  });

  it('a corrupt settings file is kept aside and reported with a notification that opens the settings', async () => {
    const { dir, cleanup } = await tempDir('corrupt');
    await writeFile(path.join(dir, 'settings.json'), '{ not json');
    const { controller, platform, log } = await startController(dir);
    expect(controller.getSettings().retainDays).toBe(30);
    expect(platform.notices).toEqual([expect.objectContaining({ condition: 'settings', view: 'settings', body: expect.stringContaining('settings.corrupt-') })]);
    expect(log.lines.some((l) => l.level === 'error' && l.text.includes('could not be used'))).toBe(true);
    expect((await readdir(dir)).some((f) => f.startsWith('settings.corrupt-'))).toBe(true);
    await cleanup();
  });

  it('refuses a second backup while one runs in the app', async () => {
    const { controller } = await appFor('twice');
    const first = await controller.startBackup('manual');
    const second = await controller.startBackup('manual');
    expect(first.started).toBe(true);
    expect(second).toEqual({ started: false, busy: true, reason: 'A backup is already running in this app.' });
    if (first.started) await first.done;
  });

  it('a failed backup is recorded with its reason, shown in the tray and notified once', async () => {
    const { controller, platform } = await appFor('failing');
    await controller.updateSettings({ ...controller.getSettings(), dataDir: path.join(root.dir, 'no-such-data') });
    for (let i = 0; i < 3; i++) {
      const started = await controller.startBackup('schedule');
      if (!started.started) throw new Error(started.reason);
      const entry = await started.done;
      expect(entry.result).toBe('failed');
      expect(entry.error).toContain('no-such-data');
    }
    expect(controller.getStatus().state).toBe('failed');
    expect(platform.trays.at(-1)!.icon).toBe('failed');
    const failures = platform.notices.filter((n) => n.condition === 'failure');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.body).toContain('no-such-data');

    // A good backup made outside the app (as `aurora-backup backup` does) ends the failed state.
    await runBackup({ dataDir, backupDir: controller.backupDir });
    await controller.tick();
    expect(controller.getStatus().state).toBe('idle');
    expect(platform.trays.at(-1)!.icon).toBe('idle');
  });

  it('cancel and quitting mid-backup leave no folder that looks like a backup', async () => {
    const { controller, backupDir } = await appFor('cancel');
    const started = await controller.startBackup('manual');
    if (!started.started) throw new Error(started.reason);
    await new Promise<void>((resolve) => controller.once('progress', () => resolve()));
    expect(controller.cancel()).toEqual({ cancelled: true });
    expect((await started.done).result).toBe('cancelled');
    expect((await readdir(backupDir)).filter((f) => BACKUP_NAME_PATTERN.test(f) || f.startsWith('.incomplete'))).toEqual([]);

    const again = await controller.startBackup('manual');
    if (!again.started) throw new Error(again.reason);
    await new Promise<void>((resolve) => controller.once('progress', () => resolve()));
    await controller.shutdown();
    expect((await again.done).result).toBe('cancelled');
    expect(controller.runningJob()).toBeNull();
    expect((await readdir(backupDir)).filter((f) => BACKUP_NAME_PATTERN.test(f) || f.startsWith('.incomplete'))).toEqual([]);
  });

  it('history and state read back from disk are checked, not trusted: lines of another shape are skipped', async () => {
    const { dir, cleanup } = await tempDir('read-back');
    const good = { id: 'a', kind: 'backup', trigger: 'manual', startedAt: '2025-03-22T02:00:00.000Z', endedAt: '2025-03-22T02:01:00.000Z', result: 'success', backupName: 'backup_20250322_020000', size: 10 };
    const lines = [good, { ...good, id: 'b', result: 'lost' }, { ...good, id: 'c', startedAt: 'yesterday' }, { id: 'd', startedAt: '2025-03-23T02:00:00.000Z' }, { ...good, id: 'e', size: '10' }];
    await writeFile(path.join(dir, 'history.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n{"id":"f","kind":"back`);
    await writeFile(path.join(dir, 'state.json'), JSON.stringify({ paused: 'yes' }));
    const { controller } = await startController(dir);
    expect(controller.history.list()).toEqual([good]);
    expect(controller.getStatus().paused).toBe(false);
    await cleanup();
  });

  it('a run cut short by a crash is reported as interrupted after the restart', async () => {
    const { dir, cleanup } = await tempDir('history');
    const history = new History(dir);
    await history.load();
    await history.start('backup', 'schedule');
    const after = new History(dir);
    await after.load();
    expect(after.list()[0]).toMatchObject({ result: 'failed', error: expect.stringContaining('The app stopped while this run was in progress') });
    await cleanup();
  });
});

/** CPU time (user + system) this thread has used, in ms (Linux: /proc, in clock ticks of 10 ms). */
function mainThreadCpuMs(): number {
  const fields = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Another process (as `aurora-backup backup` does) takes the backup folder's lock and keeps it. */
async function holdLock(backupDir: string): Promise<ChildProcess> {
  const script = `import { acquireBackupLock } from ${JSON.stringify(path.resolve('electron/engine/lock.ts'))};
    await acquireBackupLock(${JSON.stringify(backupDir)}, 'backup'); console.log('locked'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return child;
}


describe('the backup-folder lock shared with the CLI', () => {
  let holder: ChildProcess | null = null;
  afterAll(() => void holder?.kill('SIGKILL'));

  it('the app reports "busy" naming the other process, and takes over once that process is gone', async () => {
    const { controller, backupDir } = await appFor('lock');
    await import('node:fs/promises').then((fs) => fs.mkdir(backupDir, { recursive: true }));
    holder = await holdLock(backupDir);

    const refused = await controller.startBackup('manual');
    expect(refused).toMatchObject({ started: false, busy: true });
    if (!refused.started) expect(refused.reason).toContain(`Another backup is running on ${backupDir} (process ${holder.pid}`);
    expect(controller.runningJob()).toBeNull();

    // The holder crashes without releasing: its lock does not block forever.
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder!.once('exit', resolve));
    expect(existsSync(path.join(backupDir, '.aurora-backup.lock'))).toBe(true);
    const started = await controller.startBackup('manual');
    if (!started.started) throw new Error(started.reason);
    expect((await started.done).result).toBe('success');
  });
});

describe('waking from sleep', () => {
  afterAll(() => void powerMonitor.removeAllListeners('resume'));

  it("Electron's resume after a night asleep runs the slept-through 02:00 backup a minute after waking, not when the late timer fires", async () => {
    const MINUTE = 60_000;
    const clock = new ManualClock(new Date(2025, 2, 22, 23, 0));
    const { controller, backupDir } = await appFor('wake', clock);
    powerMonitor.on('resume', () => controller.resumed()); // as electron/main.ts wires it (electron-glue.test checks that it does)
    await controller.updateSettings({ ...controller.getSettings(), schedule: { enabled: true, mode: 'daily', intervalHours: 24, dailyAt: '02:00' } });
    expect(controller.getStatus().nextRunAt).toBe(new Date(2025, 2, 23, 2, 0).toISOString());

    // Asleep from 23:00 to 07:00: the wall clock jumps, the 02:00 timer (on libuv's stopped clock) is now 8 hours late.
    clock.sleep(8 * 60 * MINUTE);
    await clock.advance(MINUTE);
    expect(controller.history.list()).toEqual([]); // nothing noticed the night went by

    powerMonitor.emit('resume');
    await clock.advance(MINUTE);
    await until(() => controller.history.list()[0]?.result === 'success', 'the run after waking');
    const [run] = controller.history.list();
    expect(run).toMatchObject({ kind: 'backup', trigger: 'catch-up', result: 'success' });
    expect(new Date(run!.startedAt)).toEqual(new Date(2025, 2, 23, 7, 2)); // 07:01 awake, a minute to settle
    expect(await readdir(backupDir)).toContain(run!.backupName);
  });
});

describe('scheduled backups and the CLI lock', () => {
  it('a scheduled run that finds the CLI holding the backup folder is postponed, not failed, and runs once the CLI is done', async () => {
    const clock = new ManualClock(new Date());
    const { controller, platform, log, backupDir } = await appFor('scheduled-lock', clock);
    await controller.updateSettings({ ...controller.getSettings(), schedule: { enabled: true, mode: 'interval', intervalHours: 1, dailyAt: '02:00' } });
    await import('node:fs/promises').then((fs) => fs.mkdir(backupDir, { recursive: true }));
    const holder = await holdLock(backupDir);
    try {
      await clock.advance(3_600_000);
      await until(() => log.lines.some((l) => l.text.includes('scheduled backup postponed')), 'the postponed run');
      expect(log.lines.find((l) => l.text.includes('scheduled backup postponed'))!.text).toContain(`process ${holder.pid}`);
      expect(controller.history.list()).toEqual([]);
      expect(platform.notices.filter((n) => n.condition === 'failure')).toEqual([]);
      expect(controller.getStatus().nextRunAt).toBe(new Date(clock.now().getTime() + 10 * 60_000).toISOString());
    } finally {
      holder.kill('SIGTERM');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    await clock.advance(10 * 60_000);
    await until(() => controller.history.list()[0]?.result === 'success', 'the retried run');
    expect(controller.history.list()).toMatchObject([{ kind: 'backup', trigger: 'catch-up', result: 'success' }]);
  });
});
