import { existsSync } from 'node:fs';
import { DEFAULT_SETTINGS } from '../../../shared/settings.js';
import { CliError, wholeNumber, type Command } from '../command.js';
import { EngineError } from '../../engine/errors.js';
import { acquireBackupLock } from '../../engine/lock.js';
import { pruneBackups } from '../../engine/prune.js';
import { backupDirFrom } from './list.js';

const help = `Usage: aurora-backup prune [--out DIR] [--env-file FILE] [--retain-days N] [--keep-last N] [--dry-run] [--json]

Removes backups older than the retention, as BACKUP_RETAIN_DAYS in the guide, with a floor:
  - the newest complete backup is never removed, and never fewer than --keep-last complete backups stay;
  - only backup_YYYYMMDD_HHMMSS folders are ever removed (ours or the original backup.sh's): other
    files and folders, symlinks, pre-restore_* backups and unfinished runs are left alone.
A folder is renamed to .deleting-… before it is deleted, so an interruption never leaves a
half-deleted folder that looks like a backup; the next prune finishes the job.

Options:
  --out DIR          Backup directory (default: BACKUP_DIR from the environment or .env, else ./backups)
  --env-file FILE    The PDS's .env file (default ./.env when it exists)
  --retain-days N    Remove backups more than N days old (default: BACKUP_RETAIN_DAYS, else 30)
  --keep-last N      Always keep the N newest complete backups (default ${DEFAULT_SETTINGS.keepLast}, at least 1)
  --dry-run          Show what would be removed, remove nothing
  --json             Print {"backupDir", "dryRun", "removed", "kept", "reasons", "failed"} as JSON on stdout

Exit code 0, or 1 when a folder that was due could not be removed (each one is named).

Example:
  aurora-backup prune --retain-days 14 --keep-last 5 --dry-run`;

export const command: Command = {
  summary: 'Remove backups older than the retention, always keeping the newest complete ones',
  help,
  options: {
    out: { type: 'string' },
    'env-file': { type: 'string' },
    'retain-days': { type: 'string' },
    'keep-last': { type: 'string' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run({ values, positionals }) {
    if (positionals.length) throw new CliError(`Unexpected argument "${positionals[0]}". Use --out DIR for the backup directory.`, 2);
    const retainFlag = wholeNumber(values['retain-days'], '--retain-days', 0);
    const keepLast = wholeNumber(values['keep-last'], '--keep-last', 1) ?? DEFAULT_SETTINGS.keepLast;
    const { backupDir, retainDays } = await backupDirFrom(values);
    const dryRun = Boolean(values['dry-run']);

    let result;
    // The lock keeps prune from deleting while a backup or restore works in the same directory.
    const lock = dryRun || !existsSync(backupDir) ? null : await acquireBackupLock(backupDir, 'prune').catch((error: unknown) => {
      throw error instanceof EngineError ? new CliError(error.message, 1, error.code) : error;
    });
    try {
      result = await pruneBackups({ backupDir, retainDays: retainFlag ?? retainDays, keepLast, dryRun });
    } catch (error) {
      if (error instanceof EngineError) throw new CliError(error.message, 1, error.code);
      throw error;
    } finally {
      await lock?.release();
    }

    const exitCode = result.failed.length ? 1 : 0;
    if (values.json) {
      console.log(JSON.stringify({ backupDir, dryRun, ...result }, null, 2));
      return exitCode;
    }
    if (result.removed.length + result.kept.length === 0) {
      console.log(`No backups in ${backupDir}.`);
      return 0;
    }
    const label = (text: string) => text.padEnd(13);
    for (const name of result.removed) console.log(`${label(dryRun ? 'Would remove' : 'Removed')}${name}: ${result.reasons[name]}`);
    for (const name of result.kept) console.log(`${label('Kept')}${name}: ${result.reasons[name]}`);
    for (const failure of result.failed) console.error(failure);
    console.log(`\n${result.removed.length} ${dryRun ? 'would be removed' : 'removed'}, ${result.kept.length} kept in ${backupDir}.`);
    return exitCode;
  },
};
