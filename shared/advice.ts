/**
 * Where the user changes a setting, worded per front end: one table for every message that gives such
 * advice. The engine builds its messages with `advice()` (the command line's words, which the CLI prints
 * as they are); the desktop window and the browser bridge show the same message through `forApp()`,
 * which names the field in Settings instead of a flag or a variable.
 */
const ADVICE = {
  passDataDir: { cli: 'Pass --data with', app: 'Set the "PDS data directory" setting to' },
  orSetDataDirEnv: { cli: ', or set PDS_DATA_DIRECTORY', app: '' },
  backupDir: { cli: '--out or BACKUP_DIR', app: 'the "Backup folder" setting' },
  withBackupDir: { cli: 'with --out or BACKUP_DIR', app: 'in the "Backup folder" setting' },
  backupDirFlag: { cli: '--out', app: 'the "Backup folder" setting' },
  retainDays: { cli: 'BACKUP_RETAIN_DAYS', app: 'the "Delete backups older than" setting' },
  envFile: { cli: 'given with --env-file', app: 'in the "PDS .env file" setting' },
  compression: { cli: 'Set BACKUP_COMPRESSION=gzip or pass --compression gzip', app: 'Choose gzip in the "Compression" setting' },
} as const;

export type Advice = keyof typeof ADVICE;

/** The advice as the command line words it; `forApp` turns it into the window's words. */
export const advice = (name: Advice): string => ADVICE[name].cli;

// Longest first, so "with --out or BACKUP_DIR" is replaced whole before "--out" alone.
const REPLACEMENTS = Object.values(ADVICE).sort((a, b) => b.cli.length - a.cli.length);

/** A message from the engine, with each setting named the way the window shows it. */
export function forApp(message: string): string {
  let out = message;
  for (const { cli, app } of REPLACEMENTS) out = out.replaceAll(cli, app);
  return out;
}
