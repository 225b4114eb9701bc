import { existsSync } from 'node:fs';
import path from 'node:path';
import { BACKUP_NAME_PATTERN } from '../../../shared/components.js';
import { EngineError } from '../../engine/errors.js';
import type { TargetCopyResult } from '../../../shared/targets.js';
import { cancelOnSignals, CliError, wholeNumber, type Command } from '../command.js';
import { copyToNamedTargets } from '../offsite-after-backup.js';
import { configuredTargets, TARGET_OPTIONS, targetOptionsHelp, TARGET_URL_HELP } from '../targets-config.js';
import { backupDirFrom } from './list.js';

const help = `Usage: aurora-backup copy <backup> --to TARGET [--to TARGET …] [--targets FILE] [--ssh-key FILE] [--json]

Copies a backup folder to off-site targets, in the same layout as the local backup directory. Each file
is sent into .incomplete-<backup>/ on the target and checked there (S3: by the server's ETag; elsewhere
read back) against manifest.json's size and SHA-256 before the folder gets its final name. What the target already holds is not sent again:
a complete copy is left as it is, an interrupted copy is continued where it stopped. The local backup
is only read. After a successful copy, the target's retention (retainDays/keepLast in the targets
file) removes older copies there, never the newest complete one.

<backup> is a backup folder, or the name of one in the backup directory (--out, else BACKUP_DIR, else
./backups). Without --to, it goes to every enabled target of the targets file.

${TARGET_URL_HELP}

Options:
  --to TARGET         Where to copy (repeatable)
${targetOptionsHelp(22)}
  --out DIR           Backup directory to find <backup> in by name
  --bwlimit KIB       Upload limit in KiB/s (default: the target's bandwidthLimitKiBps, else none)
  --no-prune          Do not apply the target's retention
  --json              Print the results as JSON on stdout

Exit status: 0 when every copy succeeded, 1 when one failed (each target is tried).

Examples:
  aurora-backup copy backup_20250322_143022 --to /mnt/usb/aurora
  AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… aurora-backup copy backups/backup_20250322_143022 \\
      --to "s3://my-bucket/aurora?endpoint=https://s3.eu-central-003.backblazeb2.com&region=eu-central-003"
  aurora-backup copy backup_20250322_143022 --to sftp://backup@nas.local:22/volume1/aurora --ssh-key ~/.ssh/id_ed25519`;

/** `<backup>`: a folder path, or a name in the backup directory. */
export async function localBackupPath(arg: string, values: Record<string, unknown>): Promise<string> {
  if (existsSync(arg) || !BACKUP_NAME_PATTERN.test(arg)) return path.resolve(arg);
  const { backupDir } = await backupDirFrom(values);
  return path.join(backupDir, arg);
}

export const command: Command = {
  summary: 'Copy a backup to off-site targets (folder, S3-compatible, SFTP)',
  help,
  options: {
    to: { type: 'string', multiple: true },
    ...TARGET_OPTIONS,
    out: { type: 'string' },
    'env-file': { type: 'string' },
    bwlimit: { type: 'string' },
    'no-prune': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new CliError(positionals.length ? `Unexpected argument "${positionals[1]}".` : 'Name the backup to copy. See aurora-backup copy --help.', 2);
    const bwlimit = wholeNumber(values.bwlimit, '--bwlimit', 1);
    const backupPath = await localBackupPath(positionals[0]!, values);
    const names = (values.to as string[] | undefined) ?? [];
    if (names.length === 0) {
      const { specs, file } = await configuredTargets(values);
      if (!specs.some((s) => s.enabled)) throw new CliError(`Say where to copy with --to TARGET${file ? ` (${file} has no enabled target)` : ''}. See aurora-backup copy --help.`, 2);
    }
    const json = values.json === true;
    const cancel = cancelOnSignals({ cancelling: 'Cancelling… (what was sent stays in .incomplete-… on the target, and the next copy continues it)' });
    let results: TargetCopyResult[];
    try {
      results = await copyToNamedTargets(backupPath, names, values, { json, signal: cancel.signal, bandwidthLimitKiBps: bwlimit, prune: !values['no-prune'] });
    } catch (error) {
      if (cancel.signal.aborted) throw new CliError('Copy cancelled; the next copy continues where this one stopped.', 130);
      if (error instanceof EngineError) throw new CliError(error.message);
      throw error;
    } finally {
      cancel.dispose();
    }
    if (json) console.log(JSON.stringify({ ok: results.every((r) => r.ok), backupPath, copies: results }));
    return results.every((r) => r.ok) ? 0 : 1;
  },
};
