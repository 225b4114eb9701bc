import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Header, Pax } from 'tar';
import type { Compression } from '../../shared/components.js';
import { compressor } from './compress.js';

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
  }
}

export interface TarSource {
  /** Path inside the archive, '/'-separated, e.g. `blobs/did:plc:abc/bafkrei…`. */
  archivePath: string;
  /** The file to read. */
  source: string;
  /** The file's bytes when they are in memory already (a database snapshot): stored as they are, `source` is not read. */
  data?: Buffer;
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
  return Readable.from(generateTar(files, hooks, options.topDir, options.mtime ?? new Date()), { objectMode: false, highWaterMark: BUFFER_BYTES });
}

export interface PackOptions {
  /** Written first, as `tar -c blobs` does: the archive of an empty folder still has an entry (node-tar calls one without any unreadable). */
  topDir?: string;
  mtime?: Date;
}

async function* generateTar(files: AsyncIterable<TarSource>, hooks: PackHooks, topDir: string | undefined, mtime: Date): AsyncGenerator<Buffer> {
  const dirsWritten = new Set<string>();
  if (topDir) {
    dirsWritten.add(`${topDir}/`);
    yield header({ path: `${topDir}/`, type: 'Directory', mode: 0o755, size: 0, mtime });
  }
  for await (const { file, content } of readAhead(files)) {
    // Parent directories first, as `tar -c` writes them, so extraction recreates their modes.
    const parts = file.archivePath.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = `${parts.slice(0, i).join('/')}/`;
      if (dirsWritten.has(dir)) continue;
      dirsWritten.add(dir);
      yield header({ path: dir, type: 'Directory', mode: 0o755, size: 0, mtime });
    }
    if (content.kind === 'vanished') {
      hooks.onFile?.(file, false);
      continue;
    }
    const size = content.kind === 'memory' ? content.data.length : content.stat.size;
    yield header(
      content.kind === 'memory'
        ? { path: file.archivePath, type: 'File', mode: 0o644, size, mtime }
        : { path: file.archivePath, type: 'File', mode: content.stat.mode & 0o7777, size, mtime: content.stat.mtime },
    );
    if (content.kind === 'large') {
      const { handle } = content;
      try {
        let left = size;
        while (left > 0) {
          const buffer = Buffer.allocUnsafe(Math.min(left, READ_BYTES));
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
          if (bytesRead === 0) {
            yield Buffer.alloc(left); // shrank while being read: pad (see above)
            break;
          }
          left -= bytesRead;
          hooks.onBytes?.(bytesRead, file);
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        await handle.close();
      }
    } else if (size > 0) {
      hooks.onBytes?.(size, file);
      yield content.data;
    }
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (padding) yield Buffer.alloc(padding);
    hooks.onFile?.(file, true);
  }
  yield Buffer.alloc(BLOCK * 2); // end-of-archive marker
}

type Content =
  | { kind: 'memory'; data: Buffer }
  | { kind: 'small'; stat: Stats; data: Buffer }
  | { kind: 'large'; stat: Stats; handle: FileHandle }
  | { kind: 'vanished' };

/** Files opened, and read when small, ahead of the one being packed: 2 is as fast as 8 and holds less (bench). */
const LOOKAHEAD = 2;

/**
 * The files with their contents, opened (and read whole when at most 1 MiB, as most blobs are) up to
 * LOOKAHEAD files ahead: taken one at a time, each of thousands of small blobs would wait on its own
 * open, stat, read and close (bench: the blob archive's time after the databases went from 3 s to 1 s).
 * At most LOOKAHEAD MiB are held ahead.
 */
async function* readAhead(files: AsyncIterable<TarSource>): AsyncGenerator<{ file: TarSource; content: Content }> {
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
    for (const next of pending) void next.then((item) => (item?.content.kind === 'large' ? item.content.handle.close() : undefined), () => undefined);
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
    const stat = await handle.stat();
    if (stat.size > READ_BYTES) return { kind: 'large', stat, handle };
    const data = Buffer.allocUnsafe(stat.size);
    let filled = 0;
    while (filled < data.length) {
      const { bytesRead } = await handle.read(data, filled, data.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    data.fill(0, filled); // shrank while being read: pad (see packTar)
    await handle.close();
    return { kind: 'small', stat, data };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

function header(fields: { path: string; type: 'File' | 'Directory'; mode: number; size: number; mtime: Date }): Buffer {
  const h = new Header({ ...fields, uid: 0, gid: 0 });
  const needsPax = h.encode();
  if (!needsPax || !h.block) return h.block ?? Buffer.alloc(0);
  return Buffer.concat([new Pax({ path: fields.path, size: fields.size, mtime: fields.mtime }).encode(), h.block]);
}

export interface StoredFile {
  /** Bytes written (after compression). */
  size: number;
  sha256: string;
}

/**
 * Streams `source` through the compressor into a new file `target`, hashing and counting the stored
 * bytes on the way (never re-reading the file), then flushes it to disk. `onSourceBytes` sees the
 * bytes read from `source`, for progress.
 */
export async function writeCompressed(
  source: Readable,
  target: string,
  compression: Compression,
  opts: { signal?: AbortSignal; onSourceBytes?: (bytes: number) => void } = {},
): Promise<StoredFile> {
  const hash = createHash('sha256');
  let size = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  const counted = opts.onSourceBytes ? [tap(opts.onSourceBytes)] : [];
  await pipeline([source, ...counted, compressor(compression), measure, createWriteStream(target, { flags: 'wx', highWaterMark: BUFFER_BYTES })], { signal: opts.signal });
  await syncFile(target);
  return { size, sha256: hash.digest('hex') };
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
export async function pumpFile(file: string, transform: Transform, destination: Writable, onChunk: (chunk: Buffer) => void, signal?: AbortSignal): Promise<void> {
  await Promise.all([
    feedFile(file, transform, onChunk, signal).catch((error: Error) => {
      transform.destroy(error);
      throw error;
    }),
    pipeline(transform, destination, { signal }),
  ]);
}

/** Flushes a written file to disk (fsync applies to the file, whichever descriptor asks). */
export async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
