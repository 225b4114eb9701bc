import { availableParallelism } from 'node:os';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import type { Compression } from '../../shared/components.js';

export class UnsupportedCompressionError extends Error {}

/** bzip2 and xz have no streaming implementation in Node; refused up front rather than half-supported. */
export function assertSupportedCompression(compression: Compression): void {
  if (compression === 'bzip2' || compression === 'xz') {
    throw new UnsupportedCompressionError(
      `Compression "${compression}" is not supported: use gzip (the default) or zstd (smaller). ` +
        `Set BACKUP_COMPRESSION=gzip or pass --compression gzip.`,
    );
  }
}

export interface CompressorOptions {
  /** Bytes per independently compressed piece (a gzip member or a zstd frame). Default 1 MiB. */
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
class JobSlots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(size: number) {
    this.free = size;
  }
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
const slots = new JobSlots(Math.max(1, availableParallelism()));

/** Cheap guess whether deflate will pay off: deflate a few small slices spread over the piece. */
function looksCompressible(piece: Buffer): boolean {
  const sample =
    piece.length <= PROBE_SLICES * PROBE_SLICE_BYTES
      ? piece
      : Buffer.concat(
          Array.from({ length: PROBE_SLICES }, (_, i) => {
            const start = Math.floor((i * (piece.length - PROBE_SLICE_BYTES)) / (PROBE_SLICES - 1));
            return piece.subarray(start, start + PROBE_SLICE_BYTES);
          }),
        );
  return zlib.deflateRawSync(sample, { level: 1 }).length < sample.length * STORE_RATIO;
}

/** Compressed output of one piece: a buffer, or several to be emitted back to back. */
type PieceOutput = Buffer | Buffer[];
type PieceCompressor = (piece: Buffer) => Promise<PieceOutput>;

function onThreadPool(run: (piece: Buffer, done: (error: Error | null, out: Buffer) => void) => void): PieceCompressor {
  return (piece) =>
    slots.run(() => new Promise((resolve, reject) => run(piece, (error, out) => (error ? reject(error) : resolve(out)))));
}

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]); // deflate, no flags, mtime 0, Unix
const STORED_BLOCK_MAX = 0xffff;

/**
 * A gzip member holding the piece in deflate "stored" blocks (RFC 1951 §3.2.4), built here rather
 * than by zlib level 0: the data is not copied (block headers are interleaved with slices of the
 * piece) and only a CRC-32 is computed, several GB/s, so media costs almost no CPU.
 */
function storedGzipMember(piece: Buffer): Buffer[] {
  const out: Buffer[] = [GZIP_HEADER];
  let offset = 0;
  do {
    const length = Math.min(STORED_BLOCK_MAX, piece.length - offset);
    const final = offset + length === piece.length;
    const header = Buffer.allocUnsafe(5);
    header[0] = final ? 1 : 0;
    header.writeUInt16LE(length, 1);
    header.writeUInt16LE(~length & 0xffff, 3);
    out.push(header, piece.subarray(offset, offset + length));
    offset += length;
  } while (offset < piece.length);
  const trailer = Buffer.allocUnsafe(8);
  trailer.writeUInt32LE(zlib.crc32(piece), 0);
  trailer.writeUInt32LE(piece.length % 2 ** 32, 4);
  out.push(trailer);
  return out;
}

function gzipPiece(level: number): PieceCompressor {
  const deflate = onThreadPool((piece, done) => zlib.gzip(piece, { level }, done));
  return (piece) => (looksCompressible(piece) ? deflate(piece) : Promise.resolve(storedGzipMember(piece)));
}

function zstdPiece(level: number): PieceCompressor {
  // zstd notices incompressible blocks by itself and stores them raw, so no probe is needed.
  const params = { [zlib.constants.ZSTD_c_compressionLevel]: level, [zlib.constants.ZSTD_c_checksumFlag]: 1 };
  return onThreadPool((piece, done) => zlib.zstdCompress(piece, { params }, done));
}

/**
 * Cuts the input into pieces, compresses each as an independent gzip member / zstd frame on the
 * thread pool (in parallel across cores, the event loop stays free), and emits them in input order.
 * Concatenated members/frames form one valid stream for `gunzip`, `tar -z`, `zstd -d` and Node.
 * At most `maxInFlight` pieces are held at once; the Transform's backpressure does the rest.
 */
class ParallelCompressor extends Transform {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private emptyInput = true;
  private readonly inFlight: Array<Promise<PieceOutput>> = [];
  /** One piece per core compressing plus one being emitted: enough to keep every core busy. */
  private readonly maxInFlight = availableParallelism() + 1;

  constructor(
    private readonly compressPiece: PieceCompressor,
    private readonly chunkSize: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length === 0) return callback();
    this.emptyInput = false;
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    if (this.bufferedBytes < this.chunkSize) return callback();
    const whole = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedBytes);
    let offset = 0;
    for (; whole.length - offset >= this.chunkSize; offset += this.chunkSize) {
      this.start(whole.subarray(offset, offset + this.chunkSize));
    }
    this.buffered = offset < whole.length ? [whole.subarray(offset)] : [];
    this.bufferedBytes = whole.length - offset;
    this.emitUntil(this.maxInFlight).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    // An empty input still yields one empty member/frame: `gunzip -t` rejects a zero-byte file.
    if (this.bufferedBytes > 0 || this.emptyInput) this.start(Buffer.concat(this.buffered, this.bufferedBytes));
    this.buffered = [];
    this.bufferedBytes = 0;
    this.emitUntil(0).then(() => callback(), callback);
  }

  private start(piece: Buffer): void {
    const result = this.compressPiece(piece);
    result.catch(() => {}); // surfaced in order by emitUntil; avoid an unhandled rejection meanwhile
    this.inFlight.push(result);
  }

  private async emitUntil(limit: number): Promise<void> {
    while (this.inFlight.length > limit) {
      const out = await this.inFlight[0]!;
      this.inFlight.shift();
      if (this.destroyed) return;
      if (Array.isArray(out)) for (const part of out) this.push(part);
      else this.push(out);
    }
  }
}

/** A stream that compresses with the given method; `none` passes bytes through. */
export function compressor(compression: Compression, options: CompressorOptions = {}): Transform {
  assertSupportedCompression(compression);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (compression === 'gzip') {
    return new ParallelCompressor(gzipPiece(options.gzipLevel ?? DEFAULT_GZIP_LEVEL), chunkSize);
  }
  if (compression === 'zstd') {
    return new ParallelCompressor(zstdPiece(options.zstdLevel ?? DEFAULT_ZSTD_LEVEL), chunkSize);
  }
  return new PassThrough();
}

/** The inverse of `compressor`; gzip accepts concatenated members, as gunzip does. */
export function decompressor(compression: Compression): Transform {
  assertSupportedCompression(compression);
  if (compression === 'gzip') return zlib.createGunzip();
  if (compression === 'zstd') return zlib.createZstdDecompress();
  return new PassThrough();
}
