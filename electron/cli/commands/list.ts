import type { BackupSummary } from '../../../shared/api.js';
import { CliError, type Command } from '../command.js';
import { resolveConfig } from '../../engine/config.js';
import { EngineError } from '../../engine/errors.js';
import { listBackups } from '../../engine/list.js';
import { formatBytes } from '../../../shared/format.js';
import { listTargetBackups } from '../../engine/targets/catalog.js';
import { TARGET_OPTIONS, targetOptionsHelp, targetFromArg } from '../targets-config.js';

const help = `Usage: aurora-backup list [--out DIR] [--env-file FILE] [--json]
       aurora-backup list --target TARGET [--targets FILE] [--ssh-key FILE] [--json]

Lists the backups in the backup directory, newest first: every backup_YYYYMMDD_HHMMSS folder (ours and
those made by the original scripts/backup.sh), every pre-restore_YYYYMMDD_HHMMSS folder (the data a
restore replaced, marked with the restore it came before) and leftovers of unfinished runs, with time,
age, kind, size and status. KIND is full (the guide's layout: the original restore.sh can restore it)
or incr (incremental: stores only what changed since the backup before it and is restored, by this tool
only, through its chain). SIZE is what the folder itself takes; STANDS FOR what a restore of it reads,
its chain included. ENCRYPTED says what a restore of it needs: "age key" (--identity FILE), "passphrase"
(--passphrase-file FILE), or "-" (not encrypted). Status:
  complete     manifest.json is valid and every file it lists is there with the recorded size
  incomplete   an unfinished run, no manifest.json, or files missing (for an incremental backup, also
               a backup of its chain missing, deleted by hand say: it is named)
  corrupt      manifest.json does not parse, or a file has the wrong size
This is a quick look (no checksums): use \`aurora-backup verify\` to check a backup's contents.

The backup directory is --out, else BACKUP_DIR from the environment or the PDS's .env file, else ./backups.

Options:
  --out DIR         Backup directory
  --env-file FILE   The PDS's .env file (default ./.env when it exists)
  --json            Print {"backupDir", "backups": [...]} as JSON on stdout
  --target TARGET   List the copies on an off-site target instead (a configured name, a folder,
                    s3://… or sftp://…; see aurora-backup targets --help)
${targetOptionsHelp(20)}

Example:
  aurora-backup list --out /mnt/backup-drive/aurora-locus`;

/** 45 s, 12 min, 5 h, 3 d: how long ago. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/** `--out`/`--env-file` → the backup directory, as the backup command resolves it. */
export async function backupDirFrom(values: Record<string, unknown>): Promise<{ backupDir: string; retainDays: number }> {
  try {
    const config = await resolveConfig({ backupDir: values.out as string | undefined, envFile: values['env-file'] as string | undefined });
    return { backupDir: config.backupDir, retainDays: config.retainDays };
  } catch (error) {
    if (error instanceof EngineError) throw new CliError(error.message, 2, error.code);
    throw error;
  }
}

function table(backups: BackupSummary[], now: number): string {
  const rows = backups.map((b) => [
    b.name,
    new Date(b.createdAt).toLocaleString('sv-SE').slice(0, 16),
    formatAge(now - Date.parse(b.createdAt)),
    b.kind === 'pre-restore' ? 'pre-restore' : b.backupKind === 'incremental' ? 'incr' : 'full',
    formatBytes(b.size),
    b.standsForSize === null || b.standsForSize === undefined ? '-' : formatBytes(b.standsForSize),
    b.encryptionMode === 'passphrase' ? 'passphrase' : b.encryptionMode === 'recipients' ? 'age key' : b.encrypted ? 'yes' : '-',
    b.status + (b.legacy ? ' (original backup.sh)' : '') + (b.kind === 'pre-restore' ? ' (pre-restore)' : ''),
  ]);
  const head = ['NAME', 'CREATED', 'AGE', 'KIND', 'SIZE', 'STANDS FOR', 'ENCRYPTED', 'STATUS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(head)];
  backups.forEach((b, i) => {
    out.push(line(rows[i]!));
    if (b.kind === 'pre-restore') {
      const before = b.preRestoreOf ? `the restore of ${b.preRestoreOf.backupName} into ${b.preRestoreOf.dataDir}` : 'a restore';
      out.push(`    pre-restore backup: the data ${before} replaced; restore it to undo that restore`);
    }
    if (b.backupKind === 'incremental' && b.base) out.push(`    incremental: restored with ${(b.needs ?? []).join(', ') || b.base} (base ${b.base})`);
    if (b.statusDetail) out.push(`    ${b.statusDetail}`);
  });
  return out.join('\n');
}

export const command: Command = {
  summary: 'List backups with time, age, size and status (complete / incomplete / corrupt)',
  help,
  options: { out: { type: 'string' }, 'env-file': { type: 'string' }, json: { type: 'boolean' }, target: { type: 'string' }, ...TARGET_OPTIONS },
  async run({ values, positionals }) {
    if (positionals.length) throw new CliError(`Unexpected argument "${positionals[0]}". Use --out DIR for the backup directory.`, 2);
    if (values.target !== undefined) return listTarget(values.target as string, values);
    const { backupDir } = await backupDirFrom(values);
    let backups;
    try {
      backups = await listBackups(backupDir);
    } catch (error) {
      if (error instanceof EngineError) throw new CliError(error.message, 1, error.code);
      throw error;
    }
    if (values.json) console.log(JSON.stringify({ backupDir, backups }, null, 2));
    else if (backups.length === 0) console.log(`No backups in ${backupDir}.`);
    else console.log(`Backups in ${backupDir}:\n\n${table(backups, Date.now())}`);
    return 0;
  },
};

async function listTarget(text: string, values: Record<string, unknown>): Promise<number> {
  const { target } = await targetFromArg(text, values);
  try {
    const backups = await listTargetBackups(target);
    if (values.json) console.log(JSON.stringify({ target: target.name, location: target.location, backups: backups.map(({ files: _files, ...b }) => b) }, null, 2));
    else if (backups.length === 0) console.log(`No backups on "${target.name}" (${target.location}).`);
    else console.log(`Backups on "${target.name}" (${target.location}):\n\n${table(backups, Date.now())}`);
    return 0;
  } catch (error) {
    if (error instanceof EngineError) throw new CliError(error.message);
    throw error;
  } finally {
    await target.close();
  }
}
