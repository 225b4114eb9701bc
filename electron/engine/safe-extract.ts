import { mkdirSync } from 'node:fs';
import { chmod, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import type { Compression } from '../../shared/components.js';
import { pumpFile, READ_BYTES, writeAll } from './archive.js';
import type { DecryptionKeys } from './crypto/age-stream.js';
import { fileDecoder } from './crypto/backup-keys.js';
import { EngineError } from './errors.js';
import { Semaphore } from './semaphore.js';

export interface SafeExtractOptions {
  /** The compressed archive, e.g. `<backup>/blobs.tar.gz`. */
  archive: string;
  compression: Compression;
  /** An age file: decrypted with `decryption` before it is decompressed. */
  encrypted?: boolean;
  decryption?: DecryptionKeys;
  /** What the SHA-256 of its age header and nonce must be (manifest.json's `age_header_sha256`), when recorded. */
  ageHeaderSha256?: string;
  /** Files (by path below the top folder) that hold secrets: written 0600 whatever the archive records. */
  privateFile?: (relative: string) => boolean;
  /**
   * The one folder every entry must live under (`blobs` for blobs.tar.gz, as `tar -C data blobs` writes
   * it). Its contents land directly in `dest`. Null: whatever folder the first entry is in (the original
   * backup.sh archives the configured folder under its own name, `blobstore/` say).
   */
  topDir: string | null;
  /** Must not exist yet (unless `intoExisting`): it is created, and removed again when the archive is refused. */
  dest: string;
  /** Where the files will be used: names Windows cannot store are refused only on Windows. */
  platform?: NodeJS.Platform;
  /** The bytes manifest.json records the archive unpacks to; null or absent: not recorded (older backups). */
  unpackedBytes?: number | null;
  /**
   * `dest` holds what earlier archives of the same component unpacked (an incremental backup's chain):
   * unpack into it. An entry already there is still refused (`wx`).
   */
  intoExisting?: boolean;
  /**
   * Only these files (relative to `topDir`) are unpacked, and only the folders leading to them; every
   * other entry is checked by the same rules and skipped (an incremental backup takes from an earlier
   * archive only what it stands for). All when absent.
   */
  keep?: Set<string>;
  /** Called with compressed bytes read so far and files written so far. */
  onProgress?: (bytesRead: number, files: number) => void;
  /** Called with each file's path once it is written and flushed to disk. */
  onFile?: (file: string) => void;
  /** Sees every byte of the archive file as it is read (for a checksum without a second read). */
  onRead?: (chunk: Buffer) => void;
  /** Awaited before each write with the (unpacked) bytes about to be written; throws to stop (the disk is filling, say). */
  beforeWrite?: (bytes: number) => Promise<void>;
  signal?: AbortSignal;
}

export interface SafeExtractResult {
  files: number;
  directories: number;
  /** Uncompressed bytes of all files written. */
  bytes: number;
}

/** Writes of each file in 1 MiB pieces (as the archive is read): every fs call is a thread-pool round trip. */
const WRITE_BATCH_BYTES = READ_BYTES;
/** Files still being written, synced and closed while the archive is read on. */
const MAX_PENDING_FILES = 16;

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f]/;
// Characters Windows refuses in names, and the backslash (a separator there). Linux and macOS store them
// (blob folders are named by raw DIDs, `blobs/did:plc:…/`), so they are refused only when restoring on Windows.
const WINDOWS_INVALID_CHARS = /[<>"|?*\\:]/;
/** The longest name (one path segment) ext4, APFS, NTFS and the rest store, in bytes. */
const MAX_NAME_BYTES = 255;
/** Linux's PATH_MAX: a longer path cannot be handed to the system at all. */
const MAX_PATH_BYTES = 4096;

const ENTRY_TYPE_WORDS: Record<string, string> = {
  SymbolicLink: 'a symbolic link',
  Link: 'a hard link',
  CharacterDevice: 'a character device',
  BlockDevice: 'a block device',
  FIFO: 'a FIFO (named pipe)',
  SpecialFile: 'a device or special file',
};

/** Why Windows cannot store a file or folder of this name, or null when it can. */
export function windowsNameProblem(segment: string): string | null {
  if (segment.includes(':')) return 'has a ":", which Windows does not allow in file names';
  if (WINDOWS_INVALID_CHARS.test(segment)) return 'has a character Windows does not allow in file names (<>"|?*\\)';
  if (/[. ]$/.test(segment)) return 'has a name ending in a dot or space, which Windows cannot store';
  if (WINDOWS_RESERVED.test(segment)) return `uses "${segment}", a device name reserved on Windows`;
  return null;
}

/**
 * Why an entry name is unsafe, or the path relative to `topDir` ('' for topDir itself) when it is fine.
 * Names Windows cannot store are refused only when unpacking on Windows (`platform`): a blob named `x.`
 * backed up on Linux restores on Linux.
 */
export function checkEntryPath(
  name: string,
  topDir: string,
  platform: NodeJS.Platform = process.platform,
): { ok: true; relative: string } | { ok: false; reason: string } {
  if (name.length === 0) return { ok: false, reason: 'has an empty name' };
  if (name.startsWith('/') || name.startsWith('\\') || /^[a-zA-Z]:/.test(name)) {
    return { ok: false, reason: 'has an absolute path' };
  }
  if (Buffer.byteLength(name) > MAX_PATH_BYTES) return { ok: false, reason: `has a path longer than ${MAX_PATH_BYTES} bytes, which no file system takes` };
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { ok: false, reason: 'climbs out of its folder with ".."' };
  for (const segment of segments) {
    if (CONTROL_CHARS.test(segment)) return { ok: false, reason: 'has a control character in its name' };
    if (Buffer.byteLength(segment) > MAX_NAME_BYTES) return { ok: false, reason: `has a name longer than ${MAX_NAME_BYTES} bytes, which file systems cannot store` };
    const windows = platform === 'win32' ? windowsNameProblem(segment) : null;
    if (windows) return { ok: false, reason: windows };
  }
  if (segments[0] !== topDir) return { ok: false, reason: `is not inside ${topDir}/` };
  return { ok: true, relative: segments.slice(1).join('/') };
}

/** What the rules need to know of an archive entry (tar or zip), from its header alone. */
export interface EntryHeader {
  name: string;
  /** node-tar's words: 'File', 'Directory', 'SymbolicLink', … */
  type: string;
  /** Bytes it unpacks to. */
  size: number;
}

export interface EntryRulesOptions {
  /** The archive's one folder; null: whatever folder the first entry is in (backup.sh archives). */
  topDir: string | null;
  /** Where the archive is unpacked: names Windows cannot store are refused only on Windows. */
  platform?: NodeJS.Platform;
  /** The bytes manifest.json says the archive unpacks to; an archive that claims more is refused (a bomb). */
  unpackedBytes?: number | null;
}

/**
 * The one set of rules every archive entry must pass, applied by restore (tar and zip) and by
 * `verify --deep` alike, so a backup that verifies deep is a backup that restores. Refuses, from the
 * entry's header and before anything of it is written: a link, a device or a FIFO; a name that is
 * absolute, climbs with `..`, lies outside the archive's folder, holds a control character, is too long
 * for a file system, or (on Windows) is one Windows cannot store; a file where the archive's folder
 * belongs; an entry that appears twice; and entries that together unpack to more than manifest.json records.
 */
export class EntryRules {
  private topDir: string | null;
  private readonly files = new Set<string>();
  private unpacked = 0;

  constructor(private readonly opts: EntryRulesOptions) {
    this.topDir = opts.topDir;
  }

  /** The entry's path below the archive's folder, or the reason the archive is refused (`the entry "…" …`). */
  check(entry: EntryHeader): { ok: true; relative: string } | { ok: false; problem: string } {
    this.topDir ??= entry.name.split('/').find((s) => s !== '' && s !== '.') ?? '';
    const refused = (reason: string) => ({ ok: false as const, problem: `the entry "${printable(entry.name)}" ${reason}` });
    const checked = checkEntryPath(entry.name, this.topDir, this.opts.platform);
    if (!checked.ok) return refused(checked.reason);
    const typeProblem = entryTypeProblem(entry.type);
    if (typeProblem) return refused(typeProblem);
    const relative = checked.relative;
    const isDirectory = entry.type === 'Directory';
    if (relative === '' && !isDirectory) return refused(`is a file where the folder ${this.topDir}/ belongs`);
    if (this.files.has(relative)) return refused('appears twice in the archive');
    const parts = relative.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (this.files.has(parent)) return refused(`lies below "${printable(parent)}", which the archive holds as a file`);
    }
    if (!isDirectory) this.files.add(relative);
    this.unpacked += entry.size;
    const limit = this.opts.unpackedBytes;
    if (typeof limit === 'number' && this.unpacked > limit) {
      return refused(`takes the archive past the ${limit} bytes manifest.json records it unpacks to (a damaged archive, or a decompression bomb)`);
    }
    return { ok: true, relative };
  }
}

/**
 * Unpacks a tar archive into a fresh folder, refusing the whole archive on the first entry that breaks
 * the EntryRules (a link, a device, a name that escapes `topDir`, …). Also refuses truncated or corrupt
 * compressed streams and tar data. Only regular files and folders are ever created, each with `wx`
 * (never following or overwriting anything), so no write can land outside `dest`. On refusal or any
 * error `dest` is removed and an EngineError names the archive, the entry and the problem.
 */
export async function safeExtract(opts: SafeExtractOptions): Promise<SafeExtractResult> {
  const dest = path.resolve(opts.dest);
  const archiveName = path.basename(opts.archive);
  mkdirSync(path.dirname(dest), { recursive: true });
  if (opts.intoExisting) mkdirSync(dest, { recursive: true });
  else mkdirSync(dest); // throws EEXIST: staging must start empty
  const keptFolders = opts.keep ? foldersLeadingTo(opts.keep) : null;
  const result: SafeExtractResult = { files: 0, directories: 0, bytes: 0 };
  const folderModes = new Map<string, number>();
  const pendingWrites = new Set<Promise<void>>();
  // An entry cut off by a failure or a cancellation never ends by itself: its writer must be told.
  const entriesBeingWritten = new Set<ReadEntry>();
  let bytesRead = 0;
  let bytesOut = 0;
  let lastProgress = 0;

  const parser = new Parser({ strict: true });
  let refusal: Error | null = null;
  const refuse = (error: Error) => {
    refusal ??= error;
    parser.abort(error);
  };

  const rules = new EntryRules({ topDir: opts.topDir, platform: opts.platform, unpackedBytes: opts.unpackedBytes });
  parser.on('entry', (entry: ReadEntry) => {
    if (refusal) return entry.resume();
    const entryName = entry.path;
    const checked = rules.check({ name: entryName, type: entry.type, size: entry.size ?? 0 });
    if (!checked.ok) {
      entry.resume();
      return refuse(refusalError(opts.archive, checked.problem));
    }
    if (opts.keep && checked.relative !== '' && !(entry.type === 'Directory' ? keptFolders!.has(checked.relative.replace(/\/$/, '')) : opts.keep.has(checked.relative))) {
      entry.resume();
      return;
    }
    const target = checked.relative === '' ? dest : path.join(dest, ...checked.relative.split('/'));
    const mode = entry.type !== 'Directory' && opts.privateFile?.(checked.relative) ? recordedMode(entry) & 0o600 : recordedMode(entry);
    try {
      if (entry.type === 'Directory') {
        mkdirSync(target, { recursive: true });
        // Applied at the end: a folder recorded read-only must still take the files unpacked into it.
        folderModes.set(target, mode);
        result.directories++;
        entry.resume();
        return;
      }
      mkdirSync(path.dirname(target), { recursive: true });
    } catch (error) {
      entry.resume();
      return refuse(refusalError(opts.archive, `the entry "${printable(entryName)}" cannot be unpacked: ${(error as Error).message}`));
    }
    entriesBeingWritten.add(entry);
    const written = writeEntry(entry, target, mode, opts.beforeWrite).then(
      () => {
        entriesBeingWritten.delete(entry);
        result.files++;
        result.bytes += entry.size ?? 0;
        opts.onFile?.(target);
      },
      (error: NodeJS.ErrnoException) => {
        entriesBeingWritten.delete(entry);
        if (entry.destroyed) return; // stopped by the failure or cancel handled below
        entry.resume();
        refuse(
          error.code === 'EEXIST'
            ? refusalError(opts.archive, `the entry "${printable(entryName)}" appears twice in the archive`)
            : error instanceof EngineError
              ? error
              : new EngineError(`Unpacking ${opts.archive} failed while writing ${target}: ${error.message}.`, error.code ?? 'EXTRACT_FAILED'),
        );
      },
    );
    // Kept only while pending, so memory stays flat; the sink waits when too many are.
    pendingWrites.add(written);
    void written.finally(() => {
      pendingWrites.delete(written);
      if (pendingWrites.size < MAX_PENDING_FILES) writeSlots.shift()?.();
    });
  });

  const onChunk = (chunk: Buffer) => {
    bytesRead += chunk.length;
    opts.onRead?.(chunk);
    const now = Date.now();
    if (opts.onProgress && now - lastProgress > 100) {
      lastProgress = now;
      opts.onProgress(bytesRead, result.files);
    }
  };

  const writeSlots: Array<() => void> = [];
  const sink = new Writable({
    async write(chunk: Buffer, _enc, callback) {
      if (refusal) return callback(refusal);
      if (pendingWrites.size >= MAX_PENDING_FILES) await new Promise<void>((resolve) => writeSlots.push(resolve));
      bytesOut += chunk.length;
      if (onlyZeros && chunk.some((byte) => byte !== 0)) onlyZeros = false;
      if (parser.write(chunk)) callback();
      else parser.once('drain', () => callback(refusal ?? undefined));
    },
    final(callback) {
      if (refusal) return callback(refusal);
      parser.once('end', () => callback(refusal ?? undefined));
      parser.end();
    },
  });
  // node-tar calls an archive without entries "unrecognized"; GNU tar writes exactly that (only the
  // end-of-archive zero blocks) for an empty folder, so all-zero data with no entry is a valid, empty archive.
  let onlyZeros = true;
  let entries = 0;
  parser.on('entry', () => entries++);
  parser.on('error', (error: Error & { tarCode?: string }) => {
    if (error.tarCode === 'TAR_BAD_ARCHIVE' && entries === 0 && onlyZeros && bytesOut > 0) return;
    refusal ??= refusalError(opts.archive, `the tar data is damaged (${error.message.replace(/^TAR_\w+: /, '')})`);
    sink.destroy(refusal);
  });

  try {
    await pumpFile(opts.archive, fileDecoder(opts.archive, opts.compression, opts, opts.decryption), sink, onChunk, opts.signal);
    await Promise.all([...pendingWrites]);
    if (refusal) throw refusal;
    if (process.platform !== 'win32') for (const [folder, mode] of [...folderModes].sort(([a], [b]) => b.length - a.length)) await chmod(folder, mode);
    opts.onProgress?.(bytesRead, result.files);
    return result;
  } catch (error) {
    for (const entry of entriesBeingWritten) entry.destroy(); // its writer's read fails, and the file is closed
    await Promise.all([...pendingWrites]);
    await rm(dest, { recursive: true, force: true, maxRetries: 5 }); // retries: on Windows a file just checked may be closing
    if (refusal) throw refusal;
    const err = error as NodeJS.ErrnoException;
    if (err.name === 'AbortError') throw error;
    if (error instanceof EngineError && error.code.startsWith('DECRYPT_')) throw error;
    if (err.code === 'ENOENT' && err.path === opts.archive) throw new EngineError(`${opts.archive} is missing.`, 'FILE_MISSING');
    if (err.code?.startsWith('Z_') || err.code === 'ERR_ZSTD_INVALID' || /zstd|unexpected end of file|incorrect header|invalid/i.test(err.message)) {
      throw refusalError(opts.archive, `the ${opts.compression} stream is truncated or corrupt (${err.message})`);
    }
    throw new EngineError(`Unpacking ${archiveName} into ${dest} failed: ${err.message}.`, 'EXTRACT_FAILED');
  }
}

/** `a/b/c` → `a`, `a/b`: the folders to create for the files kept. */
function foldersLeadingTo(files: Set<string>): Set<string> {
  const folders = new Set<string>();
  for (const file of files) {
    for (let i = file.indexOf('/'); i > 0; i = file.indexOf('/', i + 1)) folders.add(file.slice(0, i));
  }
  return folders;
}

/**
 * Writes one entry's data to a new file (`wx`: never following or overwriting anything) in batches of
 * about 1 MiB, then fsyncs it: the staged copy must survive a power cut before it counts as written.
 * Reading the entry is what lets the parser go on, so a slow disk holds the archive back (backpressure).
 */
async function writeEntry(entry: ReadEntry, target: string, mode: number, beforeWrite?: (bytes: number) => Promise<void>): Promise<void> {
  const handle = await open(target, 'wx', 0o600);
  try {
    let batch: Buffer[] = [];
    let batchBytes = 0;
    // A destroyed entry fails a read that is waiting, but not one that starts later: hence the checks.
    assertNotStopped(entry);
    for await (const chunk of entry as AsyncIterable<Buffer>) {
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes < WRITE_BATCH_BYTES) continue;
      await beforeWrite?.(batchBytes);
      await writeAll(handle, batch);
      assertNotStopped(entry);
      batch = [];
      batchBytes = 0;
    }
    if (batchBytes > 0) {
      await beforeWrite?.(batchBytes);
      await writeAll(handle, batch);
    }
    if (process.platform !== 'win32') await handle.chmod(mode);
    await syncSlots.run(() => handle.sync());
  } finally {
    await handle.close();
  }
}

/**
 * The permission bits the archive records (an actor's `key` stays 0600, its folder 0700), never the
 * set-id or sticky bits; private (0600 / 0700) when an archive records none.
 */
function recordedMode(entry: ReadEntry): number {
  const fallback = entry.type === 'Directory' ? 0o700 : 0o600;
  return typeof entry.mode === 'number' && entry.mode > 0 ? entry.mode & 0o777 : fallback;
}

function assertNotStopped(entry: ReadEntry): void {
  if (entry.destroyed) throw new Error('Unpacking stopped.');
}

/**
 * fsync waits on the disk while holding one of libuv's four pool threads; at most two at a time leave
 * the others to the reads and decompression that keep unpacking.
 */
const syncSlots = new Semaphore(2);

function refusalError(archive: string, problem: string): EngineError {
  return new EngineError(`Refused ${archive}: ${problem}. Nothing from it was restored.`, 'ARCHIVE_REFUSED');
}

/** Entry names come from the archive: show control characters escaped rather than raw. */
function printable(name: string): string {
  return JSON.stringify(name).slice(1, -1);
}

/** Only regular files and folders are ever unpacked. */
function entryTypeProblem(type: string): string | null {
  if (type === 'File' || type === 'OldFile' || type === 'ContiguousFile' || type === 'Directory') return null;
  const words = ENTRY_TYPE_WORDS[type];
  return words ? `is ${words}; backups never contain links or devices` : `has the unsupported entry type "${type}"`;
}
