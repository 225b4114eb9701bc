import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { BACKUP_NAME_PATTERN, DATABASE_COMPONENTS, isDataComponent, type Component, type Compression } from '../../shared/components.js';
import type { Manifest, ManifestContents } from '../../shared/manifest.js';
import { readBackupFolder, storedFile, type BackupFile, type BackupFolder } from './backup-folder.js';
import { checkKeysOpen, type DecryptionKeys, type EncryptionKeys } from './crypto/age-stream.js';
import { assertKeysOpenBackup } from './crypto/backup-keys.js';
import { EngineError } from './errors.js';

/**
 * Incremental backups (docs/incremental.md): change detection, choosing the backup a new one builds on,
 * and resolving what a backup stands for into the files that hold it.
 */

/**
 * A file modified this close to the moment it was looked at may be modified again within the same tick
 * of its file system's clock (exFAT keeps 10 ms, FAT 2 s) without its time changing: such a fingerprint
 * never counts as unchanged, so the next backup snapshots the database again (git's "racy clean" rule).
 */
const RACY_MS = 3000n;
const RACY = 'racy:';
/** The SQLite database header (its file change counter, page count, schema cookie, …) and the WAL header (its salts and checkpoint sequence change on every reset). */
const HEADER_BYTES: Record<string, number> = { '.sqlite': 100, '.sqlite-wal': 32 };

/**
 * What a database or an actor store folder looks like on disk, taken just before it is snapshotted: for
 * each file (the database and its -wal; every file of an actor store folder except the -shm, which
 * readers write too) its inode, size, modification and change times in nanoseconds, and the headers of
 * the database and of its write-ahead log. Any write changes the size or a time of the database or its
 * -wal; a checkpoint or a WAL reset changes a header as well.
 */
export async function fingerprint(files: string[]): Promise<string> {
  const hash = createHash('sha256');
  const now = BigInt(Date.now()) * 1_000_000n;
  let racy = false;
  for (const file of files) {
    const info = await stat(file, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    // An empty write-ahead log holds nothing: opening a database (our own snapshot does) leaves one behind.
    if (!info || (info.size === 0n && file.endsWith('-wal'))) continue;
    // Every write sets the modification time to the current time (to the file system's granularity).
    if (now - info.mtimeNs < RACY_MS * 1_000_000n) racy = true;
    hash.update(`${path.basename(file)}:${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}\n`);
    const headerBytes = Object.entries(HEADER_BYTES).find(([suffix]) => file.endsWith(suffix))?.[1];
    if (headerBytes) hash.update(await readHeader(file, headerBytes));
  }
  return `${racy ? RACY : ''}${hash.digest('hex')}`;
}

/** True only when both were taken and are the same, and the earlier one was not taken right after a write. */
export function unchangedSince(earlier: string | undefined, now: string): boolean {
  return earlier !== undefined && !earlier.startsWith(RACY) && earlier === now;
}

async function readHeader(file: string, bytes: number): Promise<Buffer> {
  const handle = await open(file, 'r').catch(() => null);
  if (!handle) return Buffer.from('unreadable');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

// ---- The backup a new incremental backup builds on ----------------------------------------------

export interface ChainParent {
  name: string;
  path: string;
  manifest: Manifest;
  contents: ManifestContents;
  /** The full backup the chain starts with, and when it was made. */
  base: string;
  baseCreatedAt: Date;
}

export interface ParentChoice {
  parent: ChainParent | null;
  /** Why there is none (said when a backup that could have been incremental is full). */
  reason: string;
  /** The reason is a change the user made (encryption turned on or off, other keys): said even when the backup was not asked to be incremental. */
  settingsChanged?: boolean;
}

/**
 * The newest backup in `backupDir`, when an incremental backup of `dataDir` can build on it: ours, with the
 * list of what it stands for, of the same data directory, and with every file of its chain present at the
 * size recorded. Anything else (a base deleted by hand, a damaged or unfinished newest backup) makes the
 * next backup full, and `reason` says why.
 */
export async function findParent(backupDir: string, dataDir: string, encryption: EncryptionKeys | null = null): Promise<ParentChoice> {
  const names = (await readdir(backupDir).catch(() => [] as string[])).filter((n) => BACKUP_NAME_PATTERN.test(n)).sort().reverse();
  const newest = names[0];
  if (!newest) return { parent: null, reason: `there is no earlier backup in ${backupDir}` };
  let backup;
  try {
    backup = await readBackupFolder(path.join(backupDir, newest));
  } catch (error) {
    return { parent: null, reason: `the newest backup, ${newest}, cannot be read (${(error as Error).message})` };
  }
  const contents = backup.manifest?.aurora_backup.contents;
  if (!backup.manifest || !contents) return { parent: null, reason: `the newest backup, ${newest}, was made without the list an incremental backup builds on (an older version or the original script)` };
  if (path.resolve(contents.data_dir) !== path.resolve(dataDir)) {
    return { parent: null, reason: `the newest backup, ${newest}, is of another data directory (${contents.data_dir})` };
  }
  const { missing, wrongSize } = await checkHolders(backup.path, contents);
  if (missing.length > 0 || wrongSize.length > 0) {
    return { parent: null, reason: `the chain of the newest backup, ${newest}, is not whole (${[...missing, ...wrongSize].join('; ')})` };
  }
  const otherEncryption = await encryptionDifference(backup.path, backup.manifest, contents, encryption);
  if (otherEncryption) return { parent: null, reason: `the newest backup, ${newest}, ${otherEncryption}`, settingsChanged: true };
  const base = backup.manifest.aurora_backup.kind === 'incremental' ? backup.manifest.aurora_backup.base! : newest;
  const baseFolder = base === newest ? backup : await readBackupFolder(path.join(backupDir, base)).catch(() => null);
  if (!baseFolder) return { parent: null, reason: `the base of the newest backup, ${base}, cannot be read` };
  return { parent: { name: newest, path: backup.path, manifest: backup.manifest, contents, base, baseCreatedAt: baseFolder.createdAt }, reason: '' };
}

/**
 * Why a backup encrypted with `encryption` (null: not encrypted) cannot build on the chain of `manifest`,
 * or null when it can: a restore reads the whole chain with one identity or passphrase, so the chain must
 * be encrypted exactly as this backup will be (the same public keys; the same passphrase, which is checked
 * by opening the header of one of the chain's files: the chain itself was built with that passphrase).
 */
async function encryptionDifference(backupPath: string, manifest: Manifest, contents: ManifestContents, encryption: EncryptionKeys | null): Promise<string | null> {
  const was = manifest.aurora_backup.encryption;
  const chainFiles = contents.holders.flatMap((h, index) => h.files.map((file) => ({ folder: index === 0 ? backupPath : path.join(path.dirname(backupPath), h.name), file })));
  const chainEncrypted = was !== undefined && chainFiles.every(({ file }) => file.encrypted === true);
  if (!encryption) return was ? 'is encrypted and this backup is not (an incremental backup is encrypted like the chain it builds on)' : null;
  if (!chainEncrypted) return 'is not encrypted and this backup is (an incremental backup is encrypted like the chain it builds on)';
  if (encryption.kind === 'recipients') {
    if (was.mode !== 'recipients') return 'is encrypted with a passphrase, this backup to age public keys';
    const sorted = (keys: string[]) => [...keys].sort().join(' ');
    return sorted(was.recipients) === sorted(encryption.recipients) ? null : `is encrypted to other age public keys (${was.recipients.join(', ')}) than this backup (${encryption.recipients.join(', ')})`;
  }
  if (was.mode !== 'passphrase') return 'is encrypted to age public keys, this backup with a passphrase';
  const sample = chainFiles[0];
  if (!sample) return null; // a chain that stores no file at all needs no key
  try {
    await checkKeysOpen(path.join(sample.folder, sample.file.path), { identities: [], passphrase: encryption.passphrase });
    return null;
  } catch (error) {
    const code = (error as EngineError).code;
    if (code === 'DECRYPT_WRONG_KEY') return 'is encrypted with another passphrase than this backup';
    return `cannot be checked against this backup's passphrase (${(error as Error).message})`;
  }
}

/** Each holder's files, looked for beside `backupPath`: those missing, and those not at the size recorded. */
async function checkHolders(backupPath: string, contents: ManifestContents): Promise<{ missing: string[]; wrongSize: string[] }> {
  const missing: string[] = [];
  const wrongSize: string[] = [];
  const dir = path.dirname(backupPath);
  for (const [index, holder] of contents.holders.entries()) {
    const folder = index === 0 ? backupPath : path.join(dir, holder.name);
    const folderThere = await stat(folder).then((s) => s.isDirectory(), () => false);
    if (!folderThere) {
      missing.push(`${holder.name} is missing`);
      continue;
    }
    for (const file of holder.files) {
      const size = await stat(path.join(folder, file.path)).then((s) => (s.isFile() ? s.size : -1), () => -1);
      if (size < 0) missing.push(`${holder.name}/${file.path} is missing`);
      else if (size !== file.size) wrongSize.push(`${holder.name}/${file.path} is ${size} bytes, ${file.size} recorded`);
    }
  }
  return { missing, wrongSize };
}

// ---- What a backup stands for, and where it is ----------------------------------------------------

/** One stored file a component is read from, and which of its entries belong to the component. */
export interface SourcePart {
  /** The backup folder holding the file. */
  folder: string;
  holder: string;
  /** Its path, size and SHA-256 as the backup being restored records them. */
  file: BackupFile;
  compression: Compression;
  /** Archives only: the files (relative to the archive's top folder) to take; all when absent. */
  keep?: Set<string>;
}

export interface ResolvedSources {
  /** Each component the backup stands for, with the files it is read from. */
  parts: Map<Component, SourcePart[]>;
  /** Backups and files the chain needs that are not there, or not at the size recorded. */
  problems: string[];
  /** Other backups it needs (its chain), oldest first; empty for a full backup. */
  needs: string[];
}

export const isIncremental = (backup: BackupFolder) => backup.manifest?.aurora_backup.kind === 'incremental';

/**
 * Where every component of `backup` is read from. A full backup reads its own files. An incremental one
 * reads, for each component, the files of the backups that hold its parts (its own, its base's, those in
 * between) with the sizes and checksums its own manifest recorded, taking from each archive only the
 * entries that backup holds for it.
 */
export async function resolveSources(backup: BackupFolder): Promise<ResolvedSources> {
  const parts = new Map<Component, SourcePart[]>();
  const contents = backup.manifest?.aurora_backup.contents;
  if (!isIncremental(backup) || !contents) {
    for (const file of backup.files.filter((f) => isDataComponent(f.component))) parts.set(file.component as Component, [{ folder: backup.path, holder: backup.name, file, compression: backup.compression }]);
    return { parts, problems: [], needs: [] };
  }
  const { missing, wrongSize } = await checkHolders(backup.path, contents);
  const problems = [...missing, ...wrongSize];
  const dir = path.dirname(backup.path);
  const holderFile = (holder: number, component: Component): SourcePart | null => {
    const h = contents.holders[holder]!;
    const file = h.files.find((f) => f.component === component);
    if (!file) {
      problems.push(`${h.name} should hold ${component} for this backup, but this backup's manifest lists no such file of it`);
      return null;
    }
    return {
      folder: holder === 0 ? backup.path : path.join(dir, h.name),
      holder: h.name,
      file: storedFile(file),
      compression: h.compression,
    };
  };
  for (const name of DATABASE_COMPONENTS) {
    const db = contents.databases.find((d) => d.name === name);
    const part = db ? holderFile(db.holder, name) : null;
    if (part) parts.set(name, [part]);
  }
  const byHolder = (entries: Array<[string, number]>, component: Component) => {
    const keep = new Map<number, Set<string>>();
    for (const [relative, holder] of entries) {
      let set = keep.get(holder);
      if (!set) keep.set(holder, (set = new Set()));
      set.add(relative);
    }
    const list: SourcePart[] = [];
    for (const [holder, set] of [...keep].sort((a, b) => b[0] - a[0])) {
      const part = holderFile(holder, component);
      if (part) list.push({ ...part, keep: set });
    }
    if (list.length > 0) parts.set(component, list);
  };
  byHolder(contents.blobs.map(([p, holder]) => [p, holder]), 'blobs');
  byHolder(contents.actors.flatMap(([folder, holder, files]) => files.map((f) => [folder === '.' ? f : `${folder}/${f}`, holder] as [string, number])), 'actors');
  const needs = contents.holders.slice(1).map((h) => h.name).sort();
  return { parts, problems, needs };
}

/**
 * Before an incremental backup's chain is read: the keys must open the encrypted files of every other backup
 * it reads for `components` (the header of one file each), so a wrong or missing key is said before anything
 * is written. Its own files are checked by assertKeysOpenBackup.
 */
export async function assertKeysOpenChain(backup: BackupFolder, sources: ResolvedSources, keys: DecryptionKeys | undefined, components: Component[]): Promise<void> {
  const byFolder = new Map<string, BackupFile[]>();
  for (const [component, parts] of sources.parts) {
    if (!components.includes(component)) continue;
    for (const part of parts.filter((p) => p.folder !== backup.path && p.file.encrypted === true)) {
      const files = byFolder.get(part.folder) ?? [];
      if (!files.some((f) => f.path === part.file.path)) files.push(part.file);
      byFolder.set(part.folder, files);
    }
  }
  for (const [folder, files] of byFolder) {
    // Without keys the backup itself is named: it is what the user asked to read.
    await assertKeysOpenBackup({ path: keys ? folder : backup.path, files, manifest: backup.manifest }, keys);
  }
}

/** Refuses, naming what is missing, when an incremental backup's chain is not all there. */
export async function openSources(backup: BackupFolder): Promise<ResolvedSources> {
  const sources = await resolveSources(backup);
  if (sources.problems.length > 0) {
    throw new EngineError(
      `${backup.path} is an incremental backup that needs ${sources.needs.join(', ')} beside it in ${path.dirname(backup.path)}, and part of that is not there: ` +
        `${sources.problems.join('; ')}. Nothing was read or changed. Put the missing backup folders back (from an off-site copy, say), or choose a complete backup.`,
      'CHAIN_INCOMPLETE',
    );
  }
  return sources;
}
