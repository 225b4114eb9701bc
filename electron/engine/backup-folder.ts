import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  BACKUP_NAME_PATTERN,
  PRE_RESTORE_NAME_PATTERN,
  COMPRESSION_EXTENSION,
  COMPRESSIONS,
  DATABASE_COMPONENTS,
  DIRECTORY_COMPONENTS,
  SECRETS_COMPONENT,
  type Compression,
  type StoredCompression,
  type StoredComponent,
} from '../../shared/components.js';
import { ENCRYPTED_EXTENSION } from '../../shared/encryption.js';
import type { Manifest, ManifestFile } from '../../shared/manifest.js';
import { READ_BYTES } from './archive.js';
import { EngineError } from './errors.js';
import { parseManifest } from './manifest-schema.js';

export interface BackupFile {
  /** Relative to the backup folder, '/'-separated. */
  path: string;
  component: StoredComponent;
  /** Stored bytes as recorded in the manifest; null for backups from the original scripts. */
  size: number | null;
  sha256: string | null;
  /** An age file: decrypt (with the backup's key or passphrase) before decompressing. */
  encrypted?: boolean;
  /** The SHA-256 of its age header and nonce, when recorded (ManifestFile says why). */
  ageHeaderSha256?: string;
  /** Bytes it unpacks to, as recorded in the manifest; null when not recorded (older and legacy backups). */
  unpackedSize: number | null;
}

export interface BackupFolder {
  path: string;
  name: string;
  /** Made by the original scripts/backup.sh: no checksums, files found by layout. */
  legacy: boolean;
  /** Null only for legacy backups. */
  manifest: Manifest | null;
  rawManifest: Record<string, unknown>;
  compression: Compression;
  /**
   * Made by the original backup.ps1: zip archives (`databases/<name>.sqlite.zip`, `blobs.zip`,
   * `actors.zip`; `compression` is then 'none') holding plain copies of the live databases.
   */
  zip?: true;
  createdAt: Date;
  files: BackupFile[];
}

/** How a backup's files are compressed, for people: backup.ps1's zip archives are 'zip' (deflate), not 'none'. */
export const storedCompression = (backup: BackupFolder): StoredCompression => (backup.zip ? 'zip' : backup.compression);

/** Said wherever a backup.ps1 backup is verified or restored. */
export const ZIP_NOTICE =
  'This backup was made by the original backup.ps1: its databases are plain copies of the live files, made without SQLite\'s help, so they may lack the most recent writes (every database must still pass integrity_check).';

export const MANIFEST_FILE = 'manifest.json';

/** A file as its manifest.json entry (or an incremental backup's holder entry) records it. */
export function storedFile({ path: p, component, size, sha256, encrypted, age_header_sha256, unpacked_size }: ManifestFile): BackupFile {
  return { path: p, component, size, sha256, unpackedSize: unpacked_size ?? null, ...(encrypted && { encrypted }), ...(age_header_sha256 !== undefined && { ageHeaderSha256: age_header_sha256 }) };
}

/**
 * Where the guide's layout puts each component: `databases/account.sqlite.gz`, `blobs.tar.gz`, … and in
 * an encrypted backup the same names with `.age` (`blobs.tar.gz.age`, `secrets.tar.gz.age`).
 */
export function layoutPath(component: StoredComponent, compression: Compression, encrypted = false): string {
  const ext = `${COMPRESSION_EXTENSION[compression]}${encrypted ? ENCRYPTED_EXTENSION : ''}`;
  return (DATABASE_COMPONENTS as readonly string[]).includes(component)
    ? `databases/${component}.sqlite${ext}`
    : `${component}.tar${ext}`;
}

/**
 * Whether a restore checks the file by age instead of hashing it whole: an age file whose header digest
 * is recorded (ManifestFile's `age_header_sha256` says why that is enough); backups of earlier versions
 * have none.
 */
export const checkedByAge = (file: BackupFile) => file.encrypted === true && file.ageHeaderSha256 !== undefined;

/**
 * How a restore checks a stored file in the pass that reads it: `update` with every byte read, then
 * `matches` once all are. The SHA-256 manifest.json records, unless age checks the file (checkedByAge)
 * or none is recorded (the original backup.sh's backups).
 */
export function readCheck(file: BackupFile): { update: (chunk: Buffer) => void; matches: () => boolean } {
  const hash = checkedByAge(file) || file.sha256 === null ? null : createHash('sha256');
  return { update: (chunk) => hash?.update(chunk), matches: () => hash === null || hash.digest('hex') === file.sha256 };
}

/** A file's SHA-256, read in pieces: after a failed read, whether the stored file itself is damaged. */
export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: READ_BYTES })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A backup's secrets file (pds.env), present only in encrypted backups. */
export const isSecretsFile = (file: BackupFile) => file.component === SECRETS_COMPONENT;

/** Where backup.ps1 puts each component: `databases/account.sqlite.zip`, `blobs.zip`, `actors.zip`. */
const zipLayoutPath = (component: StoredComponent) =>
  (DATABASE_COMPONENTS as readonly string[]).includes(component) ? `databases/${component}.sqlite.zip` : `${component}.zip`;

/** What verify and restore report when a file is not the size manifest.json records; null when it is. */
export function sizeProblem(file: BackupFile, size: number): string | null {
  return file.size === null || file.size === size ? null : `size is ${size} bytes, manifest.json records ${file.size} (the file was cut short or changed)`;
}

/** Asked of an account database by verify and restore: the accounts it holds, counted as the backup counts them. */
export const ACCOUNT_QUERIES = { accounts: 'SELECT count(*) FROM account', actors: 'SELECT count(*) FROM actor' };

/**
 * An account database without accounts where manifest.json counts some: SQLite takes an empty (0-byte)
 * file for an empty database, so it passes integrity_check, but it is not the snapshot the backup took.
 */
export function missingAccountsProblem(backup: BackupFolder, component: string, bytes: number, answers: Record<string, unknown> | undefined): string | null {
  const counted = backup.manifest?.aurora_backup.counts.accounts ?? 0;
  if (component !== 'account' || counted === 0) return null;
  if (bytes === 0) return `is an empty (0-byte) database, but manifest.json counts ${counted} accounts in it`;
  const held = Number(answers?.accounts ?? answers?.actors ?? 0);
  return held === 0 ? `holds no accounts, but manifest.json counts ${counted} accounts in it` : null;
}

export const CHECKSUM_PROBLEM = 'SHA-256 does not match manifest.json (the file is damaged or was changed after the backup)';
export const AGE_HEADER_PROBLEM = 'its age header does not match manifest.json (the file was replaced, or its header damaged, after the backup)';

export const isDatabaseFile = (file: BackupFile) => (DATABASE_COMPONENTS as readonly string[]).includes(file.component);

/** `backup_20250322_143022` → that local time, or null for other names. */
export function timeFromFolderName(name: string): Date | null {
  const bare = name.replace(/^\.incomplete-/, '');
  const match = BACKUP_NAME_PATTERN.exec(bare) ?? PRE_RESTORE_NAME_PATTERN.exec(bare);
  if (!match) return null;
  const [d, t] = [match[1]!, match[2]!];
  const date = new Date(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +t.slice(0, 2), +t.slice(2, 4), +t.slice(4, 6));
  return Number.isNaN(date.getTime()) ? null : date;
}

/**
 * Reads a backup folder and its manifest without requiring every file to be there: `missing` lists
 * the files the manifest (or, for legacy backups, the layout) promises but the folder lacks.
 * Throws EngineError for anything that makes the folder unusable as a backup at all.
 */
export async function readBackupFolder(folder: string): Promise<BackupFolder & { missing: BackupFile[] }> {
  const absolute = path.resolve(folder);
  const name = path.basename(absolute);
  const info = await stat(absolute).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new EngineError(`There is no folder at ${absolute}. Check the path.`, 'NOT_A_FOLDER');
    throw new EngineError(`Cannot open ${absolute}: ${error.message}.`, 'NOT_A_FOLDER');
  });
  if (!info.isDirectory()) {
    throw new EngineError(`${absolute} is a file, not a backup folder. Choose the backup_YYYYMMDD_HHMMSS folder itself.`, 'NOT_A_FOLDER');
  }

  const manifestPath = path.join(absolute, MANIFEST_FILE);
  // Reading a FIFO or a device would wait for ever (or read without end): only a regular file is a manifest.
  const manifestInfo = await stat(manifestPath).catch(() => null);
  if (manifestInfo && !manifestInfo.isFile()) {
    throw new EngineError(`${manifestPath} is not a regular file (a named pipe, a device or a folder), so ${absolute} is not a backup. Nothing was read from it.`, 'MANIFEST_UNREADABLE');
  }
  const text = await readFile(manifestPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') {
      throw new EngineError(`${absolute} has no ${MANIFEST_FILE}, so it is not an Aurora Locus backup (or it was never finished).`, 'NO_MANIFEST');
    }
    throw new EngineError(`Cannot read ${manifestPath}: ${error.message}.`, 'MANIFEST_UNREADABLE');
  });
  const parsed = parseManifest(text, manifestPath);

  let folderInfo: BackupFolder;
  if (parsed.legacy) {
    const zip = parsed.manifest.compression === 'zip';
    const compression = zip ? 'none' : parsed.manifest.compression;
    if (!isCompression(compression)) {
      throw new EngineError(`${manifestPath} names compression "${compression}"; supported: ${COMPRESSIONS.join(', ')} and zip (backup.ps1).`, 'WRONG_LAYOUT');
    }
    folderInfo = {
      ...(zip && { zip: true as const }),
      path: absolute,
      name,
      legacy: true,
      manifest: null,
      rawManifest: parsed.raw,
      compression,
      createdAt: legacyCreatedAt(parsed.manifest.backup_timestamp, name) ?? info.mtime,
      files: [...DATABASE_COMPONENTS, ...DIRECTORY_COMPONENTS].map((component) => ({
        path: zip ? zipLayoutPath(component) : layoutPath(component, compression),
        component,
        size: null,
        sha256: null,
        unpackedSize: null,
      })),
    };
  } else {
    const manifest = parsed.manifest;
    checkLayout(manifest, manifestPath);
    folderInfo = {
      path: absolute,
      name,
      legacy: false,
      manifest,
      rawManifest: parsed.raw,
      compression: manifest.compression,
      createdAt: new Date(manifest.aurora_backup.created_at),
      files: manifest.aurora_backup.files.map(storedFile),
    };
  }

  const missing: BackupFile[] = [];
  for (const file of folderInfo.files) {
    const fileInfo = await stat(path.join(absolute, file.path)).catch(() => null);
    if (!fileInfo?.isFile()) missing.push(file);
  }
  if (folderInfo.legacy && missing.length === folderInfo.files.length) {
    throw new EngineError(
      `${absolute} has a ${MANIFEST_FILE} but none of the backup files (databases/*.sqlite${COMPRESSION_EXTENSION[folderInfo.compression]}, ` +
        `blobs.tar${COMPRESSION_EXTENSION[folderInfo.compression]}, actors.tar${COMPRESSION_EXTENSION[folderInfo.compression]}), so it is not a backup.`,
      'WRONG_LAYOUT',
    );
  }
  return { ...folderInfo, missing };
}

/** Like readBackupFolder, but a file the manifest lists and the folder lacks is an error too. */
export async function openBackupFolder(folder: string): Promise<BackupFolder> {
  const { missing, ...backup } = await readBackupFolder(folder);
  if (missing.length > 0) {
    throw new EngineError(
      `${backup.path} is incomplete: ${missing.map((f) => f.path).join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing.`,
      'FILE_MISSING',
    );
  }
  return backup;
}

const isCompression = (value: string): value is Compression => (COMPRESSIONS as readonly string[]).includes(value);

/** Each component once, at the place the guide's layout (and the original restore.sh) expects it. */
function checkLayout(manifest: Manifest, manifestPath: string): void {
  const seen = new Set<StoredComponent>();
  for (const file of manifest.aurora_backup.files) {
    const expected = layoutPath(file.component, manifest.compression, file.encrypted === true);
    if (file.path !== expected) {
      throw new EngineError(
        `${manifestPath} lists ${file.path} for ${file.component}; the backup layout puts it at ${expected}.`,
        'WRONG_LAYOUT',
      );
    }
    if (seen.has(file.component)) {
      throw new EngineError(`${manifestPath} lists ${file.component} more than once.`, 'WRONG_LAYOUT');
    }
    seen.add(file.component);
  }
}

/** The original script writes `date -u +%Y-%m-%dT%H:%M:%SZ`; fall back to the folder name's local time. */
function legacyCreatedAt(timestamp: string | undefined, name: string): Date | null {
  if (timestamp && /^\d{4}-\d{2}-\d{2}T/.test(timestamp)) {
    const date = new Date(timestamp);
    if (!Number.isNaN(date.getTime())) return date;
  }
  return timeFromFolderName(name);
}
