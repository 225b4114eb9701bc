import { constants as fsConstants } from 'node:fs';
import { Writable, type Duplex } from 'node:stream';
import { chmod, copyFile, lchown, link, lstat, mkdir, open, opendir, realpath, rm, rmdir, stat, statfs, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { KeptRawFile, RestoreResult } from '../../shared/api.js';
import { COMPONENTS, DATABASE_COMPONENTS, type Component, type Compression, type DatabaseComponent } from '../../shared/components.js';
import { escapeControlCharacters, formatBytes } from '../../shared/format.js';
import type { Progress } from '../../shared/progress.js';
import { pumpFile, READ_BYTES, writeAll } from './archive.js';
import { ACCOUNT_QUERIES, CHECKSUM_PROBLEM, isSecretsFile, missingAccountsProblem, ZIP_NOTICE, openBackupFolder, readCheck, sha256Of, sizeProblem, type BackupFolder } from './backup-folder.js';
import { isKeyFile, runBackup } from './backup.js';
import type { DecryptionKeys, EncryptionKeys } from './crypto/age-stream.js';
import { assertKeysOpenBackup, fileDecoder } from './crypto/backup-keys.js';
import { resolveRecipients } from './crypto/keys.js';
import { readSecrets, writeSecrets, type ConfigChoice, type ConfigDifference } from './restore-secrets.js';
import { assertKeysOpenChain, isIncremental, openSources, type ResolvedSources, type SourcePart } from './chain.js';
import { DEFAULT_BACKUP_DIR, resolveConfig, type PdsLocations, type ResolvedConfig } from './config.js';
import { EngineError } from './errors.js';
import { faultPoint } from './fault-injection.js';
import { withRoomyHeap } from './heap.js';
import { IntegrityChecks } from './integrity.js';
import { checkPdsRunning, looksLikeDatabase, runRequiredCommand } from './pds-running.js';
import { progressReporter, type ProgressReporter } from './progress.js';
import { safeExtract } from './safe-extract.js';
import { extractZip, unzipDatabase, zipUnpackedSize } from './zip-archive.js';
import { commitSwap, exists, lockDataDir, recoverInterruptedRestore, recoverLocked, removeStagingRoot, type RecoveryResult, stagingRootFor, swapItemFor, STAGING_DIR_NAME, type SwapItem } from './staging.js';


export interface RestoreOptions {
  /** The backup folder, `…/backup_YYYYMMDD_HHMMSS`. */
  backupPath: string;
  dataDir?: string;
  envFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where the pre-restore backup goes; default BACKUP_DIR or ./backups. */
  backupDir?: string;
  /** Default: every component the backup holds. */
  components?: Component[];
  /**
   * A restore of blobs without the rest of the backup merges them: missing blobs are added, differing ones
   * repaired, and blobs newer than the backup kept. This makes the blob folder exactly the backup's instead.
   * A full restore always does.
   */
  replaceBlobs?: boolean;
  /** The PDS version the target runs; default PDS_VERSION from the environment or .env. */
  expectedPdsVersion?: string;
  /** Probed before the restore: when it answers, the PDS is running and the restore is refused. */
  healthUrl?: string;
  /** Run through the shell before the restore (to stop the PDS) … */
  stopCommand?: string;
  /** … and after it, whether the restore succeeded or not (to start it again). */
  startCommand?: string;
  /** Free space that unpacking beside the running PDS leaves on its disk; default 5 % of the disk, at most 1 GiB. */
  keepFreeBytes?: number;
  /** The system restored on (default: this one): names Windows cannot store are refused only on Windows. */
  platform?: NodeJS.Platform;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** An encrypted backup's identity or passphrase; checked against the backup before anything is changed. */
  decryption?: DecryptionKeys;
  /**
   * How the pre-restore backup is encrypted: as backups are (the app's settings, `--encrypt-to`). Undefined:
   * to BACKUP_ENCRYPTION_RECIPIENTS when set, as a backup; null: not encrypted.
   */
  preRestoreEncryption?: EncryptionKeys | null;
  /**
   * An encrypted backup's PDS configuration (pds.env) is restored with a full restore, and with a partial
   * one only when this is set (`--only …,secrets`).
   */
  secrets?: boolean;
  /** When the configuration there names another hostname or service DID: replace it, or keep it and restore the data only. */
  configChoice?: ConfigChoice;
  /** Asked when `configChoice` is not set (the CLI's prompt on a terminal); no answer refuses the restore. */
  chooseConfig?: (difference: ConfigDifference) => Promise<ConfigChoice | undefined>;
}

export interface PlannedComponent {
  component: Component;
  /** In the backup folder, e.g. `databases/account.sqlite.gz`. */
  file: string;
  /** Stored (compressed) bytes. */
  size: number;
  /** What it replaces. */
  target: string;
  /** Whether there is something at `target` now (kept in the pre-restore backup). */
  targetExists: boolean;
}

export interface RestorePlan {
  backupPath: string;
  backupName: string;
  createdAt: string;
  ageMs: number;
  pdsVersion: string | null;
  legacy: boolean;
  dataDir: string;
  components: PlannedComponent[];
  /** Where the current data of the replaced components will be backed up first; null when the target holds none of them. */
  preRestoreBackup: { backupDir: string; components: Component[] } | null;
  /**
   * Live databases that are not SQLite databases (junk, overwritten): the pre-restore backup keeps them
   * byte for byte rather than refuse. Damage deeper inside a file is found while backing up, in the result.
   */
  keptRaw: KeptRawFile[];
  /** How blobs are restored, when they are: `merge` keeps blobs newer than the backup, `replace` makes the folder exactly the backup's. */
  blobs: { mode: 'merge' | 'replace'; description: string } | null;
  /** The PDS's configuration, from an encrypted backup's secrets component, when it is restored: its stored size and where it goes. */
  configuration: { size: number; target: string } | null;
  counts: { accounts: number; actors: number; blobs: number } | null;
  warnings: string[];
}

/** The secrets component, when this restore puts the configuration back: a full restore, or `--only …,secrets`. */
const secretsToRestore = (backup: BackupFolder, opts: RestoreOptions) => (opts.components === undefined || opts.secrets ? backup.files.find(isSecretsFile) : undefined);

const DATABASE_LOCATION: Record<DatabaseComponent, keyof PdsLocations> = { account: 'accountDb', sequencer: 'sequencerDb', did_cache: 'didCacheDb' };
const isDatabase = (c: Component): c is DatabaseComponent => (DATABASE_COMPONENTS as readonly string[]).includes(c);
const targetOf = (locations: PdsLocations, c: Component) =>
  isDatabase(c) ? locations[DATABASE_LOCATION[c]] : c === 'blobs' ? locations.blobsDir : locations.actorsDir;

/**
 * A component kept elsewhere through a symlink (`data/blobs -> /mnt/big/blobs`) is restored where it
 * really lives, so the link stays and the data lands on the disk meant for it.
 */
async function followLink(target: string): Promise<string> {
  const info = await lstat(target).catch(() => null);
  return info?.isSymbolicLink() ? realpath(target) : target;
}

/** What a restore would do, without changing anything (and without reading more than the manifest). */
export async function planRestore(opts: RestoreOptions): Promise<RestorePlan> {
  const config = await resolveConfig(configOptions(opts));
  const backup = await openBackupFolder(opts.backupPath);
  const sources = await openSources(backup);
  const plan = await makePlan(opts, config, backup, sources);
  await assertKeysOpen(backup, sources, plan, opts.decryption);
  return plan;
}

const plannedFiles = (backup: BackupFolder, plan: RestorePlan) => backup.files.filter((f) => plan.components.some((c) => c.component === f.component));

/** The keys must open what the restore reads: the backup's own files, and those of its chain. */
async function assertKeysOpen(backup: BackupFolder, sources: ResolvedSources, plan: RestorePlan, keys: DecryptionKeys | undefined): Promise<void> {
  await assertKeysOpenBackup(backup, keys, plannedFiles(backup, plan));
  await assertKeysOpenChain(backup, sources, keys, plan.components.map((c) => c.component));
}

async function makePlan(opts: RestoreOptions, config: ResolvedConfig, backup: BackupFolder, sources: ResolvedSources): Promise<RestorePlan> {
  const available = COMPONENTS.filter((c) => sources.parts.has(c));
  const selected = opts.components ? COMPONENTS.filter((c) => opts.components!.includes(c)) : COMPONENTS.filter((c) => available.includes(c));
  if (selected.length === 0) throw new EngineError(`${backup.path} holds nothing to restore.`, 'NOTHING_TO_RESTORE');
  const absent = selected.filter((c) => !available.includes(c));
  if (absent.length > 0) {
    throw new EngineError(`${backup.path} does not contain ${absent.join(', ')} (it holds: ${available.join(', ') || 'nothing'}). Choose other components with --only.`, 'NOT_IN_BACKUP');
  }

  const components: PlannedComponent[] = [];
  for (const component of selected) {
    const parts = sources.parts.get(component)!;
    const target = await followLink(targetOf(config.locations, component));
    let size = 0;
    for (const part of parts) size += (await stat(path.join(part.folder, part.file.path))).size;
    components.push({ component, file: parts.map((p) => partLabel(backup, p)).join(' + '), size, target, targetExists: await exists(target) });
  }

  const warnings: string[] = [];
  const recorded = backup.rawManifest.pds_version;
  const backupVersion = typeof recorded === 'string' && recorded !== '' && recorded !== 'unknown' ? escapeControlCharacters(recorded) : null;
  const expectedVersion = opts.expectedPdsVersion || (config.pdsVersion !== 'unknown' ? config.pdsVersion : null);
  if (backupVersion && expectedVersion && backupVersion !== expectedVersion) {
    warnings.push(
      `Version mismatch: the backup was made by PDS ${backupVersion}, the target is configured for PDS ${expectedVersion}. ` +
        `The PDS may need to run its database migrations after the restore (the guide's "Database version mismatch").`,
    );
  }
  if (sources.needs.length > 0) warnings.push(`This is an incremental backup: it is restored from its own files and those of ${sources.needs.join(', ')} (its chain), each checked against its checksum.`);
  if (backup.zip) warnings.push(ZIP_NOTICE);
  else if (backup.legacy) {
    warnings.push('This backup was made by the original backup.sh: checksums were not available. Every file is still checked by decompressing it, listing every archive and running integrity_check on every database.');
  }
  const kept = COMPONENTS.filter((c) => !selected.includes(c));
  if (kept.length > 0) {
    const why = opts.components ? '' : ` (the backup holds only ${selected.join(', ')})`;
    warnings.push(`Partial restore${why}: ${kept.join(', ')} stay as they are now and may not match the restored ${selected.join(', ')}.`);
  }

  warnings.push(...layoutDifferences(backup, config.locations, selected));

  const present = components.filter((c) => c.targetExists).map((c) => c.component);
  const secretsFile = secretsToRestore(backup, opts);
  const full = available.every((c) => selected.includes(c));
  const blobs: RestorePlan['blobs'] = !selected.includes('blobs')
    ? null
    : full || opts.replaceBlobs
      ? { mode: 'replace', description: `Blobs are replaced: the blob folder will hold exactly the backup's blobs (${full ? 'a full restore' : '--replace-blobs'}); blobs uploaded since the backup are removed (kept in the pre-restore backup).` }
      : { mode: 'merge', description: "Blobs are merged: missing blobs are added, blobs that differ from the backup's are repaired, and blobs uploaded since the backup are kept (--replace-blobs replaces the folder instead)." };
  const keptRaw: KeptRawFile[] = [];
  for (const c of components.filter((c) => c.targetExists && c.component !== 'blobs')) {
    const databases = c.component === 'actors' ? await actorStores(c.target) : [c.target];
    for (const database of databases) {
      if (!(await exists(database)) || looksLikeDatabase(database)) continue;
      keptRaw.push({ path: database, files: await presentFiles(database), reason: 'it does not start with the SQLite header (overwritten, or not a database)' });
    }
  }
  if (keptRaw.length > 0) {
    const names = keptRaw.map((k) => path.relative(config.locations.dataDir, k.path) || k.path);
    warnings.push(`${summarize(names)} ${keptRaw.length === 1 ? 'is not a' : 'are not'} SQLite database${keptRaw.length === 1 ? '' : 's'}; the pre-restore backup keeps ${keptRaw.length === 1 ? 'it' : 'them'} as ${keptRaw.length === 1 ? 'it is' : 'they are'}, byte for byte, with ${keptRaw.length === 1 ? 'its' : 'their'} -wal and -shm.`);
  }
  return {
    backupPath: backup.path,
    backupName: backup.name,
    createdAt: backup.createdAt.toISOString(),
    ageMs: Date.now() - backup.createdAt.getTime(),
    pdsVersion: backupVersion,
    legacy: backup.legacy,
    dataDir: config.locations.dataDir,
    components,
    preRestoreBackup: present.length > 0 ? { backupDir: preRestoreDir(config, opts, backup), components: present } : null,
    keptRaw,
    blobs,
    configuration: secretsFile ? { size: secretsFile.size ?? 0, target: config.envFile ?? path.join(config.locations.dataDir, 'pds.env (or .env, as the backup names it)') } : null,
    counts: backup.manifest?.aurora_backup.counts ?? null,
    warnings,
  };
}

/**
 * Each component goes where the target's configuration puts it; when the backup recorded another place
 * (a PDS keeping blobs in `blocks/` restored into one that uses `blobs/`), the user is told. Our backups
 * record the path relative to the data directory, the original scripts the folder's name.
 */
function layoutDifferences(backup: BackupFolder, locations: PdsLocations, selected: Component[]): string[] {
  const raw = backup.rawManifest;
  const legacyNames = (key: 'databases' | 'data_directories') => {
    const value = raw[key];
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  };
  const recordedFor = (c: Component): string | undefined => {
    if (backup.manifest) return backup.manifest.aurora_backup.locations?.[c];
    const value = isDatabase(c) ? legacyNames('databases')[c] : legacyNames('data_directories')[c === 'blobs' ? 'blob_store' : 'actor_store'];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const notes: string[] = [];
  for (const c of selected) {
    const recorded = recordedFor(c);
    if (recorded === undefined) continue;
    const target = targetOf(locations, c);
    const relative = path.relative(locations.dataDir, target);
    const inside = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
    const here = backup.manifest ? (inside ? relative.split(path.sep).join('/') : target) : path.basename(target);
    if (here === recorded) continue;
    notes.push(`The backup's ${c} came from ${recorded} in its data directory; this PDS's configuration keeps ${c} at ${target}, so ${isDatabase(c) ? 'it is' : 'they are'} restored there.`);
  }
  return notes;
}

/**
 * Restores components of a backup into the data directory. In order, stopping at the first problem
 * with nothing changed: the backup's files must have the sizes manifest.json records; an interrupted
 * earlier restore is finished (with the PDS stopped); every component is unpacked beside its target,
 * its SHA-256 checked as it is read, and checked, while the PDS still runs, so a damaged backup never
 * stops it and the PDS is down only for what follows: the stop command runs, the PDS must not be running,
 * the data to be replaced is backed up (`pre-restore_…`), and the components are swapped in as one
 * journalled rename operation (see staging.ts). The start command runs at the end whenever the stop
 * command ran.
 */
export function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  return withRoomyHeap(() => restore(opts));
}

async function restore(opts: RestoreOptions): Promise<RestoreResult> {
  const startedAt = new Date();
  const progress = progressReporter('restore', opts.onProgress, { phase: 'preparing', startedAt });
  const config = await resolveConfig(configOptions(opts));
  const backup = await openBackupFolder(opts.backupPath);
  const sources = await openSources(backup);
  let plan = await makePlan(opts, config, backup, sources);
  const dataDir = plan.dataDir;
  const warnings = [...plan.warnings];

  await assertSizesMatch(backup, sources, plan);
  // The keys the pre-restore backup is encrypted to, resolved now: a mistyped one refuses the restore before anything is changed.
  const preRestoreEncryption = await preRestoreKeys(opts, config);
  // A missing or wrong key (or passphrase) is refused here, before the data directory is even created.
  await assertKeysOpen(backup, sources, plan, opts.decryption);
  const secretsFile = secretsToRestore(backup, opts);
  const secrets = secretsFile
    ? await readSecrets(backup, secretsFile, { dataDir, envFile: config.envFile, decryption: opts.decryption, choose: opts.configChoice ? () => Promise.resolve(opts.configChoice) : opts.chooseConfig })
    : null;
  await assertNoMountPoints(plan);
  // Only the health URL is asked this early: probing the databases could fold a leftover -wal into
  // them, and a restore that is then refused must leave every byte as it was.
  if (!opts.stopCommand && opts.healthUrl) await assertPdsStopped(plan, config.locations, opts.healthUrl, { databases: false });

  let stopped = false;
  let checkedStopped = false;
  const stopPds = async (alsoProbe: string[] = []) => {
    if (checkedStopped) return;
    if (opts.stopCommand) {
      progress.phase('stopping-pds');
      await runRequiredCommand('stop', opts.stopCommand, opts.signal);
      stopped = true;
    }
    await assertPdsStopped(plan, config.locations, opts.healthUrl, { databases: true, alsoProbe, afterStop: stopped, signal: opts.signal });
    opts.signal?.throwIfAborted();
    checkedStopped = true;
  };

  let createdDataDir = false;
  let outcome: Outcome<RestoreResult>;
  try {
    // From here on this process owns the data directory (the PDS only writes its own files in it).
    createdDataDir = !(await exists(dataDir));
    await mkdir(dataDir, { recursive: true });
    const lock = await lockDataDir(dataDir);
    const preRestore: { backup: Awaited<ReturnType<typeof backUpCurrentData>> } = { backup: null };
    let newerBlobsKept = 0;
    try {
      // A swap cut off half-way is finished or undone with the PDS stopped; otherwise there are only leftovers to delete.
      const recovered = await recoverLocked(dataDir, stopPds);
      if (recovered.outcome === 'completed' || recovered.outcome === 'rolled-back') {
        warnings.push(`An earlier restore (from ${recovered.backupPath}) had been interrupted; it was ${recovered.outcome === 'completed' ? 'finished' : 'undone'} first.`);
        plan = await makePlan(opts, config, backup, sources);
      }
      faultPoint('locked');
      await stageAndSwap(backup, sources, plan, progress, opts, async () => {
        await stopPds();
        preRestore.backup = await backUpCurrentData({ ...opts, preRestoreEncryption }, plan, progress);
        faultPoint('pre-restore:done');
        // With the PDS stopped, so every upload up to now is kept.
        const blobs = plan.components.find((c) => c.component === 'blobs');
        if (blobs?.targetExists && plan.blobs?.mode === 'merge') newerBlobsKept = await keepNewerBlobs(blobs.target, swapItemFor('blobs', 'directory', blobs.target).staged);
      });
    } finally {
      await lock.release();
    }
    const kept = preRestore.backup;
    // The configuration last, once the data is in: a refused or failed restore leaves it as it was.
    const configRestored = secrets ? await writeSecrets(secrets, dataDir) : undefined;
    if (secrets?.replaces) warnings.push(`The configuration it replaced is kept as ${secrets.target}.before-restore.`);
    outcome = {
      result: {
        restored: plan.components.map((c) => c.component),
        dataDir,
        preRestoreBackup: kept?.path ?? null,
        ...(kept && { preRestoreEncryption: kept.encryption }),
        keptRaw: kept?.keptRaw ?? [],
        newerBlobsKept,
        warnings,
        durationMs: 0,
        ...(secrets && { configRestored }),
      },
    };
  } catch (error) {
    outcome = { error };
  }

  // The PDS goes back up with whatever is now in place: the restored data, or the untouched old data.
  outcome = await startPdsAgain(stopped ? opts.startCommand : undefined, outcome, warnings, () => progress.phase('starting-pds'));
  if ('error' in outcome) {
    if (createdDataDir) await rmdir(dataDir).catch(() => undefined); // only while still empty
    throw outcome.error;
  }
  progress.done();
  return { ...outcome.result, durationMs: Date.now() - startedAt.getTime() };
}

/** Refuses before anything happens when a file is not the size manifest.json records (cut short, say). */
async function assertSizesMatch(backup: BackupFolder, sources: ResolvedSources, plan: RestorePlan): Promise<void> {
  const problems: string[] = [];
  for (const planned of plan.components) {
    for (const part of sources.parts.get(planned.component)!) {
      const wrongSize = sizeProblem(part.file, (await stat(path.join(part.folder, part.file.path))).size);
      if (wrongSize) problems.push(`${partLabel(backup, part)}: ${wrongSize}.`);
    }
  }
  if (problems.length > 0) throw new EngineError(`The backup ${backup.path} failed verification, so nothing was restored:\n${problems.join('\n')}`, 'VERIFY_FAILED');
}

/** A component that is a filesystem of its own (a separate Docker volume, say) cannot be swapped by rename. */
async function assertNoMountPoints(plan: RestorePlan): Promise<void> {
  for (const c of plan.components) {
    if (!c.targetExists) continue;
    const [own, parent] = await Promise.all([stat(c.target), stat(path.dirname(c.target))]);
    if (own.dev !== parent.dev) {
      throw new EngineError(
        `${c.target} is a mount point (a filesystem of its own). A restore replaces ${c.component} whole by renaming, which a mount point does not allow. ` +
          `Mount the folder that contains it instead, or restore into an empty directory and copy the files over with the PDS stopped. Nothing was changed.`,
        'MOUNT_POINT',
      );
    }
  }
}

function configOptions(opts: RestoreOptions) {
  return { dataDir: opts.dataDir, envFile: opts.envFile, env: opts.env, cwd: opts.cwd, backupDir: opts.backupDir };
}

/**
 * Refuses while the PDS runs. The lock probe opens the databases about to be replaced, and always
 * account.sqlite and sequencer.sqlite: a running PDS holds those two open all the time, while it opens
 * actor stores only per request, so whatever is restored they show it running. Of a database that stays,
 * SQLite may fold a leftover -wal in: the same rows, other bytes. After a stop command, the service gets
 * up to 30 s to let go of its files.
 */
async function assertPdsStopped(
  plan: RestorePlan,
  locations: PdsLocations,
  healthUrl: string | undefined,
  opts: { databases: boolean; alsoProbe?: string[]; afterStop?: boolean; signal?: AbortSignal },
): Promise<void> {
  const databases: string[] = [...(opts.alsoProbe ?? [])];
  if (opts.databases) {
    databases.push(...plan.components.filter((c) => isDatabase(c.component) && c.targetExists).map((c) => c.target));
    if (plan.components.some((c) => c.component === 'actors' && c.targetExists)) databases.push(...(await actorStores(locations.actorsDir)));
    for (const held of [locations.accountDb, locations.sequencerDb]) if (!databases.includes(held)) databases.push(held);
  }
  await waitUntilPdsStopped([...new Set(databases)], healthUrl, { ...opts, refused: 'nothing was restored' });
}

/** Polls until the PDS is seen stopped: at once, or within 30 s after a stop command. */
async function waitUntilPdsStopped(databases: string[], healthUrl: string | undefined, opts: { afterStop?: boolean; signal?: AbortSignal; refused: string }): Promise<void> {
  const deadline = Date.now() + (opts.afterStop ? 30_000 : 0);
  for (;;) {
    const check = await checkPdsRunning({ databases, healthUrl });
    if (!check.running) return;
    if (Date.now() >= deadline) {
      throw new EngineError(
        `The PDS seems to be running, so ${opts.refused}: ${summarize(check.reasons)}. ` +
          `Stop it first (e.g. systemctl stop aurora-locus, Stop-Service AuroraLocus, docker compose stop pds), ` +
          `or configure a stop command${opts.afterStop ? ' that really stops it' : ''}.`,
        'PDS_RUNNING',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    opts.signal?.throwIfAborted();
  }
}

/**
 * The pre-restore backup's folder: the configured backup folder (--out, BACKUP_DIR), else the folder the
 * restored backup lives in; never the default ./backups below wherever the command happens to run.
 */
function preRestoreDir(config: ResolvedConfig, opts: RestoreOptions, backup: BackupFolder): string {
  const unconfigured = config.backupDir === path.resolve(opts.cwd ?? process.cwd(), DEFAULT_BACKUP_DIR);
  return unconfigured ? path.dirname(backup.path) : config.backupDir;
}

/** The database's file and its -wal and -shm, the names of those that exist. */
async function presentFiles(database: string): Promise<string[]> {
  const names: string[] = [];
  for (const suffix of ['', '-wal', '-shm']) if (await exists(database + suffix)) names.push(path.basename(database + suffix));
  return names;
}

export interface RecoverOptions {
  dataDir?: string;
  envFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  healthUrl?: string;
  /** Run before an interrupted swap is finished (to stop the PDS) … */
  stopCommand?: string;
  /** … and after it, whenever the stop command ran. */
  startCommand?: string;
  signal?: AbortSignal;
}

/**
 * Finishes or undoes a restore that was killed half-way, treating the PDS exactly as a restore does:
 * the stop command runs, and the PDS must be seen stopped, before any file is moved (finishing a swap
 * under a running PDS would put aside everything it wrote since). Only leftovers are deleted otherwise.
 */
export async function recoverRestore(opts: RecoverOptions): Promise<RecoveryResult & { dataDir: string; warnings: string[] }> {
  const { locations } = await resolveConfig({ dataDir: opts.dataDir, envFile: opts.envFile, env: opts.env, cwd: opts.cwd });
  const warnings: string[] = [];
  let stopped = false;
  let outcome: Outcome<RecoveryResult>;
  try {
    const result = await recoverInterruptedRestore(locations.dataDir, async (databases) => {
      if (opts.stopCommand) {
        await runRequiredCommand('stop', opts.stopCommand, opts.signal);
        stopped = true;
      }
      await waitUntilPdsStopped([...new Set([...databases, locations.accountDb, locations.sequencerDb])], opts.healthUrl, {
        afterStop: stopped,
        signal: opts.signal,
        refused: 'the interrupted restore was left as it is',
      });
    });
    outcome = { result };
  } catch (error) {
    outcome = { error };
  }
  outcome = await startPdsAgain(stopped ? opts.startCommand : undefined, outcome, warnings);
  if ('error' in outcome) throw outcome.error;
  return { ...outcome.result, dataDir: locations.dataDir, warnings };
}

type Outcome<T> = { result: T } | { error: unknown };

/**
 * Runs the start command (given only when the stop command ran), whatever the outcome: a start that
 * fails becomes a warning beside a result, or is added to the error.
 */
async function startPdsAgain<T>(startCommand: string | undefined, outcome: Outcome<T>, warnings: string[], onStart?: () => void): Promise<Outcome<T>> {
  if (!startCommand) return outcome;
  onStart?.();
  try {
    await runRequiredCommand('start', startCommand);
    return outcome;
  } catch (startError) {
    const message = `${(startError as Error).message} Start the PDS by hand.`;
    if ('result' in outcome) {
      warnings.push(message);
      return outcome;
    }
    return { error: new EngineError(`${(outcome.error as Error).message}\nAlso: ${message}`, (outcome.error as EngineError).code ?? 'START_FAILED') };
  }
}

function summarize(reasons: string[]): string {
  return reasons.length <= 3 ? reasons.join('; ') : `${reasons.slice(0, 3).join('; ')}; and ${reasons.length - 3} more`;
}

async function actorStores(dir: string): Promise<string[]> {
  const stores: string[] = [];
  for await (const entry of entriesBelow(dir)) if (entry.isFile && entry.path.endsWith('.sqlite')) stores.push(entry.path);
  return stores;
}

/** As a backup is encrypted: the caller's keys, else BACKUP_ENCRYPTION_RECIPIENTS (files of keys read, every key checked). */
async function preRestoreKeys(opts: RestoreOptions, config: ResolvedConfig): Promise<EncryptionKeys | null> {
  const chosen = opts.preRestoreEncryption;
  if (chosen === null || chosen?.kind === 'passphrase') return chosen;
  const wanted = chosen?.recipients ?? config.encryptionRecipients;
  return wanted.length > 0 ? { kind: 'recipients', recipients: await resolveRecipients(wanted) } : null;
}

/** The guide's pre-restore backup, through the same consistent path as any backup (so data living only in a -wal is kept). */
async function backUpCurrentData(
  opts: RestoreOptions,
  plan: RestorePlan,
  progress: ProgressReporter,
): Promise<{ path: string; keptRaw: KeptRawFile[]; encryption: NonNullable<RestoreResult['preRestoreEncryption']> | null } | null> {
  if (!plan.preRestoreBackup) return null;
  progress.phase('pre-restore-backup');
  try {
    const result = await runBackup({
      ...configOptions(opts),
      backupDir: plan.preRestoreBackup.backupDir,
      components: plan.preRestoreBackup.components,
      folderPrefix: 'pre-restore_',
      retention: null,
      preRestore: { backupName: plan.backupName, backupPath: plan.backupPath },
      encryption: opts.preRestoreEncryption ?? null,
      signal: opts.signal,
      onProgress: (p) => progress.forward(p, 'pre-restore-backup'),
    });
    const encryption = result.manifest.aurora_backup.encryption;
    return { path: result.path, keptRaw: result.keptRaw, encryption: encryption ? { mode: encryption.mode, recipients: encryption.recipients } : null };
  } catch (error) {
    throw new EngineError(`The backup of the current data (made before every restore) failed, so nothing was restored: ${(error as Error).message}`, (error as EngineError).code ?? 'PRE_RESTORE_FAILED');
  }
}

/**
 * Unpacks and checks every component beside its target (while the PDS still runs), runs `beforeSwap`
 * (stopping the PDS and the pre-restore backup: after the checks, so a refused backup leaves nothing
 * behind), then swaps them in. Staging is removed whatever happens.
 */
async function stageAndSwap(backup: BackupFolder, sources: ResolvedSources, plan: RestorePlan, progress: ProgressReporter, opts: RestoreOptions, beforeSwap: () => Promise<void>): Promise<void> {
  const items = plan.components.map((c) => swapItemFor(c.component, isDatabase(c.component) ? 'database' : 'directory', c.target));
  const stagingRoots = [...new Set([path.join(plan.dataDir, STAGING_DIR_NAME), ...plan.components.map((c) => stagingRootFor(c.target))])];
  for (const root of stagingRoots) await removeStagingRoot(root);
  // Stopped by the first failure (the other archive need not go on), a cancel, or a disk filling up.
  const stopUnpacking = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stopUnpacking.signal]) : stopUnpacking.signal;
  const unpack = async (i: number) => {
    const planned = plan.components[i]!;
    faultPoint(`unpacking:${planned.component}`);
    await stage(backup, sources.parts.get(planned.component)!, items[i]!, { progress, checks, space, signal, platform: opts.platform, decryption: opts.decryption });
    faultPoint(`staged:${planned.component}`);
  };
  const stopOnFailure = (error: unknown) => {
    if (!stopUnpacking.signal.aborted) stopUnpacking.abort(error);
    throw error;
  };
  let swapping = false;
  const checks = new IntegrityChecks();
  // backup.ps1's zips record what they unpack to in their central directory.
  const zipSizes = new Map<Component, number>();
  if (backup.zip) for (const c of plan.components) zipSizes.set(c.component, await zipUnpackedSize(path.join(backup.path, c.file), isDatabase(c.component)));
  const space = new FreeSpaceGuard(plan, opts.keepFreeBytes, (component) => Math.max(expandedSize(backup, plan, component), zipSizes.get(component) ?? 0));
  try {
    await space.checkBefore();
    progress.phase('unpacking');
    progress.totals(plan.components.reduce((sum, c) => sum + c.size, 0), plan.components.length);
    // The databases first, then both archives at once (actors inflate on the thread pool while blobs are
    // mostly copied); every database's integrity check runs in a worker as soon as it is unpacked.
    const indices = [...plan.components.keys()];
    for (const i of indices.filter((i) => isDatabase(plan.components[i]!.component))) await unpack(i).catch(stopOnFailure);
    await Promise.allSettled(indices.filter((i) => !isDatabase(plan.components[i]!.component)).map((i) => unpack(i).catch(stopOnFailure)));
    if (stopUnpacking.signal.aborted) throw stopUnpacking.signal.reason;
    progress.phase('checking');
    await checkStaged(backup, plan, items, progress, checks);
    await checks.close();
    for (const item of items) await takeOwnership(item, plan.dataDir);
    faultPoint('checked');
    opts.signal?.throwIfAborted();
    await beforeSwap();
    opts.signal?.throwIfAborted();

    progress.phase('swapping');
    swapping = true;
    await commitSwap(plan.dataDir, { startedAt: new Date().toISOString(), pid: process.pid, backupPath: backup.path, items, stagingRoots });
  } catch (error) {
    // commitSwap cleans up after itself (or leaves its journal for recovery); before it, staging is just rubbish.
    await checks.close();
    if (!swapping) for (const root of stagingRoots) await rm(root, { recursive: true, force: true });
    if (opts.signal?.aborted && !swapping) throw new EngineError('The restore was cancelled; nothing was changed.', 'CANCELLED');
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC' && !(error instanceof NoSpaceError)) throw noSpaceError(plan);
    throw error;
  }
}

/** Most bytes written between two looks at the free space (less when the space kept free is small). */
const FREE_SPACE_CHECK_BYTES = 16 << 20;

/** The guard's refusal; any ENOSPC from the disk itself is worded the same. */
class NoSpaceError extends EngineError {}

interface DiskBudget {
  folder: string;
  reserve: number;
  /** Bytes that may still be written before the free space must be looked at again. */
  left: number;
  writtenSinceCheck: number;
  step: number;
}

/**
 * Unpacking runs beside a live PDS, so it must not take the last free space the PDS writes into. The
 * unpacked (expanded) size that manifest.json records is checked against each receiving disk before
 * anything is written; then every write asks first: the bytes written are counted, and the free space
 * is looked at again before a write that could cross the limit (and after every few MiB, since the PDS
 * writes too). When less than `keepFree` would be left (default: 5 % of the disk, at most 1 GiB),
 * unpacking stops with a clear message and everything staged is deleted. A decompression bomb ends
 * the same way.
 */
class FreeSpaceGuard {
  private readonly disks = new Map<bigint, DiskBudget>();
  private readonly diskOf = new Map<Component, bigint>();

  constructor(
    private readonly plan: RestorePlan,
    private readonly keepFree: number | undefined,
    /** The unpacked size manifest.json records for a component, or its stored size when it records none. */
    private readonly expandedSize: (component: Component) => number,
  ) {}

  /** Refuses at once when what manifest.json says the components unpack to does not fit. */
  async checkBefore(): Promise<void> {
    const needed = new Map<bigint, number>();
    for (const c of this.plan.components) {
      const folder = await nearestExisting(path.dirname(c.target));
      const device = (await stat(folder, { bigint: true })).dev;
      this.diskOf.set(c.component, device);
      needed.set(device, (needed.get(device) ?? 0) + this.expandedSize(c.component));
      if (!this.disks.has(device)) this.disks.set(device, { folder, reserve: 0, left: 0, writtenSinceCheck: 0, step: 0 });
    }
    for (const [device, disk] of this.disks) {
      await this.look(disk);
      if (needed.get(device)! > disk.left) throw noSpaceError(this.plan, disk.reserve);
    }
  }

  /** Waits for room for `bytes` more on the component's disk, or throws. */
  async beforeWrite(component: Component, bytes: number): Promise<void> {
    const disk = this.disks.get(this.diskOf.get(component)!)!;
    if (bytes > disk.left || disk.writtenSinceCheck >= disk.step) {
      await this.look(disk);
      if (bytes > disk.left) throw noSpaceError(this.plan, disk.reserve);
    }
    disk.left -= bytes;
    disk.writtenSinceCheck += bytes;
  }

  private async look(disk: DiskBudget): Promise<void> {
    const info = await statfs(disk.folder);
    disk.reserve = this.keepFree ?? Math.min(2 ** 30, 0.05 * info.blocks * info.bsize);
    disk.left = info.bavail * info.bsize - disk.reserve;
    disk.writtenSinceCheck = 0;
    disk.step = Math.max(64 << 10, Math.min(FREE_SPACE_CHECK_BYTES, disk.reserve / 4));
  }
}

async function nearestExisting(folder: string): Promise<string> {
  for (let current = folder; ; current = path.dirname(current)) {
    if ((await exists(current)) || path.dirname(current) === current) return current;
  }
}

function noSpaceError(plan: RestorePlan, reserve?: number): EngineError {
  const kept = reserve === undefined ? '' : `, keeping ${formatBytes(reserve)} free for the running PDS`;
  return new NoSpaceError(
    `There is not enough free space beside ${plan.dataDir} to unpack the backup (it is unpacked there before it replaces anything${kept}). Free some space and try again; nothing was changed.`,
    'ENOSPC',
  );
}

/**
 * A new file (never following or overwriting anything) that asks `beforeWrite` before each write, and
 * is flushed to disk before it counts as written.
 */
function guardedFile(file: string, beforeWrite: (bytes: number) => Promise<void>): Writable {
  let handle: FileHandle | undefined;
  return new Writable({
    highWaterMark: READ_BYTES,
    construct(callback) {
      open(file, 'wx', 0o600).then((h) => {
        handle = h;
        callback();
      }, callback);
    },
    writev(chunks, callback) {
      const buffers = chunks.map((c) => c.chunk as Buffer);
      beforeWrite(buffers.reduce((sum, b) => sum + b.length, 0))
        .then(() => writeAll(handle!, buffers))
        .then(() => callback(), callback);
    },
    final(callback) {
      handle!.sync().then(() => callback(), callback);
    },
    destroy(error, callback) {
      if (!handle) return callback(error);
      handle.close().then(() => callback(error), () => callback(error));
    },
  });
}

interface Staging {
  progress: ProgressReporter;
  checks: IntegrityChecks;
  space: FreeSpaceGuard;
  signal: AbortSignal;
  platform?: NodeJS.Platform;
  decryption?: DecryptionKeys;
}

/** Unpacks a component from each file it is read from (one, unless the backup is incremental) into its staging place. */
async function stage(backup: BackupFolder, parts: SourcePart[], item: SwapItem, staging: Staging): Promise<void> {
  await mkdir(path.dirname(item.staged), { recursive: true });
  for (const [index, part] of parts.entries()) await stagePart(backup, part, index > 0, item, staging);
}

async function stagePart(backup: BackupFolder, part: SourcePart, intoExisting: boolean, item: SwapItem, { progress, checks, space, signal, platform, decryption }: Staging): Promise<void> {
  const { file, compression } = part;
  const source = path.join(part.folder, file.path);
  progress.file(partLabel(backup, part));
  // An age file whose header digest is recorded is checked whole without hashing it: its header before
  // anything is unpacked, each chunk as it is opened. Hashing 1 GB took 0.9 s of the restore's thread
  // besides (docs/benchmarks.md).
  const check = readCheck(file);
  const onRead = check.update;
  const beforeWrite = (bytes: number) => space.beforeWrite(item.component, bytes);
  try {
    if (backup.zip) {
      // backup.ps1's zips: read through the zip library with the same entry rules; no checksums to compare.
      if (item.kind === 'directory') {
        await extractZip({
          archive: source,
          dest: item.staged,
          platform,
          beforeWrite,
          onFile: (written) => {
            if (item.component === 'actors' && written.endsWith('.sqlite')) void checks.check(written); // awaited in checkStaged
          },
        });
      } else {
        await unzipDatabase(source, item.staged, platform, beforeWrite);
        void checks.check(item.staged); // awaited in checkStaged
      }
      progress.add((await stat(source)).size);
    } else if (item.kind === 'directory') {
      let counted = 0;
      await safeExtract({
        archive: source,
        compression,
        encrypted: file.encrypted === true,
        decryption,
        ageHeaderSha256: file.ageHeaderSha256,
        // Signing keys stay private whatever mode they had when they were backed up.
        privateFile: item.component === 'actors' ? isKeyFile : undefined,
        topDir: backup.legacy ? null : item.component, // backup.sh names the archive's folder after the configured one
        dest: item.staged,
        platform,
        unpackedBytes: file.unpackedSize,
        intoExisting,
        ...(part.keep && { keep: part.keep }),
        signal,
        onRead,
        beforeWrite,
        onProgress: (bytes) => {
          progress.add(bytes - counted);
          counted = bytes;
        },
        onFile: (written) => {
          if (item.component === 'actors' && written.endsWith('.sqlite')) void checks.check(written); // awaited in checkStaged
        },
      });
    } else {
      await unpackDatabase(source, guardedFile(item.staged, beforeWrite), fileDecoder(source, compression, file, decryption), compression, onRead, progress, signal);
      void checks.check(item.staged, item.component === 'account' ? ACCOUNT_QUERIES : undefined); // awaited in checkStaged
    }
  } catch (error) {
    // A damaged file usually fails to decompress first; its checksum says why.
    if (!signal?.aborted && file.sha256 !== null && (await sha256Of(source)) !== file.sha256) throw checksumError(backup, part);
    throw error;
  }
  if (!check.matches()) throw checksumError(backup, part);
  progress.fileDone();
}

async function unpackDatabase(source: string, staged: Writable, decoder: Duplex, compression: Compression, onRead: (chunk: Buffer) => void, progress: ProgressReporter, signal: AbortSignal): Promise<void> {
  const onChunk = (chunk: Buffer) => {
    onRead(chunk);
    progress.add(chunk.length);
  };
  try {
    await pumpFile(source, decoder, staged, onChunk, signal);
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    if (err.code?.startsWith('Z_') || err.code?.startsWith('ERR_ZSTD') || /unexpected end of file/i.test(err.message)) {
      throw new EngineError(`Refused ${source}: the ${compression} stream is truncated or corrupt (${err.message}). Nothing was restored.`, 'CORRUPT_STREAM');
    }
    throw error;
  }
}

/** What a component unpacks to: the unpacked (or snapshot) size manifest.json records, at least its stored size. */
function expandedSize(backup: BackupFolder, plan: RestorePlan, component: Component): number {
  const stored = plan.components.find((c) => c.component === component)!.size;
  const snapshot = snapshotSizes(backup).find((s) => s.name === component)?.snapshot_size;
  const unpacked = backup.files.find((f) => f.component === component)?.unpackedSize;
  return Math.max(stored, snapshot ?? 0, unpacked ?? 0);
}

function checksumError(backup: BackupFolder, part: SourcePart): EngineError {
  const elsewhere = part.folder === backup.path ? '' : ` (${part.holder} holds part of this incremental backup: it is damaged, so this backup cannot be restored; restore a backup made after a full one that is intact)`;
  return new EngineError(
    `The backup ${backup.path} failed verification, so nothing was restored:\n${partLabel(backup, part)}: ${CHECKSUM_PROBLEM}${elsewhere}.`,
    'VERIFY_FAILED',
  );
}

/** `blobs.tar.gz` in the backup itself; `../backup_…/blobs.tar.gz` in another backup of its chain. */
function partLabel(backup: BackupFolder, part: SourcePart): string {
  return part.folder === backup.path ? part.file.path : `../${part.holder}/${part.file.path}`;
}

/** The unpacked sizes of the databases the backup stands for (in its chain too, when incremental). */
function snapshotSizes(backup: BackupFolder): Array<{ name: DatabaseComponent; snapshot_size: number }> {
  const block = backup.manifest?.aurora_backup;
  if (!block) return [];
  return isIncremental(backup) && block.contents ? block.contents.databases : block.database_snapshots;
}

/** Counts against the manifest, and the integrity_check of every staged database (actor stores included). */
async function checkStaged(backup: BackupFolder, plan: RestorePlan, items: SwapItem[], progress: ProgressReporter, checks: IntegrityChecks): Promise<void> {
  const problems: string[] = [];
  const databases: Array<{ file: string; label: string; component?: Component; size?: number }> = [];
  const snapshots = snapshotSizes(backup);
  const counts = backup.manifest?.aurora_backup.counts;
  for (const item of items) {
    const archive = plan.components.find((c) => c.component === item.component)!.file;
    if (item.kind === 'database') {
      const size = (await stat(item.staged)).size;
      databases.push({ file: item.staged, label: archive, component: item.component, size });
      const recorded = snapshots.find((s) => s.name === item.component)?.snapshot_size;
      if (recorded !== undefined && recorded !== size) problems.push(`${archive} unpacks to ${size} bytes, but manifest.json records ${recorded}`);
      continue;
    }
    let fileCount = 0;
    let storeCount = 0;
    for await (const entry of entriesBelow(item.staged)) {
      if (!entry.isFile) continue;
      fileCount++;
      if (item.component !== 'actors' || !entry.path.endsWith('.sqlite')) continue;
      if (path.basename(entry.path) === 'store.sqlite') storeCount++;
      const relative = path.relative(item.staged, entry.path).split(path.sep).join('/');
      databases.push({ file: entry.path, label: `${archive}: actors/${relative}` });
    }
    if (counts && item.component === 'actors' && counts.actors !== storeCount) {
      problems.push(`${archive} holds ${storeCount} actor stores, but manifest.json records ${counts.actors}`);
    }
    if (counts && item.component === 'blobs' && counts.blobs !== fileCount) {
      problems.push(`${archive} holds ${fileCount} blobs, but manifest.json records ${counts.blobs}`);
    }
  }
  progress.totals(0, databases.length);
  const results = await Promise.all(
    databases.map(async ({ file }) => {
      const result = await checks.check(file);
      progress.fileDone();
      return result;
    }),
  );
  results.forEach((result, i) => {
    const { label, component, size } = databases[i]!;
    if (!result.ok) problems.push(`${label} is not a sound database (integrity_check: ${result.messages.join('; ')})`);
    const noAccounts = result.ok && component ? missingAccountsProblem(backup, component, size ?? 0, result.answers) : null;
    if (noAccounts) problems.push(`${label} ${noAccounts}`);
  });
  // Whatever SQLite left beside the staged databases while checking them must not be swapped in.
  for (const { file } of databases) for (const suffix of ['-wal', '-shm', '-journal']) await rm(file + suffix, { force: true });
  if (problems.length > 0) {
    throw new EngineError(`The backup ${backup.path} cannot be restored; nothing was changed:\n${problems.join('\n')}`, 'STAGED_CHECK_FAILED');
  }
}

/**
 * Restored files belong to whoever owned what they replace, or (when that is root, or nothing is there)
 * to the owner of the data directory, so a PDS running as its own user can write them after a restore
 * run as root. Only root can give files away; anyone else creates them as themselves, the owner already.
 * A restored database keeps the mode of the one it replaces (private, 0600, when there was none); the
 * files and folders of an archive have their recorded modes already (safe-extract.ts).
 */
async function takeOwnership(item: SwapItem, dataDir: string): Promise<void> {
  const replaced = await stat(item.target).catch(() => null);
  if (item.kind === 'database' && process.platform !== 'win32') await chmod(item.staged, (replaced?.mode ?? 0o600) & 0o777);
  if (process.platform === 'win32' || process.getuid?.() !== 0) return;
  const reference = replaced && replaced.uid !== 0 ? replaced : await stat(dataDir);
  if (reference.uid === 0 && reference.gid === 0) return;
  await lchown(item.staged, reference.uid, reference.gid);
  if (item.kind === 'directory') for await (const entry of entriesBelow(item.staged)) await lchown(entry.path, reference.uid, reference.gid);
}

/**
 * Adds to the staged blob folder (the backup's blobs, checked) every live blob it lacks: those uploaded
 * since the backup. Blobs are named by content, so one the backup holds is never newer; a live copy that
 * differs is damaged and the backup's replaces it. Hard links (staging is beside the live folder, on the
 * same disk), copies where links are not possible. Returns how many were kept.
 */
async function keepNewerBlobs(live: string, staged: string): Promise<number> {
  let kept = 0;
  for await (const entry of entriesBelow(live)) {
    if (!entry.isFile) continue;
    const into = path.join(staged, path.relative(live, entry.path));
    if (await exists(into)) continue;
    await mkdir(path.dirname(into), { recursive: true, mode: 0o700 });
    await link(entry.path, into).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EXDEV' && error.code !== 'EPERM' && error.code !== 'ENOTSUP') throw error;
      await copyFile(entry.path, into, fsConstants.COPYFILE_EXCL);
    });
    kept++;
  }
  return kept;
}

/** Every entry below `dir`, streamed (a blob store can hold millions of files). */
async function* entriesBelow(dir: string): AsyncGenerator<{ path: string; isFile: boolean }> {
  for await (const entry of await opendir(dir, { recursive: true })) yield { path: path.join(entry.parentPath, entry.name), isFile: entry.isFile() };
}
