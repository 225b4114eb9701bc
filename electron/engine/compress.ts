import { availableParallelism } from 'node:os';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { advice } from '../../shared/advice.js';
import type { Compression } from '../../shared/components.js';
import { releaseWhenWritten } from './blocks.js';
import { Semaphore } from './semaphore.js';

export class UnsupportedCompressionError extends Error {}

/** bzip2 and xz have no streaming implementation in Node; refused up front rather than half-supported. */
export function assertSupportedCompression(compression: Compression): void {
  if (compression === 'bzip2' || compression === 'xz') {
    throw new UnsupportedCompressionError(
      `Compression "${compression}" is not supported: use gzip (the default) or zstd (smaller). ` +
        `${advice('compression')}.`,
    );
  }
}

export interface CompressorOptions {
  /** Bytes per independently compressed gzip member. Default 1 MiB. */
  chunkSize?: number;
  /** gzip level for pieces that compress (incompressible ones are stored). Default 1. */
  gzipLevel?: number;
  /** zstd level. Default 3 (zstd's own default). */
  zstdLevel?: number;
}

/**
 * 1 MiB pieces: large enough that the 18-byte gzip member framing and the lost 32 KiB deflate
 * window cost nothing measurable, small enough that a few in flight per stream keep memory flat.
 */
const DEFAULT_CHUNK_SIZE = 1 << 20;
/**
 * Level 1 on compressible pieces (SQLite pages): measured on fixture databases it is about 3× faster
 * than level 6 for about 10% more bytes; the bench (`npm run bench`) shows the trade-off.
 */
const DEFAULT_GZIP_LEVEL = 1;
const DEFAULT_ZSTD_LEVEL = 3;
/**
 * zlib's largest hash table: the same bytes out, but level 1 runs 25% faster on actor stores and
 * 90% faster on the sequencer (fewer hash collisions to walk), for 128 KiB more memory per piece.
 */
const GZIP_MEM_LEVEL = 9;
/**
 * An 8 KiB window instead of 32 KiB: on fixture databases level 1 then runs at 153 instead of
 * 100 MiB/s per core for 3.7% more compressed bytes (0.569 instead of 0.549 of the input), about
 * 1.3 s of CPU less per GiB of SQLite for 0.6% more backup. Any gzip reader accepts any window.
 */
const GZIP_WINDOW_BITS = 13;

/**
 * A piece whose sample does not shrink below this fraction is stored instead of deflated: JPEG/MP4
 * bytes do not compress, and deflating them would burn a core for nothing.
 */
const STORE_RATIO = 0.9;
const PROBE_SLICES = 4;
const PROBE_SLICE_BYTES = 4096;

/**
 * All compressors in this process share one budget of thread-pool jobs, one per core: libuv's pool
 * (4 threads by default) also serves fs reads and writes, which must not queue behind compression.
 */
const slots = new Semaphore(Math.max(1, availableParallelism()));

/** A piece of input as the buffers it arrived in (slices, never copied until a compressor needs one buffer). */
type Piece = Buffer[];
const pieceLength = (piece: Piece) => piece.reduce((sum, part) => sum + part.length, 0);
const joined = (piece: Piece) => (piece.length === 1 ? piece[0]! : Buffer.concat(piece));

/** `length` bytes of the piece starting at `offset`, copying only when they span two buffers. */
function sliceOf(piece: Piece, offset: number, length: number): Buffer {
  const out: Buffer[] = [];
  for (const part of piece) {
    if (offset >= part.length) {
      offset -= part.length;
      continue;
    }
    out.push(part.subarray(offset, offset + length));
    length -= out.at(-1)!.length;
    offset = 0;
    if (length === 0) break;
  }
  return joined(out);
}

/** Cheap guess whether deflate will pay off: deflate a few small slices spread over the piece. */
function looksCompressible(piece: Piece, length: number): boolean {
  const sample =
    length <= PROBE_SLICES * PROBE_SLICE_BYTES
      ? joined(piece)
      : Buffer.concat(
          Array.from({ length: PROBE_SLICES }, (_, i) =>
            sliceOf(piece, Math.floor((i * (length - PROBE_SLICE_BYTES)) / (PROBE_SLICES - 1)), PROBE_SLICE_BYTES),
          ),
        );
  return zlib.deflateRawSync(sample, { level: 1 }).length < sample.length * STORE_RATIO;
}

/** A compressed piece, as one buffer or as several to be written in order. */
type PieceCompressor = (piece: Piece, length: number) => Promise<Buffer | Buffer[]>;

function onThreadPool(run: (input: Buffer, done: (error: Error | null, out: Buffer) => void) => void) {
  return (input: Buffer) =>
    slots.run(() => new Promise<Buffer>((resolve, reject) => run(input, (error, out) => (error ? reject(error) : resolve(out)))));
}

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]); // deflate, no flags, mtime 0, Unix
const STORED_BLOCK_MAX = 0xffff;

/**
 * A gzip member holding the piece in deflate "stored" blocks (RFC 1951 §3.2.4), built here rather
 * than by zlib level 0 on the thread pool: only a CRC-32 (several GB/s), and no copy at all: the
 * member is the piece's own bytes between 5-byte block headers, so media costs almost no CPU.
 */
function storedGzipMember(piece: Piece, length: number): Buffer[] {
  const out: Buffer[] = [GZIP_HEADER];
  let crc = 0;
  let blockLeft = 0;
  let left = length;
  const blockHeader = () => {
    blockLeft = Math.min(STORED_BLOCK_MAX, left);
    const header = Buffer.allocUnsafe(5);
    header[0] = blockLeft === left ? 1 : 0; // BFINAL on the last block; BTYPE 00 = stored
    header.writeUInt16LE(blockLeft, 1);
    header.writeUInt16LE(~blockLeft & 0xffff, 3);
    out.push(header);
  };
  if (length === 0) blockHeader();
  for (const part of piece) {
    crc = zlib.crc32(part, crc);
    for (let offset = 0; offset < part.length; ) {
      if (blockLeft === 0) blockHeader();
      const n = Math.min(blockLeft, part.length - offset);
      out.push(part.subarray(offset, offset + n));
      offset += n;
      blockLeft -= n;
      left -= n;
    }
  }
  const trailer = Buffer.allocUnsafe(8);
  trailer.writeUInt32LE(crc, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  out.push(trailer);
  return out;
}

/**
 * Room for the whole output of one piece, so zlib compresses it in one thread-pool job: with the
 * default 16 KiB output buffer it returns to the event loop for every 16 KiB produced.
 */
const outputRoom = (length: number) => length + (length >> 6) + 1024;

function gzipPiece(level: number): PieceCompressor {
  return (piece, length) =>
    looksCompressible(piece, length)
      ? onThreadPool((input, done) => zlib.gzip(input, { level, memLevel: GZIP_MEM_LEVEL, windowBits: GZIP_WINDOW_BITS, chunkSize: outputRoom(length) }, done))(joined(piece))
      : Promise.resolve(storedGzipMember(piece, length));
}

/**
 * Cuts the input into pieces, compresses each as an independent gzip member on the thread pool
 * (in parallel across cores, the event loop stays free), and emits them in input order.
 * Concatenated members form one valid gzip stream for `gunzip`, `tar -z` and Node (RFC 1952 §2.2).
 * At most `maxInFlight` pieces are held at once; the Transform's backpressure does the rest.
 */
class ParallelCompressor extends Transform {
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private emptyInput = true;
  private readonly inFlight: Array<{ piece: Piece; output: Promise<Buffer | Buffer[]> }> = [];
  /** One piece per core: with several streams sharing the cores, more only holds memory (bench). */
  private readonly maxInFlight = availableParallelism();

  constructor(
    private readonly compressPiece: PieceCompressor,
    private readonly chunkSize: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length === 0) return callback();
    this.emptyInput = false;
    this.parts.push(chunk);
    this.partsBytes += chunk.length;
    while (this.partsBytes >= this.chunkSize) this.start(this.nextPiece(this.chunkSize));
    if (this.inFlight.length <= this.maxInFlight) return callback();
    this.emitUntil(this.maxInFlight).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    // An empty input still yields one empty member/frame: `gunzip -t` rejects a zero-byte file.
    if (this.partsBytes > 0 || this.emptyInput) this.start(this.nextPiece(this.partsBytes));
    this.emitUntil(0).then(() => callback(), callback);
  }

  /** The next `length` bytes as slices of the buffered parts. */
  private nextPiece(length: number): Piece {
    const piece: Piece = [];
    for (let left = length; left > 0; ) {
      const part = this.parts[0]!;
      if (part.length <= left) {
        piece.push(part);
        this.parts.shift();
        left -= part.length;
      } else {
        piece.push(part.subarray(0, left));
        this.parts[0] = part.subarray(left);
        left = 0;
      }
    }
    this.partsBytes -= length;
    return piece;
  }

  private start(piece: Piece): void {
    const output = this.compressPiece(piece, pieceLength(piece));
    output.catch(() => {}); // surfaced in order by emitUntil; avoid an unhandled rejection meanwhile
    this.inFlight.push({ piece, output });
  }

  private async emitUntil(limit: number): Promise<void> {
    while (this.inFlight.length > limit) {
      const { piece, output } = this.inFlight[0]!;
      const out = await output;
      this.inFlight.shift();
      if (this.destroyed) return;
      // A stored member is the piece's own bytes: its blocks are free only once all of it is written.
      releaseWhenWritten(Array.isArray(out) ? out.at(-1)! : out, piece);
      if (Array.isArray(out)) for (const part of out) this.push(part);
      else this.push(out);
    }
  }
}

/**
 * Output buffer of a zlib stream. zlib's default (16 KiB) costs one thread-pool round trip per
 * 16 KiB produced; 1 MiB roughly halves the CPU of unpacking a backup (measured on bench backups).
 */
const STREAM_CHUNK = 1 << 20;

/** A stream that compresses with the given method; `none` passes bytes through. */
export function compressor(compression: Compression, options: CompressorOptions = {}): Transform {
  assertSupportedCompression(compression);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (compression === 'gzip') {
    return new ParallelCompressor(gzipPiece(options.gzipLevel ?? DEFAULT_GZIP_LEVEL), chunkSize);
  }
  if (compression === 'zstd') {
    // One frame from one stream, not parallel frames: Node 22's zstd decoder stops at (or fails
    // after) the end of the first of several concatenated frames unless each ends exactly on its
    // output-buffer boundary, which would silently truncate a restore. zstd is fast on one core.
    const params = {
      [zlib.constants.ZSTD_c_compressionLevel]: options.zstdLevel ?? DEFAULT_ZSTD_LEVEL,
      [zlib.constants.ZSTD_c_checksumFlag]: 1,
    };
    return zlib.createZstdCompress({ params, chunkSize: STREAM_CHUNK });
  }
  return new PassThrough();
}

/** The inverse of `compressor`; gzip accepts concatenated members, as gunzip does. */
export function decompressor(compression: Compression): Transform {
  assertSupportedCompression(compression);
  if (compression === 'gzip') return zlib.createGunzip({ chunkSize: STREAM_CHUNK });
  if (compression === 'zstd') return zlib.createZstdDecompress({ chunkSize: STREAM_CHUNK });
  return new PassThrough();
}
