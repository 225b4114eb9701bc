import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Controller, type ControllerOptions } from '../../electron/app/controller.js';
import type { Logger } from '../../electron/app/log.js';
import type { FolderPurpose, Notice, Platform } from '../../electron/app/platform.js';
import type { TrayModel } from '../../electron/app/tray-model.js';
import type { AppStatus } from '../../shared/api.js';

/** The Electron boundary, recorded: what the app would have shown or opened. */
export class RecordingPlatform implements Platform {
  notices: Notice[] = [];
  trays: TrayModel[] = [];
  opened: string[] = [];
  picked: FolderPurpose[] = [];
  /** What pickFolder and pickSaveFile answer, as a user choosing in the dialog would (default: cancelled). */
  answers: Partial<Record<FolderPurpose, string>> = {};
  saveAnswers: Partial<Record<'identityFile', string>> = {};
  launchAtLogin: boolean[] = [];
  showNotification(notice: Notice): void {
    this.notices.push(notice);
  }
  setTray(model: TrayModel): void {
    this.trays.push(model);
  }
  async openPath(p: string): Promise<string> {
    this.opened.push(p);
    return '';
  }
  async pickFolder(purpose: FolderPurpose): Promise<string | null> {
    this.picked.push(purpose);
    return this.answers[purpose] ?? null;
  }
  async pickSaveFile(purpose: 'identityFile'): Promise<string | null> {
    this.picked.push(purpose);
    return this.saveAnswers[purpose] ?? null;
  }
  setLaunchAtLogin(enabled: boolean): void {
    this.launchAtLogin.push(enabled);
  }
}

export class RecordingLog implements Logger {
  lines: Array<{ level: string; text: string }> = [];
  info = (...args: unknown[]) => void this.lines.push({ level: 'info', text: args.map(String).join(' ') });
  warn = (...args: unknown[]) => void this.lines.push({ level: 'warn', text: args.map(String).join(' ') });
  error = (...args: unknown[]) => void this.lines.push({ level: 'error', text: args.map(String).join(' ') });
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `aurora-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A started controller on `userDataDir`. Relative paths in its settings (the defaults ./data and ./backups)
 * resolve inside that folder, never against the working directory, whatever it holds.
 */
export async function startController(userDataDir: string, extra: Partial<ControllerOptions> = {}) {
  const platform = new RecordingPlatform();
  const log = new RecordingLog();
  const controller = new Controller({ userDataDir, platform, log, logPath: path.join(userDataDir, 'logs', 'main.log'), checkEveryMs: 0, baseDir: userDataDir, ...extra });
  await controller.start();
  return { controller, platform, log };
}

/** Resolves with the first status (the current one included) that satisfies `test`. */
export function statusWhere(controller: Controller, test: (s: AppStatus) => boolean): Promise<AppStatus> {
  return new Promise((resolve) => {
    if (test(controller.getStatus())) return resolve(controller.getStatus());
    const listener = (s: AppStatus) => {
      if (!test(s)) return;
      controller.off('status', listener);
      resolve(s);
    };
    controller.on('status', listener);
  });
}

/**
 * Polls (in real time) until `check` holds, for what announces no event (history lines, files). Gives up
 * after 4 minutes, naming `what`, a little before the test's own hang guard.
 */
export async function until(check: () => boolean, what: string): Promise<void> {
  for (const end = Date.now() + 240_000; Date.now() < end; ) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
