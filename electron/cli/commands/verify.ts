import { countOf } from '../../../shared/format.js';
import { CliError, type Command } from '../command.js';
import { EngineError } from '../../engine/errors.js';
import { decryptionKeysFrom } from '../../engine/crypto/backup-keys.js';
import { LEGACY_NOTE, verifyBackup } from '../../engine/verify.js';
import { createProgressBar } from '../progress-bar.js';
import { resolveBackupPath } from '../../engine/list.js';
import { backupDirFrom } from './list.js';

const help = `Usage: aurora-backup verify <backup> [--deep] [--identity FILE | --passphrase-file FILE] [--out DIR] [--env-file FILE] [--json]

Checks a backup folder without changing it: a path, or a name as \`list\` prints it
(backup_YYYYMMDD_HHMMSS, pre-restore_…), looked for in the backup directory (--out, else BACKUP_DIR
from the environment or the PDS's .env file, else ./backups).

Quick (default): manifest.json is present and every file has the size and SHA-256 it records.
Deep: also decompresses everything, lists every archive and runs PRAGMA integrity_check on every
database snapshot (unpacked to a temporary file).

Backups made by the original scripts/backup.sh have no checksums: for them every stream is
decompressed, every archive listed and every database integrity-checked, even without --deep.

Exit code 0 when the backup is good, 1 when anything is wrong (each problem is named with its file).

Options:
  --deep                  Also decompress, list archives and integrity-check databases
  --json                  Print the report as JSON on stdout
  --out DIR               Backup directory, where a backup given by name is looked for
  --env-file FILE         The PDS's .env file (default ./.env when it exists)
  --identity FILE         An encrypted backup's age identity file (AGE-SECRET-KEY-1…), for --deep;
                          repeatable
  --passphrase-file FILE  An encrypted backup's passphrase (first line of FILE), for --deep

An encrypted backup's quick check needs no key: manifest.json records each encrypted file's SHA-256.

Examples:
  aurora-backup verify backups/backup_20250322_143022
  aurora-backup verify backups/backup_20250322_143022 --deep --json`;

export const command: Command = {
  summary: 'Check a backup: sizes and SHA-256 (quick) or also every archive and database (--deep)',
  help,
  options: { deep: { type: 'boolean' }, json: { type: 'boolean' }, out: { type: 'string' }, 'env-file': { type: 'string' }, identity: { type: 'string', multiple: true }, 'passphrase-file': { type: 'string' } },
  async run({ values, positionals }) {
    const [backup, ...extra] = positionals;
    if (!backup || extra.length) throw new CliError('Give exactly one backup folder: aurora-backup verify <backup>. See --help.', 2);
    const bar = createProgressBar();
    let report;
    try {
      const decryption = await decryptionKeysFrom((values.identity as string[] | undefined) ?? [], values['passphrase-file'] as string | undefined);
      report = await verifyBackup(resolveBackupPath(backup, (await backupDirFrom(values)).backupDir), { deep: Boolean(values.deep), decryption, onProgress: values.json ? undefined : (p) => bar.update(p) });
    } catch (error) {
      if (error instanceof EngineError) throw new CliError(error.message, 1, error.code);
      throw error;
    } finally {
      bar.finish();
    }

    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
      return report.ok ? 0 : 1;
    }
    console.log(`${report.deep ? 'Deep' : 'Quick'} check of ${report.backupPath}`);
    const width = Math.max(...report.files.map((f) => f.path.length));
    for (const file of report.files) console.log(`  ${file.ok ? 'ok  ' : 'FAIL'}  ${file.path.padEnd(width)}  ${file.detail}`);
    if (report.notice) console.log(`\nNote: ${report.notice}`);
    if (!report.checksumsAvailable) {
      console.log(`\nNote: ${LEGACY_NOTE}; checked instead that every file decompresses, every archive lists and every database passes integrity_check.`);
    }
    if (report.ok) {
      console.log('\nBackup is good.');
      return 0;
    }
    console.log(`\nBackup has ${countOf(report.problems.length, 'problem')}:`);
    for (const problem of report.problems) console.log(`  - ${problem}`);
    return 1;
  },
};
