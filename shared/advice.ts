/**
 * Where the user changes a setting, worded per front end. Engine messages name settings through
 * `setting()` (the command line's words, which the CLI prints as they are); the desktop window and the
 * browser bridge show the same message through `forApp()`, which names the field in Settings instead.
 */
const SETTINGS = {
  dataDir: { cli: '--data', app: 'the "PDS data directory" setting' },
  dataDirEnv: { cli: '--data, or set PDS_DATA_DIRECTORY', app: 'the "PDS data directory" setting' },
  backupDir: { cli: '--out or BACKUP_DIR', app: 'the "Backup folder" setting' },
  backupDirFlag: { cli: '--out', app: 'the "Backup folder" setting' },
  retainDays: { cli: 'BACKUP_RETAIN_DAYS', app: 'the "Delete backups older than" setting' },
  envFile: { cli: '--env-file', app: 'the "PDS .env file" setting' },
  compression: { cli: 'BACKUP_COMPRESSION (or --compression)', app: 'the "Compression" setting' },
} as const;

export type SettingName = keyof typeof SETTINGS;

/** The setting as the command line names it; `forApp` turns it into the window's words. */
export const setting = (name: SettingName): string => SETTINGS[name].cli;

// Longest first, so "--out or BACKUP_DIR" is replaced whole before "--out" alone.
const REPLACEMENTS = Object.values(SETTINGS).sort((a, b) => b.cli.length - a.cli.length);

/** A message from the engine, with each setting named the way the window shows it. */
export function forApp(message: string): string {
  let out = message;
  for (const { cli, app } of REPLACEMENTS) out = out.replaceAll(cli, app);
  return out;
}
