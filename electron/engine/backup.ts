import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { advice } from '../../shared/advice.js';
import type { BackupResult } from '../../shared/api.js';
import {
  COMPONENTS,
  COMPRESSION_EXTENSION,
  type Component,
  type Compression,
  type DatabaseComponent,
  SECRETS_COMPONENT,
} from '../../shared/components.js';
import { ENCRYPTED_EXTENSION, SECRETS_NOT_BACKED_UP } from '../../shared/encryption.js';
import { countOf } from '../../shared/format.js';
import {
  FULL_FORMAT_VERSION,
  INCREMENTAL_FORMAT_VERSION,
  type Manifest,
  type ManifestContents,
  type ManifestDatabase,
  type ManifestFile,
  type ManifestHolder,
} from '../../shared/manifest.js';
import type { Progress } from '../../shared/progress.js';
import { packTar, READ_BYTES, walkFiles, writeCompressed, type TarSource } from './archive.js';
import { blobPath, BLOB_REFERENCE_QUERIES, describeMissing, missingBlobs, referencesFrom, type BlobReference } from './blob-references.js';
import { findParent, fingerprint, unchangedSince, type ChainParent } from './chain.js';
import { assertSupportedCompression } from './compress.js';
import type { EncryptionKeys } from './crypto/age-stream.js';
import { resolveRecipients } from './crypto/keys.js';
import { DEFAULT_FULL_EVERY_DAYS, resolveConfig, type PdsLocations } from './config.js';
import { EngineError } from './errors.js';
import { faultPoint } from './fault-injection.js';
import { windowsNameProblem } from './safe-extract.js';
import { acquireBackupLock, readBackupLock, isStale, type BackupLock } from './lock.js';
import { checkPdsRunning } from './pds-running.js';
import { progressReporter, type ProgressReporter } from './progress.js';
import { pruneBackups } from './prune.js';
import { snapshotDatabases, type SnapshotJob, type SnapshotResult } from './snapshot.js';
import { lockDataDir, recoverLocked, STAGING_DIR_NAME } from './staging.js';
import { APP_VERSION } from './version.js';

export interface BackupOptions {
  dataDir?: string;
  backupDir?: string;
  envFile?: string;
  compression?: Compression;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Prune old backups after a successful one. */
  retention?: { retainDays: number; keepLast: number } | null;
  /** Default: all five. */
  components?: Component[];
  /** Default 'backup_'; restore uses 'pre-restore_'. */
  folderPrefix?: string;
  /**
   * Set by a restore for its backup of the data it replaces. That backup never blocks the restore: a
   * database SQLite cannot read is kept as it is (with its -wal and -shm), and a data directory holding
   * only some components is fine. Recorded in the manifest, so `list` can say which restore it preceded.
   */
  preRestore?: { backupName: string; backupPath: string };
  /** The PDS's health URL: when PDS_VERSION is not set, the version its /xrpc/_health reports is recorded. */
  healthUrl?: string;
  /**
   * Encrypt every file (age), and add the PDS's configuration (its pds.env or .env) and keys as the secrets
   * component (not in a pre-restore backup). Undefined: BACKUP_ENCRYPTION_RECIPIENTS when set; null: not encrypted.
   */
  encryption?: EncryptionKeys | null;
  /**
   * `full` (the default): the guide's layout, all of it. `incremental`: only what changed since the newest
   * backup (full when there is none to build on). `auto`: incremental, but full when the chain's base is
   * `fullEveryDays` old or more. See docs/incremental.md.
   */
  kind?: BackupKindChoice;
  /** With `auto`: a full backup at least this often (default 7 days). */
  fullEveryDays?: number;
}

export type BackupKindChoice = 'full' | 'incremental' | 'auto';
const DAY_MS = 24 * 60 * 60 * 1000;

/** An actor store's snapshot held in memory goes back to the snapshot budget once it is packed. */
type ActorEntry = TarSource & { release?: () => void; rawStore?: boolean };

/** What the original backup.sh writes in `backup_version`. */
const BACKUP_SCRIPT_VERSION = '1.0';
const STAGING = '.staging';
/** Unfinished folders of any prefix: `.incomplete-backup_20250322_143022` (INCOMPLETE_BACKUP_PREFIX), `.incomplete-pre-restore_…`. */
const LEFTOVER_PATTERN = /^\.incomplete-[a-z-]+_\d{8}_\d{6}$/;
const DATABASE_FILES: Record<DatabaseComponent, keyof PdsLocations> = {
  account: 'accountDb',
  sequencer: 'sequencerDb',
  did_cache: 'didCacheDb',
};

/**
 * Backs up a (possibly live) PDS data directory into `<backupDir>/backup_YYYYMMDD_HHMMSS/`, the guide's
 * layout. Every SQLite database, the actor stores included, is snapshotted through SQLite in a worker
 * thread; blobs are streamed into a tar archive. Everything is written under `.incomplete-…` and renamed
 * only once every file and the manifest are on disk, so a crash never leaves something that looks complete.
 */
export async function runBackup(opts: BackupOptions = {}): Promise<BackupResult> {
  const startedAt = new Date();
  const config = await resolveConfig(opts);
  try {
    assertSupportedCompression(config.compression);
  } catch (error) {
    throw new EngineError((error as Error).message, 'UNSUPPORTED_COMPRESSION');
  }
  const { locations, backupDir } = config;
  const encryptionWarnings: string[] = [];
  const encryption = await encryptionFor(opts, config, (warning) => encryptionWarnings.push(warning));
  await checkDataDir(locations, { partialIsFine: opts.preRestore !== undefined });
  const pdsVersion = config.pdsVersion !== 'unknown' || !opts.healthUrl ? config.pdsVersion : await versionFromHealth(opts.healthUrl);
  await prepareBackupDir(backupDir, locations);

  const prefix = opts.folderPrefix ?? 'backup_';
  const purpose = prefix === 'backup_' ? 'backup' : `${prefix.replace(/_$/, '')} backup`;
  // The pre-restore backup runs inside a restore, which holds the data directory's lock and has recovered already.
  const dataDirLock = prefix === 'pre-restore_' ? null : await lockDataDirForBackup(locations.dataDir, purpose);
  let lock: BackupLock | undefined;
  let workDir: string | undefined;
  let result: BackupResult;
  const progress = progressReporter('backup', opts.onProgress, { phase: 'preparing', startedAt });
  try {
    // A restore killed half-way is finished first (only with the PDS stopped), so the backup never copies a half-swapped data directory.
    if (prefix !== 'pre-restore_' && (await exists(path.join(locations.dataDir, STAGING_DIR_NAME)))) {
      if (!dataDirLock) throw interruptedRestoreUnwritable(locations.dataDir);
      await recoverLocked(locations.dataDir, (databases) => refuseIfPdsRunning(locations, databases));
    }
    const components = await watchComponents(locations, { restoreMayStart: !dataDirLock && prefix !== 'pre-restore_' });
    lock = await acquireBackupLock(backupDir, purpose);
    const signal = AbortSignal.any([opts.signal, lock.signal, dataDirLock?.signal].filter((s): s is AbortSignal => s !== undefined));
    await removeLeftovers(backupDir);
    const { stamp, at: stampedAt } = await freeTimestamp(backupDir, prefix);
    const name = `${prefix}${stamp}`;
    const chain = await chooseParent({ ...opts, fullEveryDays: opts.fullEveryDays ?? config.fullEveryDays }, backupDir, locations.dataDir, startedAt, encryption);
    const previous = chain.parent;
    workDir = path.join(backupDir, `.incomplete-${name}`);
    // Private whatever the umask (the guide's "chmod 700 backups/"): a backup holds signing keys and the account database.
    await mkdir(workDir, { mode: 0o700 }); // never shares a folder: fails when another run made it
    await mkdir(path.join(workDir, STAGING), { mode: 0o700 });
    const written = await writeBackup({ ...opts, signal, locations, compression: config.compression, workDir, progress, encryption, envFile: config.envFile ?? undefined, name, previous });
    if (chain.warning) written.warnings.push(chain.warning);
    written.warnings.push(...encryptionWarnings);

    const manifest: Manifest = {
      backup_timestamp: stampedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'), // the moment the folder is named after, as backup.sh records it
      backup_version: BACKUP_SCRIPT_VERSION,
      pds_version: pdsVersion,
      hostname: config.hostname,
      service_did: config.serviceDid,
      compression: config.compression,
      databases: Object.fromEntries(written.databases.map((d) => [d.name, `${d.name}.sqlite`])),
      data_directories: {
        ...(written.directories.includes('actors') && { actor_store: 'actors' }),
        ...(written.directories.includes('blobs') && { blob_store: 'blobs' }),
      },
      backup_size: humanSize(written.totalSize),
      aurora_backup: {
        format_version: previous ? INCREMENTAL_FORMAT_VERSION : FULL_FORMAT_VERSION,
        app_version: APP_VERSION,
        created_at: startedAt.toISOString(),
        host: { hostname: os.hostname(), platform: process.platform, arch: process.arch },
        files: written.files,
        database_snapshots: written.databases,
        counts: written.counts,
        sequencer_last_seq: written.sequencerLastSeq,
        locations: written.locations,
        duration_ms: Date.now() - startedAt.getTime(),
        total_size: written.totalSize,
        ...(written.keptRaw.length > 0 && { kept_raw: written.keptRaw }),
        ...(encryption && {
          encryption: {
            format: 'age-encryption.org/v1' as const,
            mode: encryption.kind,
            recipients: encryption.kind === 'recipients' ? encryption.recipients : [],
            secrets: written.secrets,
          },
        }),
        kind: previous ? 'incremental' : 'full',
        ...(previous && { base: previous.base, parent: previous.name }),
        contents: written.contents,
        ...(opts.preRestore && { pre_restore_of: { backup_name: opts.preRestore.backupName, backup_path: opts.preRestore.backupPath, data_dir: locations.dataDir } }),
      },
    };
    const manifestBytes = await writeFileSynced(path.join(workDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await syncDir(path.join(workDir, 'databases'));
    await syncDir(workDir);
    const finalPath = path.join(backupDir, name);
    opts.signal?.throwIfAborted(); // a cancel up to this moment still leaves no backup
    await assertFolderIntact(workDir, written.files, lock, dataDirLock);
    await components.assertUnchanged();
    await rename(workDir, finalPath);
    workDir = undefined;
    await syncDir(backupDir);
    result = {
      name,
      path: finalPath,
      manifest,
      durationMs: Date.now() - startedAt.getTime(),
      size: written.totalSize + manifestBytes,
      pruned: [],
      keptRaw: written.keptRaw.map(({ path: live, files, reason }) => ({ path: live, files, reason })),
      warnings: written.warnings,
    };
    // Still under the lock: pruneBackups leaves locking to its caller.
    if (opts.retention) {
      progress.enter('pruning');
      try {
        result.pruned = (await pruneBackups({ backupDir, ...opts.retention })).removed;
      } catch (error) {
        throw new EngineError(`Backup ${name} was written, but removing old backups failed: ${(error as Error).message}`, 'PRUNE_FAILED');
      }
    }
  } catch (error) {
    if (workDir) await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    const lost = [lock?.signal, dataDirLock?.signal].find((s) => s?.aborted);
    throw toEngineError(lost ? lost.reason : error, backupDir, opts.signal);
  } finally {
    await lock?.release();
    await dataDirLock?.release();
  }
  progress.done(result.name);
  return result;
}

interface Written {
  /** Where each component was found, relative to the data directory ('/'-separated) or absolute when outside it. */
  locations: Partial<Record<Component, string>>;
  /** Components not found, an account database without accounts. */
  warnings: string[];
  files: ManifestFile[];
  databases: ManifestDatabase[];
  directories: string[];
  counts: { accounts: number; actors: number; blobs: number };
  sequencerLastSeq: number | null;
  totalSize: number;
  keptRaw: NonNullable<Manifest['aurora_backup']['kept_raw']>;
  /** What the secrets component holds, where it was (relative to the data directory when inside it). */
  secrets: string[];
  contents: ManifestContents;
}

/**
 * Whether this backup is incremental, and on which backup it builds. Pre-restore and partial backups are
 * always full: they stand alone beside the backups.
 */
async function chooseParent(opts: BackupOptions, backupDir: string, dataDir: string, now: Date, encryption: EncryptionKeys | null): Promise<{ parent: ChainParent | null; warning?: string }> {
  const kind = opts.kind ?? 'full';
  if (kind === 'full' || opts.preRestore || opts.components) return { parent: null };
  const { parent, reason, settingsChanged } = await findParent(backupDir, dataDir, encryption);
  if (!parent) return { parent: null, ...((kind === 'incremental' || settingsChanged) && { warning: `This backup is full, not incremental: ${reason}.` }) };
  const everyDays = opts.fullEveryDays ?? DEFAULT_FULL_EVERY_DAYS;
  if (kind === 'auto' && now.getTime() - parent.baseCreatedAt.getTime() >= everyDays * DAY_MS) return { parent: null };
  return { parent };
}

/**
 * The holders of a new incremental backup: itself first, then the backups of its parent's chain that
 * still hold something it stands for, each with the files it is read from (as the parent recorded them).
 */
class Holders {
  readonly list: ManifestHolder[];
  private readonly fromParent = new Map<number, number>();

  constructor(name: string, compression: Compression, private readonly previous: ChainParent | null) {
    this.list = [{ name, compression, files: [] }];
  }

  /** The new index of the parent's holder `index`, which holds `component` for this backup. */
  use(index: number, component: Component): number {
    const old = this.previous!.contents.holders[index]!;
    let mine = this.fromParent.get(index);
    if (mine === undefined) {
      mine = this.list.push({ name: old.name, compression: old.compression, files: [] }) - 1;
      this.fromParent.set(index, mine);
    }
    const holder = this.list[mine]!;
    if (!holder.files.some((f) => f.component === component)) {
      const file = old.files.find((f) => f.component === component);
      if (file) holder.files.push({ ...file });
    }
    return mine;
  }
}

async function writeBackup(
  opts: Omit<BackupOptions, 'encryption'> & {
    locations: PdsLocations;
    compression: Compression;
    workDir: string;
    progress: ProgressReporter;
    encryption: EncryptionKeys | null;
    name: string;
    previous: ChainParent | null;
  },
): Promise<Written> {
  const { locations, compression, workDir, signal, progress, previous } = opts;
  const encryption = opts.encryption ?? undefined;
  const holders = new Holders(opts.name, compression, previous);
  const fingerprints: Record<string, string> = {};
  const previousFingerprints = previous?.contents.fingerprints ?? {};
  /** Databases, actor store folders and blobs this backup takes over from its parent's chain, unchanged. */
  const reusedDatabases: ManifestContents['databases'] = [];
  const reusedActors: ManifestContents['actors'] = [];
  const reusedBlobs: ManifestContents['blobs'] = [];
  const previousBlobs = new Map((previous?.contents.blobs ?? []).map((b) => [b[0], b]));
  const previousActors = new Map((previous?.contents.actors ?? []).map((a) => [a[0], a]));
  const components = new Set<Component>(opts.components ?? COMPONENTS);
  const ext = `${COMPRESSION_EXTENSION[compression]}${encryption ? ENCRYPTED_EXTENSION : ''}`;
  const staging = path.join(workDir, STAGING);

  // --- Scan: what there is, and how much (totals for progress, known up front) ---------------------
  progress.enter('preparing');
  const jobs: Array<SnapshotJob & { sourceBytes: number; label: string; component: Component }> = [];
  const keepUnreadable = opts.preRestore !== undefined;
  const keptRaw: Written['keptRaw'] = [];
  const found: Partial<Record<Component, string>> = {};
  const warnings: string[] = [];
  const place = (component: Component, where: string) => (found[component] = relativeToData(locations.dataDir, where));
  for (const name of Object.keys(DATABASE_FILES) as DatabaseComponent[]) {
    const source = locations[DATABASE_FILES[name]];
    if (!components.has(name)) continue;
    if (!(await exists(source))) {
      warnings.push(`No ${name} database at ${source}: the backup holds none.`);
      continue;
    }
    place(name, source);
    const key = `databases/${name}`;
    fingerprints[key] = await fingerprint([source, `${source}-wal`, `${source}-journal`]);
    const before = previous?.contents.databases.find((d) => d.name === name);
    if (before && unchangedSince(previousFingerprints[key], fingerprints[key])) {
      reusedDatabases.push({ ...before, holder: holders.use(before.holder, name) });
      continue;
    }
    jobs.push({ source, target: path.join(staging, 'databases', `${name}.sqlite`), sourceBytes: await sqliteBytes(source), label: `${name}.sqlite`, component: name, queries: QUERIES[name], keepUnreadable });
  }
  // Names Windows cannot store (`x.`, `aux`), not counting the colons of the DID-named folders every PDS on Linux and macOS has.
  const windowsNames = new Map<string, string>();
  const noteWindowsName = (top: string, rel: string) => {
    const segments = rel.split('/');
    for (const [i, segment] of segments.entries()) {
      const problem = windowsNameProblem(segment.replaceAll(':', '_'));
      if (problem) windowsNames.set(`${top}/${segments.slice(0, i + 1).join('/')}`, problem);
    }
  };
  const sizing = new StatBatch();
  const actorEntries: TarSource[] = [];
  /** Every actor's signing key and the reserved keys (paths below the actor folder): copied into an encrypted backup's secrets component. */
  const keyFiles: FoundFileList = [];
  let otherBytes = 0;
  let otherFiles = 0;
  if (components.has('actors') && !(await exists(locations.actorsDir))) warnings.push(`No actor store folder at ${locations.actorsDir}: the backup holds no actor stores.`);
  if (components.has('actors') && (await exists(locations.actorsDir))) {
    place('actors', locations.actorsDir);
    // Each actor store folder is one unit: snapshotted and stored whole when anything in it changed.
    const folders = new Map<string, FoundFileList>();
    for await (const file of walkFiles(locations.actorsDir)) {
      noteWindowsName('actors', file.rel);
      if (isKeyFile(file.rel)) keyFiles.push(file);
      const folder = path.posix.dirname(file.rel);
      let list = folders.get(folder);
      if (!list) folders.set(folder, (list = []));
      list.push(file);
    }
    const folderPrints = await mapLimited([...folders], 64, ([folder, files]) =>
      fingerprint(files.filter((f) => !f.rel.endsWith('-shm')).map((f) => f.abs)).then((print) => [folder, print] as const),
    );
    const changed = new Set<string>();
    for (const [folder, print] of folderPrints) {
      fingerprints[`actors/${folder}`] = print;
      const before = previousActors.get(folder);
      if (before && unchangedSince(previousFingerprints[`actors/${folder}`], print)) reusedActors.push([folder, holders.use(before[1], 'actors'), before[2]]);
      else changed.add(folder);
    }
    for (const file of [...folders].filter(([folder]) => changed.has(folder)).flatMap(([, files]) => files)) {
      if (/-(wal|shm|journal)$/.test(file.rel)) continue; // belong to the live database, never copied
      const archivePath = `actors/${file.rel}`;
      if (file.rel.endsWith('.sqlite')) {
        const target = path.join(staging, 'actors', file.rel);
        const job = { source: file.abs, target, sourceBytes: 0, label: archivePath, component: 'actors' as const, queries: BLOB_REFERENCE_QUERIES, keepUnreadable };
        jobs.push(job);
        actorEntries.push({ archivePath, source: target, statFrom: file.abs });
        await sizing.add(sqliteBytes(file.abs).then((bytes) => (job.sourceBytes = bytes)));
      } else {
        actorEntries.push({ archivePath, source: file.abs });
        await sizing.add(fileSize(file.abs).then((bytes) => (otherBytes += bytes)));
        otherFiles++;
      }
    }
  }
  let blobBytes = 0;
  let blobFiles = 0;
  /** Blob files per top folder (a DID's), as listed before the backup, and as they were found when read. */
  const scannedBlobs = new Map<string, number>();
  const storedBlobs = new Map<string, number>();
  const includeBlobs = components.has('blobs') && (await exists(locations.blobsDir));
  if (components.has('blobs') && !includeBlobs) warnings.push(`No blob folder at ${locations.blobsDir}: the backup holds no blobs.`);
  /** Blobs to store, with their sizes (`<did>/<cid>`): all of them in a full backup, those its chain lacks in an incremental one. */
  const blobSizes = new Map<string, number>();
  const blobsToStore: Array<{ rel: string; abs: string }> = [];
  if (includeBlobs) {
    place('blobs', locations.blobsDir);
    for await (const file of walkFiles(locations.blobsDir)) {
      // Blobs are immutable and named by their content: one the chain holds is not read again.
      noteWindowsName('blobs', file.rel);
      const held = previousBlobs.get(file.rel);
      if (held) {
        reusedBlobs.push([held[0], holders.use(held[1], 'blobs'), held[2]]);
        continue;
      }
      const folder = topFolder(file.rel);
      scannedBlobs.set(folder, (scannedBlobs.get(folder) ?? 0) + 1);
      blobsToStore.push(file);
      await sizing.add(fileSize(file.abs).then((bytes) => {
        blobBytes += bytes;
        blobSizes.set(file.rel, bytes);
      }));
      blobFiles++;
    }
  }
  const reusedBlobPaths = new Set(reusedBlobs.map((b) => b[0]));
  await sizing.flush();
  faultPoint('backup:scanned');
  if (windowsNames.size > 0) {
    const examples = [...windowsNames].slice(0, 3).map(([name, problem]) => `${name} ${problem}`);
    warnings.push(
      `${windowsNames.size} ${windowsNames.size === 1 ? 'name' : 'names'} in this backup cannot be stored on Windows (${examples.join('; ')}${windowsNames.size > 3 ? '; …' : ''}). ` +
        `It restores on Linux and macOS; a restore on Windows refuses it.`,
    );
  }
  const counts = { accounts: 0, actors: 0, blobs: 0 };
  const dbBytes = jobs.reduce((sum, job) => sum + job.sourceBytes, 0);
  // Database bytes count twice: once when snapshotted, once when compressed.
  progress.totals(2 * dbBytes + otherBytes + blobBytes, jobs.length + otherFiles + blobFiles);
  signal?.throwIfAborted();

  // --- Blobs stream into their archive while SQLite snapshots the databases in a worker thread ------
  // (two cores: the snapshots are CPU work, the blob archive mostly reading, checksumming and writing).
  // The blob folder is walked while the snapshots are taken, so a post made meanwhile can be in an actor
  // store's snapshot while its image was written after the walk passed: the archive ends only after every
  // snapshot exists, with the blobs they use that the walk missed (blobs are immutable and content-named,
  // so adding one later is the same as having listed it later).
  const checkReferences = includeBlobs && components.has('actors');
  /** Actor store files stored, by folder. */
  const storedActorFiles = new Map<string, string[]>();
  const references: BlobReference[] = [];
  /** Blob paths (`<did>/<cid>`) in the archive; those that vanished before they could be read are taken out again. */
  const archivedBlobs = new Set<string>();
  const snapshotsTaken = Promise.withResolvers<void>();
  snapshotsTaken.promise.catch(() => undefined); // surfaced by the snapshots themselves
  const overlap = new AbortController();
  const innerSignal = signal ? AbortSignal.any([signal, overlap.signal]) : overlap.signal;
  const blobsFile = includeBlobs && (!previous || blobsToStore.length > 0 || checkReferences) ? archiveBlobs() : Promise.resolve(null);
  const background: Array<Promise<unknown>> = [blobsFile];
  let blobFailure: unknown = null;
  blobsFile.catch((error: unknown) => {
    if (overlap.signal.aborted) return; // stopped because the other side failed
    blobFailure = error;
    overlap.abort(); // a failed blob archive stops the snapshots too
  });
  async function archiveBlobs(): Promise<ManifestFile> {
    const relative = `blobs.tar${ext}`;
    const tar = packTar(blobEntries(), {
      onBytes: (n) => progress.add(n, 0, relative),
      onFile: (entry, stored) => {
        if (stored) {
          counts.blobs++;
          const folder = topFolder(entry.archivePath.slice('blobs/'.length));
          storedBlobs.set(folder, (storedBlobs.get(folder) ?? 0) + 1);
        }
        else archivedBlobs.delete(entry.archivePath.slice('blobs/'.length));
        progress.add(0, 1);
      },
    }, { topDir: 'blobs', topDirSource: locations.blobsDir });
    return { path: relative, component: 'blobs', ...(await writeCompressed(tar, path.join(workDir, relative), compression, { signal: innerSignal, encryption })) };
  }

  async function* blobEntries(): AsyncGenerator<TarSource> {
    for (const file of blobsToStore) {
      archivedBlobs.add(file.rel);
      yield { archivePath: `blobs/${file.rel}`, source: file.abs };
    }
    if (!checkReferences) return;
    await snapshotsTaken.promise;
    for (const ref of references) {
      const rel = blobPath(ref);
      if (archivedBlobs.has(rel) || reusedBlobPaths.has(rel)) continue;
      archivedBlobs.add(rel);
      yield { archivePath: `blobs/${rel}`, source: path.join(locations.blobsDir, ...rel.split('/')) };
    }
  }

  try {
    return await snapshotAndArchive();
  } catch (error) {
    overlap.abort();
    await Promise.allSettled(background);
    throw blobFailure ?? error; // when the blob archive failed first, that is the cause worth reporting
  }

  async function snapshotAndArchive(): Promise<Written> {
    progress.enter('snapshotting');
    // Each database is compressed or packed as soon as its snapshot exists, while the worker copies the next.
    const results: SnapshotResult[] = [];
    const ready = jobs.map(() => Promise.withResolvers<SnapshotResult>());
    for (const { promise } of ready) promise.catch(() => undefined); // a failure is reported through `snapshotted`
    const snapshotted = snapshotDatabases(jobs, {
      signal: innerSignal,
      onSnapshot: (index, result) => {
        const job = jobs[index]!;
        progress.add(job.sourceBytes, 1, job.label);
        if (job.component === 'actors' && !result.vanished && !result.unreadable) references.push(...referencesFrom(result.answers, path.dirname(job.source)));
        results[index] = result;
        ready[index]!.resolve(result);
      },
    });
    snapshotted.then(() => snapshotsTaken.resolve(), (error: unknown) => {
      ready.forEach(({ reject }) => reject(error));
      snapshotsTaken.reject(error);
    });
    const jobIndex = new Map(jobs.map((job, i) => [job.target, i]));
    // Progress of compressing a snapshot counts in source bytes, so the bar ends exactly at its total.
    const scale = (target: string) => {
      const i = jobIndex.get(target);
      const snapshot = i === undefined ? undefined : results[i];
      return snapshot && 'size' in snapshot && snapshot.size > 0 ? jobs[i!]!.sourceBytes / snapshot.size : 1;
    };

    const actorsFile = actorEntries.length > 0 ? archiveActors() : Promise.resolve(null);
    actorsFile.catch(() => undefined); // awaited below, or settled by the caller when something else fails first
    background.push(actorsFile);
    async function archiveActors(): Promise<ManifestFile> {
      const relative = `actors.tar${ext}`;
      async function* whenSnapshotted(): AsyncGenerator<ActorEntry> {
        for (const entry of actorEntries) {
          const i = jobIndex.get(entry.source);
          if (i === undefined) {
            yield entry;
            continue;
          }
          const snapshot = await ready[i]!.promise;
          if (snapshot.vanished) yield entry; // skipped by packTar: the staging file was never written
          else if (snapshot.unreadable) {
            // The live files as they are, each stored only if it still exists.
            const live = jobs[i]!.source;
            const files = await existingCompanions(live);
            keptRaw.push({ path: live, files: files.map((f) => path.basename(f)), reason: snapshot.reason });
            for (const file of files) yield { archivePath: `${path.posix.dirname(entry.archivePath)}/${path.basename(file)}`, source: file, rawStore: file === live };
          } else yield { ...entry, data: snapshot.data, release: snapshot.release };
        }
      }
      const tar = packTar(whenSnapshotted(), {
        onBytes: (n, entry) => progress.add(n * scale(entry.source), 0, relative),
        onFile: (entry: ActorEntry, stored) => {
          if (stored) {
            const [folder, file] = [path.posix.dirname(entry.archivePath.slice('actors/'.length)), path.posix.basename(entry.archivePath)];
            storedActorFiles.set(folder, [...(storedActorFiles.get(folder) ?? []), file]);
          }
          if (entry.rawStore && stored && path.basename(entry.archivePath) === 'store.sqlite') counts.actors++;
          if (!jobIndex.has(entry.source)) return progress.add(0, 1);
          if (stored && path.basename(entry.archivePath) === 'store.sqlite') counts.actors++;
          if (entry.data) entry.release?.();
          else void unlink(entry.source).catch(() => undefined); // free the staging space as we go
        },
      }, { topDir: 'actors', topDirSource: locations.actorsDir });
      return { path: relative, component: 'actors', ...(await writeCompressed(tar, path.join(workDir, relative), compression, { signal: innerSignal, encryption })) };
    }

    const files: ManifestFile[] = [];
    const databases: ManifestDatabase[] = [];
    const storeRaw = (source: string, relative: string) =>
      writeCompressed(createReadStream(source, { highWaterMark: READ_BYTES }), path.join(workDir, relative), compression, { signal: innerSignal, encryption });
    let sequencerLastSeq: number | null = null;
    /** The actors in account.sqlite's snapshot (as their store folders are named); null: every store found counts. */
    let actorDids: Set<string> | null = null;
    for (const reused of reusedDatabases) {
      if (reused.name === 'account') counts.accounts = previous!.manifest.aurora_backup.counts.accounts;
      if (reused.name === 'sequencer') sequencerLastSeq = previous!.manifest.aurora_backup.sequencer_last_seq;
    }
    for (const [i, job] of jobs.entries()) {
      if (job.component === 'actors') continue;
      const snapshot = await ready[i]!.promise;
      if (snapshot.vanished) continue;
      const name = job.component as DatabaseComponent;
      await mkdir(path.join(workDir, 'databases'), { recursive: true, mode: 0o700 });
      const relative = `databases/${name}.sqlite${ext}`;
      if (snapshot.unreadable) {
        files.push({ path: relative, component: name, ...(await storeRaw(job.source, relative)) });
        const companions = [];
        for (const file of (await existingCompanions(job.source)).slice(1)) {
          const stored = `databases/${path.basename(file)}${ext}`;
          companions.push({ path: stored, ...(await storeRaw(file, stored)) });
        }
        keptRaw.push({ path: job.source, files: [path.basename(job.source), ...companions.map((c) => path.basename(c.path, ext))], reason: snapshot.reason, companions });
        continue;
      }
      const k = scale(job.target);
      const source = snapshot.data ? Readable.from([snapshot.data], { objectMode: false }) : createReadStream(job.target, { highWaterMark: READ_BYTES });
      const stored = await writeCompressed(source, path.join(workDir, relative), compression, {
        signal: innerSignal,
        encryption,
        onSourceBytes: (n) => progress.add(n * k, 0, relative),
      });
      if (snapshot.data) snapshot.release();
      else await unlink(job.target);
      files.push({ path: relative, component: name, ...stored });
      databases.push({ name, snapshot_size: snapshot.size, page_count: snapshot.pageCount });
      if (name === 'account') counts.accounts = Number(snapshot.answers.accounts ?? snapshot.answers.actors ?? 0);
      if (name === 'account' && typeof snapshot.answers.actorDids === 'string') actorDids = new Set(snapshot.answers.actorDids.split('\n').map(storeFolderName));
      if (name === 'sequencer') sequencerLastSeq = snapshot.answers.lastSeq === null ? null : Number(snapshot.answers.lastSeq);
    }
    await snapshotted;
    progress.enter('archiving');
    faultPoint('backup:archiving');

    const directories: string[] = [];
    const blobs = await blobsFile;
    const vanished = blobs ? vanishedBlobs(locations.blobsDir, scannedBlobs, storedBlobs) : null;
    if (vanished) throw new EngineError(`${vanished} No backup was kept.`, 'DATA_VANISHED');
    const storesGone = vanishedActorStores(
      locations.actorsDir,
      jobs.flatMap((job, i) => (job.component === 'actors' && path.basename(job.source) === 'store.sqlite' && results[i]?.vanished ? [path.posix.dirname(job.label.slice('actors/'.length))] : [])),
      actorDids,
    );
    if (storesGone) throw new EngineError(`${storesGone} No backup was kept.`, 'DATA_VANISHED');
    for (const rel of reusedBlobPaths) archivedBlobs.add(rel); // what the chain holds counts as held
    const gap = components.has('blobs') && components.has('actors') ? blobGap(blobs?.path ?? null) : null;
    // A pre-restore backup keeps whatever there is: a restore is often what brings the missing blobs back.
    if (gap && opts.preRestore) warnings.push(gap);
    else if (gap) throw new EngineError(`${gap} No backup was kept.`, 'BLOBS_MISSING');
    if (blobs && previous && counts.blobs === 0) await unlink(path.join(workDir, blobs.path)); // no new blob: an incremental backup stores no empty archive
    else if (blobs) {
      files.push(blobs);
      directories.push('blobs');
    }
    const actors = await actorsFile;
    if (actors) {
      files.push(actors);
      directories.push('actors');
    }

    // The secrets component, only in encrypted backups: the PDS's configuration (the JWT secret, the PLC rotation key,
    // the admin password) and a copy of every signing key and reserved key, which also stay in the actor archive
    // so that it restores on its own (docs/encryption.md).
    const secrets: string[] = [];
    if (encryption && !opts.preRestore && (opts.envFile || keyFiles.length > 0)) {
      const relative = `secrets.tar${ext}`;
      const envFile = opts.envFile;
      const stored: string[] = [];
      const entries = async function* (): AsyncGenerator<TarSource> {
        if (envFile) yield { archivePath: `secrets/${path.basename(envFile)}`, source: envFile };
        for (const key of keyFiles) yield { archivePath: `secrets/actors/${key.rel}`, source: key.abs };
      };
      const hooks = { onFile: (entry: TarSource, kept: boolean) => void (kept && stored.push(entry.archivePath)) };
      files.push({ path: relative, component: SECRETS_COMPONENT, ...(await writeCompressed(packTar(entries(), hooks, { topDir: 'secrets' }), path.join(workDir, relative), compression, { signal: innerSignal, encryption })) });
      // As stored below secrets/: an env file outside the data directory has no path relative to it.
      secrets.push(...stored.map((p) => p.slice('secrets/'.length)));
    }
    if (encryption && !opts.preRestore && !opts.envFile) {
      warnings.push(`No pds.env or .env was found, so the PDS's configuration (JWT secret, PLC rotation key) is not in this backup: give it with --env-file.`);
    } else if (!encryption && !opts.preRestore) {
      warnings.push(SECRETS_NOT_BACKED_UP);
    }

    if (databases.some((d) => d.name === 'account') && counts.accounts === 0) {
      warnings.push(`${locations.accountDb} holds no accounts: check that this is the PDS's data directory.`);
    }
    const standsFor = new Set<string>([...files.map((f) => f.component), ...reusedDatabases.map((d) => d.name), ...(reusedActors.length ? ['actors'] : []), ...(reusedBlobs.length ? ['blobs'] : [])]);
    const locationsHeld = Object.fromEntries(Object.entries(found).filter(([c]) => standsFor.has(c)));

    progress.enter('finalizing');
    await rm(staging, { recursive: true, force: true });
    const companionBytes = keptRaw.flatMap((k) => k.companions ?? []).reduce((sum, c) => sum + c.size, 0);
    // What the backup stands for: what it stored (holder 0) and what its chain holds unchanged.
    holders.list[0]!.files = files.map((f) => ({ ...f }));
    const ownBlobs: ManifestContents['blobs'] = [];
    if (blobs && counts.blobs > 0) {
      for (const rel of archivedBlobs) {
        if (reusedBlobPaths.has(rel)) continue;
        ownBlobs.push([rel, 0, blobSizes.get(rel) ?? (await fileSize(path.join(locations.blobsDir, ...rel.split('/'))))]);
      }
    }
    const ownActors: ManifestContents['actors'] = actors ? [...storedActorFiles].map(([folder, names]) => [folder, 0, names.sort()]) : [];
    const contents: ManifestContents = {
      data_dir: locations.dataDir,
      holders: holders.list,
      databases: [...databases.map((d) => ({ ...d, holder: 0 })), ...reusedDatabases].sort((a, b) => a.name.localeCompare(b.name)),
      actors: [...ownActors, ...reusedActors].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
      blobs: [...ownBlobs, ...reusedBlobs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
      fingerprints,
    };
    // Counts are of what the backup stands for, as a restore finds them.
    counts.blobs += reusedBlobs.length;
    counts.actors += reusedActors.filter((a) => a[2].includes('store.sqlite')).length;
    return { locations: locationsHeld, warnings, files, databases, directories, counts, sequencerLastSeq, totalSize: files.reduce((sum, f) => sum + f.size, companionBytes), keptRaw, secrets, contents };
  }

  /** What the snapshots' records use must be in the blob archive: a backup that would restore posts without their images is not kept. */
  function blobGap(archive: string | null): string | null {
    const missing = missingBlobs(references, archivedBlobs);
    if (missing.length === 0) return null;
    if (missing.length === references.length) {
      return (
        `The actor stores use ${countOf(references.length, 'blob')}, but ${archive ? `none of them is in ${locations.blobsDir}` : `${locations.blobsDir} does not exist`}: ` +
        `that is where this backup looked for blobs. If the PDS keeps them elsewhere (the official installer uses <data>/blocks), set PDS_BLOBSTORE_DISK_LOCATION ` +
        `in the environment or in the .env file given with --env-file.`
      );
    }
    return (
      `${describeMissing(missing, archive ?? 'the backup')}. Their files are not in ${locations.blobsDir}: ` +
      `deleted while the backup ran (run it again), or lost from the blob store.`
    );
  }
}

/**
 * What this backup is encrypted with: the caller's keys, else BACKUP_ENCRYPTION_RECIPIENTS. Checked before
 * anything is written, so a mistyped key fails the run at once. A pre-restore backup is encrypted the same
 * way: it holds the signing keys and the account database as much as any backup does.
 */
async function encryptionFor(opts: BackupOptions, config: { encryptionRecipients: string[] }, warn: (warning: string) => void): Promise<EncryptionKeys | null> {
  if (opts.encryption === null) return null;
  if (opts.encryption?.kind === 'passphrase') return opts.encryption;
  const wanted = opts.encryption?.recipients ?? config.encryptionRecipients;
  if (wanted.length === 0) {
    if (opts.encryption) throw new EngineError('Encryption was asked for, but no age public key (age1…) was given.', 'BAD_RECIPIENT');
    return null;
  }
  // The public key is all a backup needs: an identity file on the server lets whoever takes the server read every backup.
  const onIdentityFile = (file: string) =>
    warn(`${file} holds the secret key (AGE-SECRET-KEY-1…) as well as the public key. Backing up needs only the public key (age1…): give that, and keep the identity file off this machine, where a thief of the server cannot read the backups with it.`);
  const recipients = await resolveRecipients(wanted, onIdentityFile);
  // Only blanks given (`--encrypt-to ""`, an empty setting): refused here, before the run starts.
  if (recipients.length === 0) throw new EngineError('Encryption was asked for, but no age public key (age1…) was given.', 'BAD_RECIPIENT');
  return { kind: 'recipients', recipients };
}

/** An actor's signing key (`<folder>/key`) or a reserved key (`reserved_keys/…`), by its path below the actor folder. */
export const isKeyFile = (relative: string) => path.posix.basename(relative) === 'key' || relative.startsWith('reserved_keys/');

/** Asked of each snapshot (not the live file), so the numbers match what the backup holds. */
const QUERIES: Partial<Record<DatabaseComponent, Record<string, string>>> = {
  // actorDids: whose actor stores the backup must hold (a store that vanishes mid-backup is then an error).
  account: { accounts: 'SELECT count(*) FROM account', actors: 'SELECT count(*) FROM actor', actorDids: "SELECT group_concat(did, char(10)) FROM actor" },
  sequencer: { lastSeq: 'SELECT max(seq) FROM repo_seq' },
};

/** `blocks`, `db/account.sqlite`; absolute when outside the data directory. */
function relativeToData(dataDir: string, where: string): string {
  const relative = path.relative(dataDir, where);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative.split(path.sep).join('/') : where;
}

/** The version a running PDS reports at /xrpc/_health ({"version":"0.4.…"}); 'unknown' when it does not answer. */
async function versionFromHealth(healthUrl: string): Promise<string> {
  try {
    const url = new URL(healthUrl);
    if (!url.pathname.endsWith('/xrpc/_health')) url.pathname = '/xrpc/_health';
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const body = (await response.json()) as { version?: unknown };
    return response.ok && typeof body.version === 'string' && body.version.trim() !== '' ? body.version.trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}

// ---- Checks before anything is written ------------------------------------------------------------

async function checkDataDir(locations: PdsLocations, opts: { partialIsFine: boolean }): Promise<void> {
  const { dataDir } = locations;
  const unreadable = () =>
    new EngineError(`The data directory ${dataDir} cannot be read (permission denied). Run the backup as the user the PDS runs as, or give this user read access.`, 'EACCES');
  try {
    if (!(await stat(dataDir)).isDirectory()) {
      throw new EngineError(`${dataDir} is a file, not a directory. ${advice('passDataDir')} the PDS data directory (the folder holding account.sqlite, actors/ and blobs/).`, 'NOT_A_DIRECTORY');
    }
    await readdir(dataDir);
  } catch (error) {
    if (error instanceof EngineError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw unreadable();
    throw new EngineError(
      `The data directory ${dataDir} does not exist. ${advice('passDataDir')} the PDS data directory (the folder holding account.sqlite, actors/ and blobs/)${advice('orSetDataDirEnv')}.`,
      'NO_DATA_DIR',
    );
  }
  const present = await Promise.all([locations.accountDb, locations.actorsDir, locations.blobsDir].map(exists));
  if (!present.some(Boolean) && !opts.partialIsFine) {
    throw new EngineError(
      `${dataDir} does not look like a PDS data directory: it has no account.sqlite, actors/ or blobs/. ` +
        `${advice('passDataDir')} the folder the PDS writes to (PDS_DATA_DIRECTORY in its .env).`,
      'NOT_A_PDS',
    );
  }
}

async function prepareBackupDir(backupDir: string, locations: PdsLocations): Promise<void> {
  const realBackup = await realpathOfNearest(backupDir);
  for (const dir of [locations.dataDir, locations.actorsDir, locations.blobsDir]) {
    if (!(await exists(dir))) continue;
    const relative = path.relative(await realpath(dir), realBackup);
    if (relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative))) {
      throw new EngineError(
        `The backup directory ${backupDir} is inside the data directory ${dir}: each backup would contain the ones before it. Choose a backup directory outside it (${advice('backupDir')}).`,
        'BACKUP_INSIDE_DATA',
      );
    }
  }
  try {
    await mkdir(backupDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way' : (error as Error).message;
    throw new EngineError(`Cannot create the backup directory ${backupDir} (${why}). Choose a folder you can write to ${advice('withBackupDir')}.`, code ?? 'BACKUP_DIR');
  }
}

/** The real path of `p`, or of its nearest existing ancestor with the rest appended. */
async function realpathOfNearest(p: string): Promise<string> {
  const rest: string[] = [];
  for (let current = path.resolve(p); ; current = path.dirname(current)) {
    try {
      return path.join(await realpath(current), ...rest.reverse());
    } catch {
      if (path.dirname(current) === current) return path.resolve(p);
      rest.push(path.basename(current));
    }
  }
}

// ---- Never beside a restore ------------------------------------------------------------------------

/**
 * The data directory's lock, which a restore takes too, so a backup never copies a data directory
 * while a restore swaps it. A backup user who may only read the data directory cannot take it: then
 * a restore holding it is refused here, and `watchComponents` catches one that starts later.
 */
async function lockDataDirForBackup(dataDir: string, purpose: string): Promise<BackupLock | null> {
  try {
    return await lockDataDir(dataDir, purpose);
  } catch (error) {
    const code = (error as EngineError).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw error;
    const holder = await readBackupLock(dataDir);
    if (holder && !isStale(holder)) {
      throw new EngineError(`A ${holder.purpose} is running on ${dataDir} (process ${holder.pid} on ${holder.host}, since ${holder.since}). Back up once it has finished.`, 'LOCKED');
    }
    return null;
  }
}

function interruptedRestoreUnwritable(dataDir: string): EngineError {
  return new EngineError(
    `A restore into ${dataDir} was interrupted (its staging folder ${path.join(dataDir, STAGING_DIR_NAME)} is still there), and this user cannot write to the data directory to finish it. ` +
      `Stop the PDS and run aurora-backup restore --recover as the user the PDS runs as, then back up. No backup was made.`,
    'INTERRUPTED_RESTORE',
  );
}

/** A backup finishes an interrupted restore on its own only when no process has the databases open. */
async function refuseIfPdsRunning(locations: PdsLocations, databases: string[]): Promise<void> {
  const check = await checkPdsRunning({ databases: [...new Set([locations.accountDb, ...databases])] });
  if (!check.running) return;
  throw new EngineError(
    `A restore into ${locations.dataDir} was interrupted half-way, and the PDS is running on it (${check.reasons[0]}${check.reasons.length > 1 ? `; and ${check.reasons.length - 1} more` : ''}). ` +
      `A backup does not finish that restore under a running PDS, and a half-swapped data directory is not worth backing up. ` +
      `Stop the PDS, then run aurora-backup restore --recover (with --stop-command to let it stop the PDS), and back up again. No backup was made.`,
    'INTERRUPTED_RESTORE',
  );
}

/**
 * The identity (device and inode) of every component when the backup starts: a restore replaces them
 * by rename, so a component that is another file or folder by the end was swapped during the backup.
 * Without the data directory's lock, a restore's staging folder appearing says the same sooner.
 */
async function watchComponents(locations: PdsLocations, opts: { restoreMayStart: boolean }): Promise<{ assertUnchanged(): Promise<void> }> {
  const paths = [locations.accountDb, locations.sequencerDb, locations.didCacheDb, locations.actorsDir, locations.blobsDir];
  const identity = (p: string) => stat(p).then((s) => `${s.dev}:${s.ino}`, () => 'missing');
  const before = await Promise.all(paths.map(identity));
  return {
    async assertUnchanged() {
      const after = await Promise.all(paths.map(identity));
      const changed = paths.filter((_p, i) => before[i] !== after[i] && before[i] !== 'missing');
      const restoring = opts.restoreMayStart && (await exists(path.join(locations.dataDir, STAGING_DIR_NAME)));
      if (changed.length === 0 && !restoring) return;
      throw new EngineError(
        `${changed.length > 0 ? `${changed.join(', ')} ${changed.length === 1 ? 'was' : 'were'} replaced` : `A restore started in ${locations.dataDir}`} while this backup ran, so it would mix old and new data. ` +
          `No backup was made; run it again once the restore has finished.`,
        'DATA_DIR_CHANGED',
      );
    },
  };
}

/** Before the folder is sealed: still this run's, with every file it wrote at the size it wrote. */
async function assertFolderIntact(workDir: string, files: ManifestFile[], lock: BackupLock, dataDirLock: BackupLock | null): Promise<void> {
  await lock.assertHeld();
  await dataDirLock?.assertHeld();
  for (const file of files) {
    const size = await stat(path.join(workDir, file.path)).then((s) => s.size, () => -1);
    if (size !== file.size) {
      throw new EngineError(
        `${path.join(workDir, file.path)} ${size < 0 ? 'vanished' : `changed (${size} bytes, ${file.size} written)`} while this backup ran: another process wrote into its folder. No backup was made; run it again.`,
        'FOLDER_CHANGED',
      );
    }
  }
}

// ---- The folder: leftovers, names, durability ----------------------------------------------------

/** Folders of runs that crashed or were killed (we hold the lock, so none is being written now). */
async function removeLeftovers(backupDir: string): Promise<void> {
  for (const entry of await readdir(backupDir, { withFileTypes: true })) {
    if (entry.isDirectory() && LEFTOVER_PATTERN.test(entry.name)) {
      await rm(path.join(backupDir, entry.name), { recursive: true, force: true });
    }
  }
}

/** `YYYYMMDD_HHMMSS` in local time, as backup.sh names folders. */
export function formatTimestamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}_${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

/** Two backups in the same second: the second one waits for the next second rather than overwrite or rename. */
async function freeTimestamp(backupDir: string, prefix: string): Promise<{ stamp: string; at: Date }> {
  for (;;) {
    const at = new Date();
    const stamp = formatTimestamp(at);
    const taken = (await exists(path.join(backupDir, `${prefix}${stamp}`))) || (await exists(path.join(backupDir, `.incomplete-${prefix}${stamp}`)));
    if (!taken) return { stamp, at };
    await sleep(1000 - (Date.now() % 1000) + 5);
  }
}

async function writeFileSynced(file: string, text: string): Promise<number> {
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return Buffer.byteLength(text);
}

/** Makes a rename or new files in `dir` durable. Windows cannot open folders for this; NTFS journals them. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32' || !(await exists(dir))) return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

// ---- Errors -----------------------------------------------------------------------------------------

function toEngineError(error: unknown, backupDir: string, signal?: AbortSignal): EngineError {
  if (signal?.aborted || (error as Error).name === 'AbortError' || (error as EngineError).code === 'ABORTED') {
    return new EngineError('Backup cancelled. The unfinished backup was removed; nothing that looks complete was left.', 'ABORTED');
  }
  if (error instanceof EngineError) return error;
  const { code, path: where } = error as NodeJS.ErrnoException;
  if (code === 'ENOSPC') {
    return new EngineError(
      `No space left on the disk holding ${backupDir}${where ? ` (while writing ${where})` : ''}. Free some space, keep fewer backups (${advice('retainDays')}) or choose another backup directory (${advice('backupDirFlag')}), then run the backup again. The unfinished backup was removed.`,
      'ENOSPC',
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new EngineError(
      `Permission denied on ${where ?? backupDir}. Run the backup as the user the PDS runs as, or give this user read access to the data directory and write access to ${backupDir}.`,
      code,
    );
  }
  return new EngineError(`Backup failed: ${(error as Error).message}. The unfinished backup was removed; run the backup again.`, code ?? 'BACKUP_FAILED');
}

// ---- Small helpers ----------------------------------------------------------------------------------

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

/**
 * Stats run a batch at a time: one after another, each of thousands of blobs would wait on its own round
 * trip to the thread pool. The promises added must not reject.
 */
class StatBatch {
  private pending: Array<Promise<unknown>> = [];

  async add(stat: Promise<unknown>): Promise<void> {
    this.pending.push(stat);
    if (this.pending.length >= 64) await this.flush();
  }

  async flush(): Promise<void> {
    await Promise.all(this.pending);
    this.pending = [];
  }
}

async function fileSize(p: string): Promise<number> {
  return stat(p).then(
    (s) => s.size,
    () => 0, // vanished since it was listed
  );
}

type FoundFileList = Array<{ rel: string; abs: string }>;

/** `fn` over every item, at most `limit` at a time, results in order. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A database's bytes on disk, its write-ahead log included (what SQLite reads to snapshot it). */
async function sqliteBytes(p: string): Promise<number> {
  return (await fileSize(p)) + (await fileSize(`${p}-wal`));
}

/** A database and the -wal and -shm beside it, those that exist. */
async function existingCompanions(database: string): Promise<string[]> {
  const files = [database, `${database}-wal`, `${database}-shm`];
  const present = await Promise.all(files.map(exists));
  return files.filter((_, i) => present[i]);
}

/** Like `du -sh`: 512K, 3.4M, 12G. */
export function humanSize(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 ? String(value) : value < 10 ? (Math.ceil(value * 10) / 10).toFixed(1) : String(Math.ceil(value));
  return `${shown}${units[unit]}`;
}

/** The first folder of a path below the blob folder (a DID's), '' for a file at its top. */
function topFolder(rel: string): string {
  const slash = rel.indexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

const VANISHED_WHY = 'Something removed them while this backup ran (an account deleted, a restore, a failing disk): check the PDS, then run the backup again.';

/** An actor store's folder name for a DID: the PDS names it after the DID (some layouts write its colons as `_`). */
const storeFolderName = (did: string) => did.replaceAll(':', '_');

/**
 * Like a blob folder (vanishedBlobs): a file of an actor store that vanishes while the backup runs may be
 * the PDS's own temporary file, but a whole store (its store.sqlite) vanishing while its account is in
 * account.sqlite's snapshot is not: the backup would hold the account without its repository.
 * `gone`: the store folders (relative to actors/) whose store.sqlite vanished.
 */
function vanishedActorStores(actorsDir: string, gone: string[], actorDids: Set<string> | null): string | null {
  const missing = gone.filter((folder) => actorDids === null || actorDids.has(storeFolderName(path.posix.basename(folder))));
  if (missing.length === 0) return null;
  const more = missing.length > 1 ? ` and ${missing.length - 1} more actor stores` : '';
  return `The actor store ${path.join(actorsDir, missing[0]!)}${more} vanished while the backup read it, while account.sqlite still lists its account. ${VANISHED_WHY}`;
}

/**
 * A blob file that vanishes while the backup runs is the PDS's own business (a temporary upload moved or
 * removed); a whole DID folder vanishing, or most of the store, is not: something removed data the backup
 * would have kept (an account deleted, a restore, a failing disk), and a backup without it must not look whole.
 */
function vanishedBlobs(blobsDir: string, scanned: Map<string, number>, stored: Map<string, number>): string | null {
  const gone = [...scanned].filter(([folder, files]) => folder !== '' && files > 0 && !stored.has(folder));
  if (gone.length > 0) {
    const [folder, files] = gone[0]!;
    const more = gone.length > 1 ? ` and ${gone.length - 1} more folders` : '';
    return `${path.join(blobsDir, folder)} (${files} blob files)${more} vanished while the backup read the blob folder. ${VANISHED_WHY}`;
  }
  const total = [...scanned.values()].reduce((a, b) => a + b, 0);
  const kept = [...stored.values()].reduce((a, b) => a + b, 0);
  if (total >= 10 && kept < total / 2) return `Only ${kept} of the ${total} blob files in ${blobsDir} were still there when the backup read them. ${VANISHED_WHY}`;
  return null;
}
