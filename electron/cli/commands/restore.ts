import { createInterface } from 'node:readline/promises';
import { COMPONENTS, SECRETS_COMPONENT, type Component } from '../../../shared/components.js';
import type { ConfigChoice, ConfigDifference } from '../../engine/restore-secrets.js';
import { EngineError } from '../../engine/errors.js';
import { decryptionKeysFrom } from '../../engine/crypto/backup-keys.js';
import { yieldCpuToPds } from '../../engine/priority.js';
import { resolveConfig } from '../../engine/config.js';
import { listBackups, resolveBackupPath } from '../../engine/list.js';
import { backupDirFrom } from './list.js';
import { planRestore, recoverRestore, restoreBackup, type RestoreOptions, type RestorePlan } from '../../engine/restore.js';
import { cancelOnSignals, CliError, type Command, type ParsedArgs } from '../command.js';
import type { RestoreResult } from '../../../shared/api.js';
import { countOf, formatBytes } from '../../../shared/format.js';
import { createProgressBar, formatDuration } from '../progress-bar.js';
import { fetchFromTarget } from '../restore-from.js';
import { TARGET_OPTIONS, targetOptionsHelp } from '../targets-config.js';

const help = `Usage: aurora-backup restore <backup> [--data DIR] [--only LIST] [--force] [--json] [--env-file FILE] [--out DIR]
         [--identity FILE]... [--passphrase-file F] [--overwrite-config | --keep-config] [--encrypt-to KEY]...
         [--stop-command CMD] [--start-command CMD] [--health-url URL] [--pds-version V]
         [--replace-blobs] [--full-priority]
       aurora-backup restore --undo [--data DIR] [--out DIR] [--force] [--json] [--identity FILE]... [--passphrase-file F]
       aurora-backup restore <backup_name> --from TARGET [--download-dir DIR] [--targets FILE] [--ssh-key FILE]
         [--ssh-password-file FILE] [options]
       aurora-backup restore --recover [--data DIR] [--env-file FILE] [--stop-command CMD] [--start-command CMD] [--health-url URL]

Restores a backup folder (backup_YYYYMMDD_HHMMSS, also one made by the original backup.sh; a path,
or a name as \`list\` prints it, looked for in the backup directory) into the PDS data directory.
--undo restores the newest pre-restore backup of the data directory: the data the last restore
replaced. Nothing changes until every check has passed, and the PDS is stopped only
once the backup is known to be sound:
  1. every file must have the size manifest.json records;
  2. each component is unpacked next to where it lives (in .aurora-restore/) while the PDS still
     runs, its SHA-256 checked as it is read, refusing archives with links, devices, absolute or
     ".." paths or names Windows cannot store, and checked (integrity_check of every database,
     counts against manifest.json); it stops before leaving the PDS's disk short of free space;
  3. --stop-command runs when given, and the PDS must not be running (no other process may have
     account.sqlite, sequencer.sqlite or a database to be replaced open, whatever --only says; the
     health URL, when given, must not answer);
  4. the current data of every component to be replaced is backed up to <out>/pre-restore_…,
     encrypted as backups are (--encrypt-to, else BACKUP_ENCRYPTION_RECIPIENTS) when keys are set;
  5. then swapped in by renames, journalled: if the process dies, the next restore (or --recover)
     finishes or undoes it first, so each component is always entirely old or entirely new.
A restored database never keeps the old -wal/-shm beside it; a restored folder holds exactly what
the backup holds, except blobs restored without the rest of the backup: those are merged (missing
blobs added, damaged ones repaired, blobs uploaded since the backup kept) unless --replace-blobs.
--start-command runs at the end whenever --stop-command ran.

Options:
  --data DIR            PDS data directory (default: PDS_DATA_DIRECTORY, else ./data); it may be
                        empty or missing (restore to a new machine)
  --only LIST           Comma-separated components to restore: ${COMPONENTS.join(',')}, and
                        ${SECRETS_COMPONENT} (pds.env, in an encrypted backup) with at least one of them
                        (default: all the backup holds); the rest of the data directory is not touched
  --force               Do not ask for confirmation (needed when stdin is not a terminal)
  --json                Print the result as JSON on stdout (the plan and prompt go to stderr)
  --env-file FILE       The PDS's .env file (default: ./.env when it exists)
  --out DIR             Backup directory: where a backup given by name is looked for, and where the
                        pre-restore backup goes (default: BACKUP_DIR, else the folder of the backup
                        being restored)
  --pds-version V       The PDS version of the target (default: PDS_VERSION); a backup made by
                        another version restores with a warning
  --health-url URL      The PDS's health endpoint, e.g. http://localhost:2583/xrpc/_health
  --stop-command CMD    Run through the shell once the backup is unpacked and checked, before the
                        swap, e.g. "systemctl stop aurora-locus"
  --start-command CMD   Run through the shell afterwards, e.g. "systemctl start aurora-locus"
  --identity FILE       An encrypted backup's age identity file (AGE-SECRET-KEY-1…); repeatable. An
                        encrypted backup is refused without it or --passphrase-file
  --passphrase-file F   An encrypted backup's passphrase (the first line of F)
  --encrypt-to KEY      Encrypt the pre-restore backup to this age public key (age1…) or the keys in
                        this file; repeatable (default: BACKUP_ENCRYPTION_RECIPIENTS, as a backup)
  --overwrite-config    An encrypted backup holds the PDS's pds.env: replace the one there even when
                        its PDS_HOSTNAME or PDS_SERVICE_DID differ (asked on a terminal; the old one is
                        kept as pds.env.before-restore)
  --keep-config         … or keep it, and restore the data only (a new server with its own name)
  --replace-blobs       Make the blob folder exactly the backup's even when restoring only some
                        components (a full restore always does)
  --full-priority       Run at normal CPU priority (by default unpacking yields the CPU to the PDS)
  --undo                Undo the last restore: restore the newest pre-restore backup of --data
  --recover             Only finish (or undo) a restore that was interrupted, and clean its staging
                        folders; every restore does this first anyway. As a restore, it runs
                        --stop-command and refuses while the PDS is running before it moves anything
  --from TARGET         Restore a backup kept on an off-site target (a configured name, a folder,
                        s3://… or sftp://…; see aurora-backup targets --help): it is downloaded into
                        <out>/.offsite-download/ first (or --download-dir DIR), every file checked
                        against manifest.json, then restored as a local backup and the download removed
  --download-dir DIR    With --from: where the backup is downloaded to (default <out>/.offsite-download/)
${targetOptionsHelp(24)}

Examples:
  aurora-backup restore backups/backup_20250322_143022
  aurora-backup restore backups/backup_20250322_143022 --only account,actors --force
  aurora-backup restore backup_20250322_143022 --from sftp://backup@nas.local/volume1/aurora --ssh-key ~/.ssh/id_ed25519
  aurora-backup restore /mnt/usb/backup_20250322_143022 --data /opt/aurora-locus/data \\
      --stop-command "systemctl stop aurora-locus" --start-command "systemctl start aurora-locus"`;

export function parseComponents(value: string): Component[] {
  const names = value.split(',').map((s) => s.trim()).filter((n) => n !== '' && n !== SECRETS_COMPONENT);
  const unknown = names.filter((n) => !(COMPONENTS as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new CliError(
      `--only takes a comma-separated list of ${COMPONENTS.join(', ')}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}` +
        ` (and secrets, with at least one of them: to take out only pds.env, decrypt secrets.tar.gz.age with age -d).`,
      2,
    );
  }
  return [...new Set(names)] as Component[];
}

/** The answer to a configuration that belongs to another PDS: the flag, else a question on a terminal. */
async function askAboutConfig(difference: ConfigDifference): Promise<ConfigChoice | undefined> {
  if (!process.stdin.isTTY) return undefined; // refused by the engine, naming --overwrite-config and --keep-config
  const lines = difference.differences.map((d) => `  ${d.name}: ${d.now} here, ${d.backup} in the backup`);
  process.stderr.write(`\n${difference.target} belongs to another PDS than the backup's configuration:\n${lines.join('\n')}\n`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`Replace it with the backup's (the current one is kept as ${difference.target}.before-restore)? Type yes to replace, no to keep it: `).finally(() => rl.close());
  const word = answer.trim().toLowerCase();
  return word === 'yes' ? 'overwrite' : word === 'no' ? 'keep' : undefined;
}

/** The plan in words, as the confirmation shows it. */
export function describePlan(plan: RestorePlan): string {
  const hours = Math.floor(plan.ageMs / 3_600_000);
  const ageText = hours >= 48 ? `${Math.floor(hours / 24)} days` : hours >= 1 ? `${hours} h` : `${Math.max(0, Math.floor(plan.ageMs / 60_000))} min`;
  const lines = [
    `Restore ${plan.backupPath}`,
    `  made ${plan.createdAt} (${ageText} ago), PDS version ${plan.pdsVersion ?? 'not recorded'}${plan.legacy ? ', by the original backup.sh' : ''}`,
    `  into ${plan.dataDir}`,
    '',
    'Components (stored size → replaces):',
    ...plan.components.map((c) => `  ${c.component.padEnd(10)} ${formatBytes(c.size).padStart(9)}  → ${c.target}${c.targetExists ? '' : ' (nothing there now)'}`),
  ];
  if (plan.configuration) {
    lines.push(`  ${'secrets'.padEnd(10)} ${formatBytes(plan.configuration.size).padStart(9)}  → ${plan.configuration.target}, mode 0600 (asked first if it belongs to another PDS)`);
  }
  if (plan.blobs) lines.push(`  ${plan.blobs.description}`);
  if (plan.counts) lines.push(`  The backup holds ${countOf(plan.counts.accounts, 'account')}, ${countOf(plan.counts.actors, 'actor store')}, ${countOf(plan.counts.blobs, 'blob')}.`);
  lines.push('');
  lines.push(
    plan.preRestoreBackup
      ? `A pre-restore backup of the current ${plan.preRestoreBackup.components.join(', ')} will be written to ${plan.preRestoreBackup.backupDir}/pre-restore_….`
      : 'No pre-restore backup is needed: the target holds none of these components.',
  );
  for (const kept of plan.keptRaw) lines.push(`  It keeps ${kept.path} as it is (${kept.files.join(', ')}): ${kept.reason}.`);
  for (const warning of plan.warnings) lines.push(`Warning: ${warning}`);
  return lines.join('\n');
}

export const command: Command = {
  summary: 'Restore a backup into the data directory (verified, staged, all-or-nothing)',
  help,
  options: {
    data: { type: 'string' },
    only: { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
    'env-file': { type: 'string' },
    out: { type: 'string' },
    'pds-version': { type: 'string' },
    'health-url': { type: 'string' },
    'stop-command': { type: 'string' },
    'start-command': { type: 'string' },
    'full-priority': { type: 'boolean' },
    'replace-blobs': { type: 'boolean' },
    identity: { type: 'string', multiple: true },
    'passphrase-file': { type: 'string' },
    'encrypt-to': { type: 'string', multiple: true },
    'overwrite-config': { type: 'boolean' },
    'keep-config': { type: 'boolean' },
    recover: { type: 'boolean' },
    undo: { type: 'boolean' },
    from: { type: 'string' },
    'download-dir': { type: 'string' },
    ...TARGET_OPTIONS,
  },
  async run({ values, positionals }) {
    if (values.recover) return recover(values);
    const undo = values.undo === true;
    if (positionals.length !== (undo ? 0 : 1)) {
      if (undo) throw new CliError(`--undo restores the newest pre-restore backup; it takes no backup ("${positionals[0]}").`, 2);
      throw new CliError(positionals.length ? `Unexpected argument "${positionals[1]}".` : 'Name the backup folder to restore. See aurora-backup restore --help.', 2);
    }
    const { backupDir } = await backupDirFrom(values);
    const backupPath = undo ? await lastPreRestoreBackup(backupDir, values) : resolveBackupPath(positionals[0]!, backupDir);
    const json = values.json === true;
    const say = (text: string) => (json ? process.stderr : process.stdout).write(`${text}\n`);
    const opts: RestoreOptions = {
      backupPath,
      dataDir: values.data as string | undefined,
      envFile: values['env-file'] as string | undefined,
      backupDir: values.out as string | undefined,
      components: values.only === undefined ? undefined : parseComponents(values.only as string),
      expectedPdsVersion: values['pds-version'] as string | undefined,
      healthUrl: values['health-url'] as string | undefined,
      stopCommand: values['stop-command'] as string | undefined,
      startCommand: values['start-command'] as string | undefined,
      replaceBlobs: values['replace-blobs'] === true,
      secrets: values.only !== undefined && (values.only as string).split(',').some((n) => n.trim() === SECRETS_COMPONENT),
      configChoice: values['overwrite-config'] ? 'overwrite' : values['keep-config'] ? 'keep' : undefined,
      chooseConfig: askAboutConfig,
      ...(values['encrypt-to'] !== undefined && { preRestoreEncryption: { kind: 'recipients', recipients: values['encrypt-to'] as string[] } }),
    };
    if (values['overwrite-config'] && values['keep-config']) throw new CliError('Give --overwrite-config or --keep-config, not both.', 2);

    if (!values['full-priority']) yieldCpuToPds(); // unpacking runs beside the live PDS
    let cancel: ReturnType<typeof cancelOnSignals> | undefined;
    const bar = createProgressBar();
    try {
      const download = values.from === undefined || undo ? null : await fetchFromTarget(positionals[0]!, values, { json });
      if (download) opts.backupPath = download.backupPath;
      opts.decryption = await decryptionKeysFrom((values.identity as string[] | undefined) ?? [], values['passphrase-file'] as string | undefined);
      const plan = await planRestore(opts);
      if (!values.force) {
        say(describePlan(plan));
        if (!process.stdin.isTTY) {
          throw new CliError('Not restoring: confirmation needs a terminal. Pass --force to restore without asking.', 2);
        }
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question('\nType yes to continue: ').finally(() => rl.close());
        if (answer.trim().toLowerCase() !== 'yes') {
          say('Not restoring: nothing was changed.');
          return 1;
        }
      }
      cancel = cancelOnSignals({
        cancelling: 'Cancelling… (once swapping has started it finishes first; press Ctrl+C again to stop at once)',
        // Safe even mid-swap: the journal lets the next restore finish or undo it.
        stopped: 'Stopped. Run aurora-backup restore --recover (or the restore again) to finish or undo what was started.',
      });
      const result = await restoreBackup({ ...opts, signal: cancel.signal, onProgress: json ? undefined : (p) => bar.update(p) });
      bar.finish();
      await download?.discard();
      if (json) {
        console.log(JSON.stringify({ ok: true, ...result }));
      } else {
        console.log(`Restored ${result.restored.join(', ')} into ${result.dataDir} in ${formatDuration(result.durationMs)}.`);
        console.log(result.preRestoreBackup ? `The data it replaced is in ${result.preRestoreBackup}, ${describePreRestoreEncryption(result.preRestoreEncryption)}.` : 'There was no earlier data to keep.');
        if (result.newerBlobsKept > 0) console.log(`Kept ${countOf(result.newerBlobsKept, 'blob')} uploaded since the backup.`);
        for (const kept of result.keptRaw) console.log(`Kept as it was (${kept.files.join(', ')}): ${kept.path}, because ${kept.reason}.`);
        if (result.configRestored) console.log(`The PDS's configuration is back in ${result.configRestored} (mode 0600).`);
        else if (result.configRestored === null) console.log("The PDS's configuration there was kept as it is.");
        for (const warning of result.warnings) console.log(`Warning: ${warning}`);
      }
      return 0;
    } catch (error) {
      bar.finish();
      if (!(error instanceof EngineError)) throw error;
      throw new CliError(error.message, error.code === 'CANCELLED' ? 130 : 1, error.code);
    } finally {
      cancel?.dispose();
    }
  },
};

/** Whether the pre-restore backup, which holds the signing keys and the account database, is encrypted. */
function describePreRestoreEncryption(encryption: RestoreResult['preRestoreEncryption']): string {
  if (!encryption) return 'not encrypted (no age public key is set: give --encrypt-to or set BACKUP_ENCRYPTION_RECIPIENTS to encrypt it)';
  return encryption.mode === 'passphrase' ? 'encrypted (age) with the passphrase backups use' : `encrypted (age) to ${encryption.recipients.join(', ')}`;
}

/** The newest complete pre-restore backup of this data directory: what the last restore replaced. */
async function lastPreRestoreBackup(backupDir: string, values: ParsedArgs['values']): Promise<string> {
  const { locations } = await resolveConfig({ dataDir: values.data as string | undefined, envFile: values['env-file'] as string | undefined });
  const undoable = (await listBackups(backupDir)).find((b) => b.kind === 'pre-restore' && b.status === 'complete' && b.preRestoreOf?.dataDir === locations.dataDir);
  if (!undoable) throw new CliError(`There is no pre-restore backup of ${locations.dataDir} in ${backupDir}, so there is no restore to undo.`, 1);
  return undoable.path;
}

async function recover(values: ParsedArgs['values']): Promise<number> {
  try {
    const result = await recoverRestore({
      dataDir: values.data as string | undefined,
      envFile: values['env-file'] as string | undefined,
      healthUrl: values['health-url'] as string | undefined,
      stopCommand: values['stop-command'] as string | undefined,
      startCommand: values['start-command'] as string | undefined,
    });
    const words = {
      nothing: `Nothing to recover in ${result.dataDir}.`,
      cleaned: `Removed the staging folder of a restore that stopped before changing anything in ${result.dataDir}.`,
      completed: `Finished the interrupted restore of ${result.components.join(', ')} (from ${result.backupPath}) in ${result.dataDir}.`,
      'rolled-back': `Undid the interrupted restore of ${result.components.join(', ')} in ${result.dataDir}: the old data is back.`,
    };
    if (values.json) console.log(JSON.stringify({ ok: true, ...result }));
    else {
      console.log(words[result.outcome]);
      for (const warning of result.warnings) console.log(`Warning: ${warning}`);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    throw new CliError(error.message, 1, error.code);
  }
}
