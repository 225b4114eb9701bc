import { COMPONENTS, COMPRESSIONS, type Component, type Compression } from '../../../shared/components.js';
import type { Manifest } from '../../../shared/manifest.js';
import { DEFAULT_SETTINGS } from '../../../shared/settings.js';
import { cancelOnSignals, CliError, wholeNumber, type Command, type ParsedArgs } from '../command.js';
import type { EncryptionKeys } from '../../engine/crypto/age-stream.js';
import { readPassphraseFile } from '../../engine/crypto/keys.js';
import { runBackup } from '../../engine/backup.js';
import { resolveConfig } from '../../engine/config.js';
import { EngineError } from '../../engine/errors.js';
import { yieldCpuToPds } from '../../engine/priority.js';
import { countOf, formatBytes } from '../../../shared/format.js';
import { createProgressBar, formatDuration } from '../progress-bar.js';
import { copyToNamedTargets, OFFSITE_FAILED_EXIT } from '../offsite-after-backup.js';
import { TARGET_OPTIONS, targetOptionsHelp } from '../targets-config.js';

const help = `Usage: aurora-backup backup [--data DIR] [--out DIR] [--env-file FILE] [--health-url URL] [--compression C]
         [--full | --incremental] [--full-every-days N] [--retain-days N] [--keep-last N] [--no-prune]
         [--encrypt-to KEY]... [--passphrase-file F] [--full-priority] [--json]
         [--to TARGET]... [--no-copy] [--targets FILE] [--ssh-key FILE] [--ssh-password-file FILE]

Backs up a PDS data directory, also while the PDS runs, into <out>/backup_YYYYMMDD_HHMMSS/:
manifest.json, databases/{account,sequencer,did_cache}.sqlite.gz, blobs.tar.gz, actors.tar.gz.
Every SQLite database (the actor stores too) is copied as a consistent snapshot through SQLite.
The folder gets its final name only when everything is written and flushed to disk.

By default a backup is incremental: it stores only the databases and actor stores that changed and
the blobs that are new since the newest backup, and restores through that backup's chain (its full
base and the incremental backups after it, which must stay beside it). A full backup, which the
original restore.sh and gunzip/tar can read on their own, is made when the chain's base is
BACKUP_FULL_EVERY_DAYS (default 7) days old, when there is no whole chain to build on, and with --full.

Then, as the original backup.sh does, backups older than BACKUP_RETAIN_DAYS (default 30) are removed,
but never the newest ${DEFAULT_SETTINGS.keepLast} (--keep-last) and never anything that is not a backup.

Options:
  --data DIR          PDS data directory (default: PDS_DATA_DIRECTORY, else ./data). The PDS_*_LOCATION
                      variables still apply: one inside the PDS_DATA_DIRECTORY they came with is taken
                      inside DIR (PDS_BLOBSTORE_DISK_LOCATION=/pds/blocks → DIR/blocks).
  --out DIR           Backup directory (default: BACKUP_DIR, else ./backups)
  --env-file FILE     The PDS's .env file to read settings from (default: DIR/pds.env or DIR/.env when
                      --data DIR holds one, as the official installer's does; else ./.env when it exists)
  --health-url URL    The PDS's health URL: when PDS_VERSION is not set, the version it reports is recorded
  --compression C     ${COMPRESSIONS.join(' | ')} (default: BACKUP_COMPRESSION or COMPRESSION, else gzip);
                      bzip2 and xz are refused: use gzip or zstd
  --retain-days N     Remove backups older than N days (default: BACKUP_RETAIN_DAYS, else 30)
  --keep-last N       Always keep the newest N backups (default ${DEFAULT_SETTINGS.keepLast})
  --no-prune          Do not remove old backups
  --full              A full backup (the guide's layout), whatever the chain's age
  --incremental       An incremental backup even when the chain's base is old (full when there is none)
  --full-every-days N A full backup when the chain's base is N days old (default: BACKUP_FULL_EVERY_DAYS, else 7)
  --full-priority     Run at normal CPU priority (by default the backup yields the CPU to the PDS)
  --json              Print the result (name, path, size, manifest, pruned, offsite) as JSON on stdout
  --to TARGET         Then copy the backup off-site (repeatable; default: every enabled target of the
                      targets file). See aurora-backup copy --help. Exit status 3 when the backup
                      succeeded and a copy did not.
${targetOptionsHelp(22)}
  --no-copy           Do not copy to the targets of the targets file
  --encrypt-to KEY    Encrypt every file of the backup (age format) to this age public key (age1…), or
                      to the keys in this file (one a line; age-keygen's key file works too). Repeatable.
                      Default: BACKUP_ENCRYPTION_RECIPIENTS. An encrypted backup also holds the PDS's
                      pds.env (or .env): its JWT secret, PLC rotation key and admin password
  --passphrase-file F Encrypt with the passphrase on the first line of F instead (scrypt)

An unencrypted backup leaves pds.env out and says so; the actors' signing keys are in every backup.
Decrypt a file by hand with the age tool: age -d -i key.txt blobs.tar.gz.age > blobs.tar.gz

Settings come from the flags, then the environment, then the .env file, then the defaults.
Read: BACKUP_DIR, BACKUP_COMPRESSION, COMPRESSION, BACKUP_RETAIN_DAYS, BACKUP_FULL_EVERY_DAYS, PDS_DATA_DIRECTORY,
PDS_ACCOUNT_DB_LOCATION, PDS_SEQUENCER_DB_LOCATION, PDS_DID_CACHE_DB_LOCATION,
PDS_ACTOR_STORE_DIRECTORY, PDS_BLOBSTORE_DISK_LOCATION, PDS_VERSION, PDS_HOSTNAME, PDS_SERVICE_DID,
BACKUP_ENCRYPTION_RECIPIENTS (age public keys or files of them, separated by commas or spaces).
A progress bar with ETA is drawn on stderr when it is a terminal. Ctrl+C cancels cleanly.

Examples:
  aurora-backup backup --data /opt/aurora-locus/data --out /mnt/backup-drive/aurora-locus
  aurora-backup backup --env-file /opt/aurora-locus/.env --json
  aurora-backup backup --env-file /pds/pds.env --encrypt-to age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p`;

export const command: Command = {
  summary: 'Back up a PDS data directory (safe while the PDS runs)',
  help,
  options: {
    data: { type: 'string' },
    out: { type: 'string' },
    'env-file': { type: 'string' },
    'health-url': { type: 'string' },
    compression: { type: 'string' },
    'retain-days': { type: 'string' },
    'keep-last': { type: 'string' },
    'no-prune': { type: 'boolean' },
    full: { type: 'boolean' },
    incremental: { type: 'boolean' },
    'full-every-days': { type: 'string' },
    'full-priority': { type: 'boolean' },
    json: { type: 'boolean' },
    to: { type: 'string', multiple: true },
    'no-copy': { type: 'boolean' },
    'encrypt-to': { type: 'string', multiple: true },
    'passphrase-file': { type: 'string' },
    ...TARGET_OPTIONS,
  },
  async run({ values, positionals }) {
    if (positionals.length) throw new CliError(`Unexpected argument "${positionals[0]}". See aurora-backup backup --help.`, 2);
    const compression = values.compression as string | undefined;
    if (compression !== undefined && !(COMPRESSIONS as readonly string[]).includes(compression)) {
      throw new CliError(`--compression must be one of ${COMPRESSIONS.join(', ')}, not "${compression}".`, 2);
    }
    const retainDays = wholeNumber(values['retain-days'], '--retain-days', 1);
    const keepLast = wholeNumber(values['keep-last'], '--keep-last', 1) ?? DEFAULT_SETTINGS.keepLast;
    if (values.full && values.incremental) throw new CliError('Choose --full or --incremental, not both.', 2);
    const fullEveryDays = wholeNumber(values['full-every-days'], '--full-every-days', 1);
    const opts = {
      dataDir: values.data as string | undefined,
      backupDir: values.out as string | undefined,
      envFile: values['env-file'] as string | undefined,
      compression: compression as Compression | undefined,
      retainDays,
      fullEveryDays,
    };

    if (!values['full-priority']) yieldCpuToPds();
    const cancel = cancelOnSignals({ cancelling: 'Cancelling…' });
    const bar = createProgressBar();
    try {
      const config = await resolveConfig(opts);
      if (!values.json) for (const note of config.notes) console.error(note);
      const result = await runBackup({
        ...opts,
        encryption: await encryptionFrom(values),
        healthUrl: values['health-url'] as string | undefined,
        signal: cancel.signal,
        onProgress: values.json ? undefined : (p) => bar.update(p),
        retention: values['no-prune'] ? null : { retainDays: config.retainDays, keepLast },
        kind: values.full ? 'full' : values.incremental ? 'incremental' : 'auto',
      });
      bar.finish();
      if (!values.json) {
        const block = result.manifest.aurora_backup;
        console.log(`Backup complete: ${result.path}`);
        console.log(
          block.kind === 'incremental'
            ? `  Incremental (on ${block.parent}; chain from the full backup ${block.base}): ${countOf(block.files.length, 'file')}, ${formatBytes(result.size)}, ${formatDuration(result.durationMs)}`
            : `  Full: ${countOf(block.files.length, 'file')}, ${formatBytes(result.size)}, ${formatDuration(result.durationMs)}`,
        );
        console.log(`  Held: ${describeHeld(result.manifest)}`);
        const encryption = result.manifest.aurora_backup.encryption;
        if (encryption) {
          console.log(`  Encrypted (age) ${encryption.mode === 'passphrase' ? 'with a passphrase' : `to ${encryption.recipients.join(', ')}`}${describeSecrets(encryption.secrets)}`);
        }
        for (const warning of result.warnings ?? []) console.log(`  Warning: ${warning}`);
        if (result.pruned.length) console.log(`  Removed old backups: ${result.pruned.join(', ')}`);
      }
      const offsite = values['no-copy'] ? [] : await copyToNamedTargets(result.path, (values.to as string[] | undefined) ?? [], values, { json: values.json === true, signal: cancel.signal, afterBackup: true });
      if (values.json) console.log(JSON.stringify({ ok: true, ...result, offsite }));
      return offsite.every((o) => o.ok) ? 0 : OFFSITE_FAILED_EXIT;
    } catch (error) {
      bar.finish();
      if (!(error instanceof EngineError)) throw error;
      throw new CliError(error.message, error.code === 'ABORTED' ? 130 : 1, error.code);
    } finally {
      cancel.dispose();
    }
  },
};

/** --encrypt-to / --passphrase-file; undefined leaves it to BACKUP_ENCRYPTION_RECIPIENTS. */
async function encryptionFrom(values: ParsedArgs['values']): Promise<EncryptionKeys | undefined> {
  const recipients = (values['encrypt-to'] as string[] | undefined) ?? [];
  const passphraseFile = values['passphrase-file'] as string | undefined;
  if (passphraseFile !== undefined && recipients.length > 0) {
    throw new CliError('Give either --encrypt-to (age public keys) or --passphrase-file, not both: age encrypts a file to keys or with a passphrase.', 2);
  }
  if (passphraseFile !== undefined) return { kind: 'passphrase', passphrase: await readPassphraseFile(passphraseFile) };
  return recipients.length > 0 ? { kind: 'recipients', recipients } : undefined;
}

/** `; with the PDS's configuration (pds.env) and 3 signing keys`: what the secrets component holds. */
function describeSecrets(secrets: string[]): string {
  const keys = secrets.filter((p) => p.startsWith('actors/')).length;
  const config = secrets.filter((p) => !p.startsWith('actors/'));
  const parts = [...(config.length ? [`the PDS's configuration (${config.join(', ')})`] : []), ...(keys ? [countOf(keys, 'signing key')] : [])];
  return parts.length ? `; with ${parts.join(' and ')}` : '';
}

/** What each component held, named by where it was found: `account.sqlite 3 accounts; …; blocks/ 40 blobs`. */
export function describeHeld(manifest: Manifest): string {
  const { counts, sequencer_last_seq: lastSeq, files, locations = {}, contents } = manifest.aurora_backup;
  const snapshots = manifest.aurora_backup.kind === 'incremental' && contents ? contents.databases : manifest.aurora_backup.database_snapshots;
  const where = (component: Component, fallback: string) => locations[component] ?? fallback;
  const held = (component: Component) =>
    manifest.aurora_backup.kind === 'incremental' && contents
      ? component === 'blobs' ? contents.blobs.length > 0 : component === 'actors' ? contents.actors.length > 0 : contents.databases.some((d) => d.name === component)
      : files.some((f) => f.component === component);
  return COMPONENTS.map((component) => {
    const folder = `${where(component, component)}/`;
    if (!held(component)) return `${component === 'blobs' || component === 'actors' ? folder : where(component, `${component}.sqlite`)} not backed up`;
    switch (component) {
      case 'account':
        return `${where(component, 'account.sqlite')} ${countOf(counts.accounts, 'account')}`;
      case 'sequencer':
        return `${where(component, 'sequencer.sqlite')} ${lastSeq === null ? 'no events' : `events up to ${lastSeq}`}`;
      case 'did_cache':
        return `${where(component, 'did_cache.sqlite')} ${formatBytes(snapshots.find((d) => d.name === 'did_cache')?.snapshot_size ?? 0)}`;
      case 'actors':
        return `${folder} ${countOf(counts.actors, 'actor store')}`;
      case 'blobs':
        return `${folder} ${countOf(counts.blobs, 'blob')}`;
    }
  }).join('; ');
}
