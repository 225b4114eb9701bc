import { existsSync } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BackupStatus, BackupSummary } from '../../shared/api.js';
import { BACKUP_NAME_PATTERN, COMPONENTS, INCOMPLETE_BACKUP_PREFIX, isDataComponent, PRE_RESTORE_NAME_PATTERN, type Component } from '../../shared/components.js';
import { escapeControlCharacters } from '../../shared/format.js';
import { readBackupFolder, storedCompression, timeFromFolderName, type BackupFolder } from './backup-folder.js';
import { EngineError } from './errors.js';
import { isIncremental, resolveSources } from './chain.js';

/** Folder names list and prune consider: finished backups (ours and legacy) and leftovers of unfinished ones. */
export const isBackupFolderName = (name: string) => BACKUP_NAME_PATTERN.test(name) || PRE_RESTORE_NAME_PATTERN.test(name) || name.startsWith(INCOMPLETE_BACKUP_PREFIX);

/**
 * A backup named as `list` prints it (`backup_20250322_143022`, `pre-restore_…`) is looked for in the
 * backup folder; anything else is a path, as given.
 */
export function resolveBackupPath(given: string, backupDir: string): string {
  if (BACKUP_NAME_PATTERN.test(given) || PRE_RESTORE_NAME_PATTERN.test(given)) {
    const inBackupDir = path.join(backupDir, given);
    if (existsSync(inBackupDir) || !existsSync(given)) return inBackupDir;
  }
  return path.resolve(given);
}

/**
 * Every backup folder in `backupDir`, newest first, with a quick status (no hashing):
 * complete = manifest valid and every listed file present with the recorded size;
 * incomplete = an unfinished run's leftover, no manifest, or files missing;
 * corrupt = manifest does not parse (or is from a newer format), or a file has the wrong size.
 * Pre-restore backups are listed too, marked (`kind`) with the restore they came before. Anything else in
 * the folder (other files, symlinks) is left out.
 */
export async function listBackups(backupDir: string): Promise<BackupSummary[]> {
  const dir = path.resolve(backupDir);
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw new EngineError(`Cannot read the backup directory ${dir}: ${error.message}.`, 'BACKUP_DIR_UNREADABLE');
  });
  const summaries = await Promise.all(
    entries.filter((entry) => entry.isDirectory() && isBackupFolderName(entry.name)).map((entry) => summarize(path.join(dir, entry.name))),
  );
  return summaries.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
}

/** What a listing (local or on an off-site target) says of a backup folder before its manifest is read. */
export function unreadSummary(name: string, where: string, size: number): Omit<BackupSummary, 'createdAt' | 'status'> {
  return {
    name,
    path: where,
    size,
    durationMs: null,
    compression: null,
    pdsVersion: null,
    legacy: false,
    kind: PRE_RESTORE_NAME_PATTERN.test(name) ? 'pre-restore' : 'backup',
    preRestoreOf: null,
    components: [],
    backupKind: 'full' as 'full' | 'incremental',
    base: null as string | null,
    standsForSize: null as number | null,
  };
}

/**
 * A backup's status from its files' sizes where it is kept (absent: the file is not there): incomplete
 * when files are missing, corrupt when one has another size than the manifest records, else complete.
 */
export function statusFromSizes(files: readonly { path: string; size: number | null }[], sizes: ReadonlyMap<string, number>): Pick<BackupSummary, 'status' | 'statusDetail'> {
  const missing = files.filter((f) => !sizes.has(f.path));
  if (missing.length) return { status: 'incomplete', statusDetail: `missing: ${missing.map((f) => f.path).join(', ')}` };
  const wrong = files.find((f) => f.size !== null && sizes.get(f.path) !== f.size);
  if (wrong) return { status: 'corrupt', statusDetail: `${wrong.path} is ${sizes.get(wrong.path)} bytes, manifest.json records ${wrong.size}` };
  return { status: 'complete' };
}

async function summarize(folder: string): Promise<BackupSummary> {
  const name = path.basename(folder);
  const base = unreadSummary(name, folder, await diskUsage(folder));
  const fallbackTime = async () => (timeFromFolderName(name) ?? (await stat(folder)).mtime).toISOString();
  const unusable = async (status: BackupStatus, statusDetail: string): Promise<BackupSummary> => ({
    ...base,
    createdAt: await fallbackTime(),
    status,
    statusDetail,
  });

  if (name.startsWith(INCOMPLETE_BACKUP_PREFIX)) {
    return unusable('incomplete', 'left by a backup that did not finish (or one running now); the next backup cleans it up');
  }
  let backup;
  try {
    backup = await readBackupFolder(folder);
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    return unusable(error.code === 'NO_MANIFEST' ? 'incomplete' : 'corrupt', error.message);
  }

  const sizes = new Map<string, number>();
  const missing = new Set(backup.missing.map((f) => f.path));
  for (const file of backup.files) if (!missing.has(file.path)) sizes.set(file.path, (await stat(path.join(folder, file.path))).size);
  let status = statusFromSizes(backup.files, sizes);
  const incremental = isIncremental(backup);
  if (incremental && status.status === 'complete') {
    const { problems, needs } = await resolveSources(backup);
    if (problems.length > 0) status = { status: 'incomplete', statusDetail: `an incremental backup whose chain (${needs.join(', ')}) is not whole: ${problems.join('; ')}` };
  }
  const pdsVersion = backup.rawManifest.pds_version;
  const before = backup.manifest?.aurora_backup.pre_restore_of;
  return {
    ...base,
    createdAt: backup.createdAt.toISOString(),
    durationMs: backup.manifest?.aurora_backup.duration_ms ?? null,
    ...status,
    compression: storedCompression(backup),
    pdsVersion: typeof pdsVersion === 'string' ? escapeControlCharacters(pdsVersion) : null,
    legacy: backup.legacy,
    preRestoreOf: before && typeof before.backup_name === 'string' ? { backupName: before.backup_name, dataDir: String(before.data_dir) } : null,
    components: incremental ? COMPONENTS.filter((c) => standsForComponents(backup).has(c)) : backup.files.map((f) => f.component).filter(isDataComponent),
    // An incremental backup of an idle PDS may store no file of its own; its chain is encrypted all the same.
    encrypted: backup.manifest?.aurora_backup.encryption !== undefined || backup.files.some((f) => f.encrypted === true),
    encryptionMode: backup.manifest?.aurora_backup.encryption?.mode ?? null,
    backupKind: incremental ? 'incremental' : 'full',
    base: incremental ? (backup.manifest?.aurora_backup.base ?? null) : null,
    standsForSize: base.size + (incremental ? chainBytes(backup) : 0),
    needs: backup.manifest?.aurora_backup.contents?.holders.slice(1).map((h) => h.name) ?? [],
  };
}

/** Bytes of all files below `folder`, not following symlinks (like `du`, without block rounding). */
/** Bytes of the files in `folder`. A backup being written changes under our feet: what vanishes counts 0. */
async function diskUsage(folder: string): Promise<number> {
  const vanished = <T>(fallback: T) => (error: NodeJS.ErrnoException): T => {
    if (error.code === 'ENOENT') return fallback;
    throw error;
  };
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(vanished([]));
  const sizes = await Promise.all(
    entries.filter((entry) => entry.isFile()).map((entry) => lstat(path.join(entry.parentPath, entry.name)).then((s) => s.size, vanished(0))),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}

/** The components an incremental backup stands for, wherever in its chain they are. */
function standsForComponents(backup: BackupFolder): Set<Component> {
  const contents = backup.manifest?.aurora_backup.contents;
  const held = new Set<Component>(contents?.databases.map((d) => d.name) ?? []);
  if (contents?.blobs.length) held.add('blobs');
  if (contents?.actors.length) held.add('actors');
  return held;
}

/** Stored bytes of the files of its chain an incremental backup is restored from, besides its own. */
function chainBytes(backup: BackupFolder): number {
  const holders = backup.manifest?.aurora_backup.contents?.holders.slice(1) ?? [];
  return holders.reduce((sum, h) => sum + h.files.reduce((s, f) => s + f.size, 0), 0);
}
