import type { View } from '../../shared/api.js';
import type { TrayModel } from './tray-model.js';

export type FolderPurpose = 'dataDir' | 'backupDir' | 'restore' | 'envFile' | 'identityFile';

/** A notification to show; clicking it opens the window at `view`. */
export interface Notice {
  /** The condition it reports, e.g. `failure`, `stale`; used to avoid repeating it. */
  condition: string;
  title: string;
  body: string;
  view: View;
  backupName?: string;
}

/**
 * What only the desktop runtime can do. Electron implements it in electron/main.ts; `serve` (plain Node)
 * uses `headlessPlatform`; tests pass a recording fake. Everything else in electron/app is plain Node.
 */
export interface Platform {
  showNotification(notice: Notice): void;
  setTray(model: TrayModel): void;
  /** Resolves to '' on success or an error message (Electron's shell.openPath convention). */
  openPath(path: string): Promise<string>;
  pickFolder(purpose: FolderPurpose): Promise<string | null>;
  /** Where to save a new file (a save dialog); null when the user cancelled or there is no desktop. */
  pickSaveFile(purpose: 'identityFile'): Promise<string | null>;
  setLaunchAtLogin(enabled: boolean): void;
}

/** For `aurora-backup serve`: no desktop, so nothing to open or pick; notifications only go to the log. */
export function headlessPlatform(log: { info(...args: unknown[]): void }): Platform {
  return {
    showNotification: (notice) => log.info(`notification [${notice.condition}]: ${notice.title}: ${notice.body}`),
    setTray: () => {},
    openPath: async (path) => `This server has no desktop to open ${path} on; open it on the server itself.`,
    pickFolder: async () => null,
    pickSaveFile: async () => null,
    setLaunchAtLogin: () => {},
  };
}
