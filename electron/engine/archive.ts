import { createHash, type Hash } from 'node:crypto';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { Readable, Transform, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Header, Pax } from 'tar';
import type { Compression } from '../../shared/components.js';
import { BLOCK_BYTES, takeBlock, written } from './blocks.js';
import { compressor } from './compress.js';
import { createEncryptor, type EncryptionKeys } from './crypto/age-stream.js';
import { EngineError } from './errors.js';

const BLOCK = 512;
/** Reads (and unpacking writes) in 1 MiB pieces: every fs call is a thread-pool round trip. */
export const READ_BYTES = 1024 * 1024;
/** Stream buffers: 1 MiB keeps reads, compression and writes overlapping; more only holds memory (bench). */
const BUFFER_BYTES = 1024 * 1024;

export interface FoundFile {
  /** Relative to the walked root, '/'-separated. */
  rel: string;
  abs: string;
}

/**
 * Every regular file below `root`, in a stable (sorted) order, one directory in memory at a time so a
 * blob store of millions of files does not fill memory. Symlinks and special files are skipped.
 */
export async function* walkFiles(root: string, rel = ''): AsyncGenerator<FoundFile> {
  let entries;
  try {
    entries = await readdir(path.join(root, rel), { withFileTypes: true });
  } catch (error) {
    if (rel && (error as NodeJS.ErrnoException).code === 'ENOENT') return; // removed while we walk
    throw error;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const childRel = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) yield* walkFiles(root, childRel);
    else if (entry.isFile()) yield { rel: childRel, abs: path.join(root, childRel) };
    else if (entry.isSymbolicLink()) {
      // What it points to is the PDS's data; leaving it out without a word would make a backup that looks whole.
      const abs = path.join(root, childRel);
      throw new EngineError(
        `${abs} is a symbolic link. A backup never follows links inside ${path.basename(root)}/ (they could point anywhere), and leaving it out would lose what it points to: ` +
          `replace the link by the file or folder itself, then run the backup again.`,
        'SYMLINK_IN_DATA',
      );
    }
  }
}

export interface TarSource {
  /** Path inside the archive, '/'-separated, e.g. `blobs/did:plc:abc/bafkrei…`. */
  archivePath: string;
  /** The file to read. */
  source: string;
  /** The file's bytes when they are in memory already (a database snapshot): stored as they are, `source` is not read. */
  data?: Buffer;
  /** The file whose mode, owner and time are recorded, when `source` is a copy (a snapshot of a live database). */
  statFrom?: string;
}

export interface PackHooks {
  /** Bytes of file content read so far (for progress). */
  onBytes?: (bytes: number, entry: TarSource) => void;
  /** A file was stored (`stored`), or skipped because it vanished before it could be opened. */
  onFile?: (entry: TarSource, stored: boolean) => void;
}

/**
 * A tar stream (ustar + pax for long names, readable by GNU/BSD tar and node-tar) of the given files.
 * Files are read as they are when opened: one deleted since it was listed is skipped, one that grew is
 * stored at its size when opened (the PDS writes blobs under a temporary name and renames them, so a
 * listed blob does not change; these rules only keep the run from failing). If a file shrinks while
 * it is read (truncated in place, which the PDS never does), the rest is padded with zeros so the
 * archive stays valid.
 */
export function packTar(files: AsyncIterable<TarSource>, hooks: PackHooks = {}, options: PackOptions = {}): Readable {
  return Readable.from(generateTar(files, hooks, options), { objectMode: false, highWaterMark: BUFFER_BYTES });
}

export interface PackOptions {
  /** Written first, as `tar -c blobs` does: the archive of an empty folder still has an entry (node-tar calls one without any unreadable). */
  topDir?: string;
  /** The folder `topDir` stands for (`<data>/blobs`): each folder's mode, owner and time are recorded from it. */
  topDirSource?: string;
}

/** Recorded for a folder or file whose own cannot be read: private, owned by whoever runs the backup. */
const fallbackOwner = () => ({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });

async function* generateTar(files: AsyncIterable<TarSource>, hooks: PackHooks, { topDir, topDirSource }: PackOptions): AsyncGenerator<Buffer> {
  const now = new Date();
  /** A folder's header, with the mode, owner and time of the folder it stands for. */
  const dirHeader = async (dir: string) => {
    const relative = topDir && topDirSource ? path.posix.relative(topDir, dir.slice(0, -1)) : null;
    const found = relative === null || relative.startsWith('..') ? null : await stat(path.join(topDirSource!, ...relative.split('/').filter(Boolean))).catch(() => null);
    const owner = found ?? { mode: 0o700, ...fallbackOwner(), mtime: now };
    return header({ path: dir, type: 'Directory', mode: owner.mode & 0o7777, uid: owner.uid, gid: owner.gid, size: 0, mtime: owner.mtime });
  };
  const out = new BlockWriter();
  const dirsWritten = new Set<string>();
  // Each file is reported (onFile), in archive order, as soon as it and every file before it are read and
  // closed: not when the generator next runs, since what it waits for (an actor store's snapshot) may
  // itself wait for an earlier store's report to release that store's memory.
  const landing: Array<{ read: Promise<void>; reported: Promise<void> }> = [];
  let lastReported: Promise<void> = Promise.resolve();
  const land = (file: TarSource, stored: boolean, read: Promise<void>) => {
    lastReported = Promise.all([lastReported, read]).then(() => hooks.onFile?.(file, stored));
    lastReported.catch(() => undefined); // awaited below, unless the archive stops first
    landing.push({ read, reported: lastReported });
  };
  try {
    if (topDir) {
      dirsWritten.add(`${topDir}/`);
      yield* out.put(await dirHeader(`${topDir}/`));
    }
    for await (const { file, content } of openAhead(files)) {
      // Parent directories first, as `tar -c` writes them, so extraction recreates their modes.
      const parts = file.archivePath.split('/').slice(0, -1);
      for (let i = 1; i <= parts.length; i++) {
        const dir = `${parts.slice(0, i).join('/')}/`;
        if (dirsWritten.has(dir)) continue;
        dirsWritten.add(dir);
        yield* out.put(await dirHeader(dir));
      }
      const recorded = file.statFrom ? await stat(file.statFrom).catch(() => null) : null;
      if (content.kind === 'vanished') {
        land(file, false, Promise.resolve());
      } else if (content.kind === 'memory') {
        const size = content.data.length;
        const owner = recorded ?? { mode: 0o600, ...fallbackOwner(), mtime: now };
        yield* out.put(header({ path: file.archivePath, type: 'File', mode: owner.mode & 0o7777, uid: owner.uid, gid: owner.gid, size, mtime: owner.mtime }));
        if (size > 0) hooks.onBytes?.(size, file);
        yield* out.put(content.data);
        yield* out.zeros(paddingOf(size));
        land(file, true, Promise.resolve());
      } else {
        const { stat, handle } = content;
        let read: Promise<void> | undefined;
        try {
          const owner = recorded ?? stat;
          yield* out.put(header({ path: file.archivePath, type: 'File', mode: owner.mode & 0o7777, uid: owner.uid, gid: owner.gid, size: stat.size, mtime: owner.mtime }));
          read = (yield* out.read(handle, stat.size, (bytes) => hooks.onBytes?.(bytes, file))).landed;
        } finally {
          if (!read) await handle.close(); // stopped half-way: close waits for the reads already started
        }
        const closed = read.finally(() => handle.close());
        closed.catch(() => undefined); // awaited through its report, unless the archive stops first
        land(file, true, closed);
        yield* out.zeros(paddingOf(stat.size));
      }
      while (landing.length > MAX_LANDING_FILES) await landing.shift()!.reported;
    }
    yield* out.zeros(BLOCK * 2); // end-of-archive marker
    yield* out.rest();
    await lastReported;
  } finally {
    await Promise.allSettled(landing.map(({ read }) => read)); // no descriptor left open, whatever stopped the archive
  }
}

/** Files read at once (each a descriptor and a read on the thread pool); the open-ahead adds LOOKAHEAD more. */
const MAX_LANDING_FILES = 8;

const paddingOf = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/**
 * Fills pooled blocks (see blocks.ts) with the archive's bytes and hands each over when full: the archive
 * is a stream of whole 1 MiB blocks, the compressor's pieces. File contents are read straight into their
 * place in the block, several files at once (read one after another, each small blob's read left the
 * main thread waiting: idle about a third of the blob archive's tail), and a block is handed over once
 * every read into it has landed.
 */
class BlockWriter {
  private block = takeBlock();
  private filled = 0;
  /** Reads into the current block. */
  private landing: Array<Promise<void>> = [];

  async *put(bytes: Buffer): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < bytes.length; ) {
      const copied = bytes.copy(this.block, this.filled, offset);
      offset += copied;
      yield* this.advance(copied);
    }
  }

  async *zeros(count: number): AsyncGenerator<Buffer> {
    while (count > 0) {
      const n = Math.min(count, BLOCK_BYTES - this.filled);
      this.block.fill(0, this.filled, this.filled + n);
      count -= n;
      yield* this.advance(n);
    }
  }

  /** Starts reading `size` bytes of an open file into its place; `landed` settles once all of it is read. */
  async *read(handle: FileHandle, size: number, onBytes: (bytes: number) => void): AsyncGenerator<Buffer, { landed: Promise<void> }> {
    const reads: Array<Promise<void>> = [];
    for (let position = 0; position < size; ) {
      const length = Math.min(size - position, BLOCK_BYTES - this.filled);
      const read = readExactly(handle, this.block, this.filled, length, position, onBytes);
      read.catch(() => undefined); // surfaced when the block is handed over, or by the returned promise
      reads.push(read);
      this.landing.push(read);
      position += length;
      yield* this.advance(length);
    }
    return { landed: Promise.all(reads).then(() => undefined) }; // wrapped: an async generator would await a promise it returns
  }

  /** The last, partly filled block. */
  async *rest(): AsyncGenerator<Buffer> {
    await Promise.all(this.landing);
    yield this.block.subarray(0, this.filled);
  }

  private async *advance(bytes: number): AsyncGenerator<Buffer> {
    this.filled += bytes;
    if (this.filled < BLOCK_BYTES) return;
    await Promise.all(this.landing);
    this.landing = [];
    yield this.block;
    this.block = takeBlock();
    this.filled = 0;
  }
}

/** `length` bytes of the file from `position` into `block` at `offset`; zeros for any it no longer has (it shrank while being read, see packTar). */
async function readExactly(handle: FileHandle, block: Buffer, offset: number, length: number, position: number, onBytes: (bytes: number) => void): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(block, offset + done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
    onBytes(bytesRead);
  }
  block.fill(0, offset + done, offset + length);
}

type Content = { kind: 'memory'; data: Buffer } | { kind: 'file'; stat: Stats; handle: FileHandle } | { kind: 'vanished' };

/**
 * Files opened ahead of the one being packed, so that each of thousands of small blobs does not wait on
 * its own open and stat. Each holds only a descriptor: contents are read straight into the blocks.
 */
const LOOKAHEAD = 4;

/** The files with their contents: in memory, or opened (and stat'ed) up to LOOKAHEAD files ahead. */
async function* openAhead(files: AsyncIterable<TarSource>): AsyncGenerator<{ file: TarSource; content: Content }> {
  const iterator = files[Symbol.asyncIterator]();
  type Next = { file: TarSource; content: Content } | null; // null: no more files
  const pending: Array<Promise<Next>> = [];
  const pull = () => {
    const next = iterator.next().then(async (item): Promise<Next> => (item.done ? null : { file: item.value, content: await load(item.value) }));
    next.catch(() => undefined); // surfaced in order below
    pending.push(next);
  };
  let finished = false;
  try {
    for (let i = 0; i < LOOKAHEAD; i++) pull();
    for (;;) {
      const next = await pending.shift()!;
      if (next === null) break;
      pull();
      yield next;
    }
    finished = true;
  } finally {
    // Stopped early (an error, a cancel): close what was opened ahead, and the source.
    for (const next of pending) void next.then((item) => (item?.content.kind === 'file' ? item.content.handle.close() : undefined), () => undefined);
    if (!finished) void iterator.return?.()?.catch(() => undefined);
  }
}

async function load(file: TarSource): Promise<Content> {
  if (file.data) return { kind: 'memory', data: file.data };
  let handle: FileHandle;
  try {
    handle = await open(file.source, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'vanished' };
    throw error;
  }
  try {
    return { kind: 'file', stat: await handle.stat(), handle };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Mode, owner and group as the file has them, so `tar -x` as root (and our restore) give them back. */
function header(fields: { path: string; type: 'File' | 'Directory'; mode: number; uid: number; gid: number; size: number; mtime: Date }): Buffer {
  const h = new Header(fields);
  const needsPax = h.encode();
  if (!needsPax || !h.block) return h.block ?? Buffer.alloc(0);
  return Buffer.concat([new Pax({ path: fields.path, size: fields.size, mtime: fields.mtime, uid: fields.uid, gid: fields.gid }).encode(), h.block]);
}

export interface StoredFile {
  /** Bytes written (after compression, and encryption). */
  size: number;
  sha256: string;
  /** Bytes read from `source` (before compression). */
  unpacked_size: number;
  /** Written as an age file. */
  encrypted?: true;
  /** The SHA-256 of its age header and nonce (see AgeEncryptor). */
  age_header_sha256?: string;
}

/**
 * Streams `source` through the compressor into a new file `target`, hashing and counting the stored
 * bytes and counting the source's on the way (never re-reading the file), then flushes it to disk.
 * `onSourceBytes` sees the bytes read from `source`, for progress.
 */
export async function writeCompressed(
  source: Readable,
  target: string,
  compression: Compression,
  opts: { signal?: AbortSignal; onSourceBytes?: (bytes: number) => void; encryption?: EncryptionKeys } = {},
): Promise<StoredFile> {
  let unpacked = 0;
  const counted = tap((bytes) => {
    unpacked += bytes;
    opts.onSourceBytes?.(bytes);
  });
  // Encrypted in the same pass: compressed pieces go straight into the age stream. Its worker hashes the
  // file it seals (age-stream-worker.mjs says why); a plain file is hashed as it is written.
  const encryptor = opts.encryption ? await createEncryptor(opts.encryption) : null;
  const sink = new FileSink(target, encryptor ? null : createHash('sha256'));
  await pipeline([source, counted, compressor(compression), ...(encryptor ? [encryptor] : []), sink], { signal: opts.signal });
  return { size: sink.size, sha256: encryptor?.sha256 ?? sink.sha256(), unpacked_size: unpacked, ...(encryptor && { encrypted: true as const, age_header_sha256: encryptor.headerSha256 }) };
}

/**
 * Writes a new file (refusing one that exists), feeding what it writes to `hash` if given, and flushes it
 * to disk before it finishes. Tells the block pool as each buffer reaches the disk, so its block can be
 * filled again.
 */
class FileSink extends Writable {
  size = 0;
  private handle: FileHandle | null = null;

  constructor(
    private readonly target: string,
    private readonly hash: Hash | null,
  ) {
    super({ highWaterMark: BUFFER_BYTES });
  }

  sha256(): string {
    if (!this.hash) throw new Error('this file was written without a hash');
    return this.hash.digest('hex');
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.target, 'wx', 0o600).then((handle) => {
      this.handle = handle;
      callback();
    }, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const buffers = chunks.map(({ chunk }) => chunk);
    for (const buffer of buffers) {
      this.hash?.update(buffer);
      this.size += buffer.length;
    }
    writeAll(this.handle!, buffers).then(() => {
      for (const buffer of buffers) written(buffer);
      callback();
    }, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.handle!.sync().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = null;
    if (!handle) return callback(error);
    handle.close().then(() => callback(error), (closeError: Error) => callback(error ?? closeError));
  }
}

/** writev may write less than asked (a signal, a nearly full disk): write the rest. */
export async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<void> {
  let rest = buffers;
  for (;;) {
    const { bytesWritten } = await handle.writev(rest);
    let skip = bytesWritten;
    while (rest.length > 0 && skip >= rest[0]!.length) {
      skip -= rest[0]!.length;
      rest = rest.slice(1);
    }
    if (rest.length === 0) return;
    rest = [rest[0]!.subarray(skip), ...rest.slice(1)];
  }
}

/** Counts bytes flowing through (for progress) without changing them. */
function tap(onBytes: (bytes: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
}

/**
 * Streams a file into `sink` through two 1 MiB buffers used in turn, instead of a new buffer per read:
 * a gigabyte read this way allocates nothing, which spares the garbage collector (a zlib stream has
 * consumed a chunk once its write callback has run, so the buffer can then be filled again).
 * `onChunk` sees every chunk first (a checksum, progress). Ends `sink` at the end of the file.
 */
export async function feedFile(file: string, sink: Writable, onChunk: (chunk: Buffer) => void, signal?: AbortSignal): Promise<void> {
  const handle = await open(file, 'r');
  // A sink destroyed half-way (a refused archive) may never call back a write it had started.
  const closed = new Promise<never>((_resolve, reject) => sink.once('close', () => reject(sink.errored ?? new Error('The stream closed early.'))));
  closed.catch(() => undefined);
  try {
    const buffers = [Buffer.allocUnsafeSlow(READ_BYTES), Buffer.allocUnsafeSlow(READ_BYTES)];
    let previous: Promise<void> = Promise.resolve();
    for (let turn = 0; ; turn++) {
      signal?.throwIfAborted();
      const buffer = buffers[turn % 2]!;
      // This buffer's last chunk was written two turns ago; `previous` (the other buffer) was awaited since.
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      await Promise.race([previous, closed]);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      onChunk(chunk);
      // Cancelling (even from onChunk) destroys the sink at once; writing on would be an error of its own.
      signal?.throwIfAborted();
      if (sink.destroyed) throw sink.errored ?? new Error('The stream closed early.');
      previous = new Promise<void>((resolve, reject) => sink.write(chunk, (error) => (error ? reject(error) : resolve())));
      previous.catch(() => undefined); // awaited next turn, unless a cancellation ends the loop first
    }
    sink.end();
  } finally {
    await handle.close();
  }
}

/** Feeds `file` through `transform` (a decompressor) into `destination`; a failure on either side stops both. */
export async function pumpFile(file: string, transform: Duplex, destination: Writable, onChunk: (chunk: Buffer) => void, signal?: AbortSignal): Promise<void> {
  await Promise.all([
    feedFile(file, transform, onChunk, signal).catch((error: Error) => {
      transform.destroy(error);
      throw error;
    }),
    pipeline(transform, destination, { signal }),
  ]);
}
