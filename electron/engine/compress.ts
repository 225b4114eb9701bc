import { PassThrough, type Transform } from 'node:stream';
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

/** A stream that compresses with the given method; `none` passes bytes through. */
export function compressor(compression: Compression): Transform {
  assertSupportedCompression(compression);
  if (compression === 'gzip') return zlib.createGzip({ level: 6 });
  if (compression === 'zstd') return zlib.createZstdCompress();
  return new PassThrough();
}

/** The inverse of `compressor`; gzip accepts concatenated members, as gunzip does. */
export function decompressor(compression: Compression): Transform {
  assertSupportedCompression(compression);
  if (compression === 'gzip') return zlib.createGunzip();
  if (compression === 'zstd') return zlib.createZstdDecompress();
  return new PassThrough();
}
