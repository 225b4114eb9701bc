import { mkdirSync } from 'node:fs';
import { chmod, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import type { Compression } from '../../shared/components.js';
import { pumpFile, READ_BYTES, writeAll } from './archive.js';
import { decompressor } from './compress.js';
import { EngineError } from './errors.js';
import { Semaphore } from './semaphore.js';

export interface SafeExtractOptions {
  /** The compressed archive, e.g. `<backup>/blobs.tar.gz`. */
  archive: string;
  compression: Compression;
  /**
   * The one folder every entry must live under (`blobs` for blobs.tar.gz, as `tar -C data blobs` writes
   * it). Its contents land directly in `dest`. Null: whatever folder the first entry is in (the original
   * backup.sh archives the configured folder under its own name, `blobstore/` say).
   */
  topDir: string | null;
  /** Must not exist yet: it is created, and removed again when the archive is refused. */
  dest: string;
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
// Characters Windows refuses in names, control characters, and the backslash (a separator there).
// The colon is the exception: blob folders are named by raw DIDs (`blobs/did:plc:…/`) on Linux and
// macOS, so it is refused only where it means something else (an NTFS alternate data stream).
// eslint-disable-next-line no-control-regex
const INVALID_CHARS = /[<>"|?*\\\u0000-\u001f]/;

const ENTRY_TYPE_WORDS: Record<string, string> = {
  SymbolicLink: 'a symbolic link',
  Link: 'a hard link',
  CharacterDevice: 'a character device',
  BlockDevice: 'a block device',
  FIFO: 'a FIFO (named pipe)',
};

/**
 * Why an entry name is unsafe, or the path relative to `topDir` ('' for topDir itself) when it is fine.
 * Checks names as every platform sees them, so a backup made on Linux restores on Windows too.
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
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return { ok: false, reason: 'climbs out of its folder with ".."' };
  for (const segment of segments) {
    if (INVALID_CHARS.test(segment)) return { ok: false, reason: 'has a character that is not allowed in file names (<>"|?*\\ or a control character)' };
    if (platform === 'win32' && segment.includes(':')) return { ok: false, reason: 'has a ":", which Windows does not allow in file names' };
    if (/[. ]$/.test(segment)) return { ok: false, reason: 'has a name ending in a dot or space, which Windows cannot store' };
    if (WINDOWS_RESERVED.test(segment)) return { ok: false, reason: `uses "${segment}", a device name reserved on Windows` };
  }
  if (segments[0] !== topDir) return { ok: false, reason: `is not inside ${topDir}/` };
  return { ok: true, relative: segments.slice(1).join('/') };
}

/**
 * Unpacks a tar archive into a fresh folder, refusing the whole archive on the first entry that is a
 * link, a device, a FIFO, or whose name is absolute, climbs with `..`, lies outside `topDir` or is not
 * a valid name on every platform. Also refuses truncated or corrupt compressed streams and tar data,
 * and an entry that appears twice. Only regular files and folders are ever created, each with `wx`
 * (never following or overwriting anything), so no write can land outside `dest`. On refusal or any
 * error `dest` is removed and an EngineError names the archive, the entry and the problem.
 */
export async function safeExtract(opts: SafeExtractOptions): Promise<SafeExtractResult> {
  const dest = path.resolve(opts.dest);
  const archiveName = path.basename(opts.archive);
  mkdirSync(path.dirname(dest), { recursive: true });
  mkdirSync(dest); // throws EEXIST: staging must start empty
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

  let topDir = opts.topDir;
  parser.on('entry', (entry: ReadEntry) => {
    if (refusal) return entry.resume();
    const entryName = entry.path;
    topDir ??= entryName.split('/').find((s) => s !== '' && s !== '.') ?? '';
    const checked = checkEntryPath(entryName, topDir);
    const problem = !checked.ok ? checked.reason : entryTypeProblem(entry.type);
    if (problem !== null || !checked.ok) {
      entry.resume();
      return refuse(refusalError(opts.archive, `the entry "${printable(entryName)}" ${problem}`));
    }
    const target = checked.relative === '' ? dest : path.join(dest, ...checked.relative.split('/'));
    const mode = recordedMode(entry);
    try {
      if (entry.type === 'Directory') {
        mkdirSync(target, { recursive: true });
        // Applied at the end: a folder recorded read-only must still take the files unpacked into it.
        folderModes.set(target, mode);
        result.directories++;
        entry.resume();
        return;
      }
      if (checked.relative === '') throw new Error(`is a file where the folder ${topDir}/ belongs`);
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
    await pumpFile(opts.archive, decompressor(opts.compression), sink, onChunk, opts.signal);
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
    if (err.code === 'ENOENT' && err.path === opts.archive) throw new EngineError(`${opts.archive} is missing.`, 'FILE_MISSING');
    if (err.code?.startsWith('Z_') || err.code === 'ERR_ZSTD_INVALID' || /zstd|unexpected end of file|incorrect header|invalid/i.test(err.message)) {
      throw refusalError(opts.archive, `the ${opts.compression} stream is truncated or corrupt (${err.message})`);
    }
    throw new EngineError(`Unpacking ${archiveName} into ${dest} failed: ${err.message}.`, 'EXTRACT_FAILED');
  }
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
