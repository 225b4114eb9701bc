import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertSupportedCompression,
  compressor,
  decompressor,
  UnsupportedCompressionError,
} from '../../electron/engine/compress.js';

const run = promisify(execFile);
const MiB = 1 << 20;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'compress-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Text shaped like PDS database rows: compresses well, as SQLite pages do. */
function compressibleBytes(size: number): Buffer {
  const words = ['at://did:plc:', 'app.bsky.feed.post', 'hello', 'world', 'aurora', 'locus', 'reply', 'like', 'bafyrei'];
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const line = `${i}\t${words[i % words.length]}${words[(i * 7) % words.length]}\t${(i * 2654435761) % 1e9}\n`;
    parts.push(line);
    length += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

/** Image-like bytes with a little structure: a compressible header, then random data. */
function mixedBytes(size: number): Buffer {
  return Buffer.concat([compressibleBytes(3 * MiB + 12345), randomBytes(size), compressibleBytes(MiB / 2)]);
}

async function compressToFile(data: Buffer, compression: 'gzip' | 'zstd', file: string, chunkSize?: number) {
  const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
  await pipeline(Readable.from(chunks), compressor(compression, { chunkSize }), (await import('node:fs')).createWriteStream(file));
}

async function decompressWithNode(compression: 'gzip' | 'zstd', file: string): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    (await import('node:fs')).createReadStream(file),
    decompressor(compression),
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        out.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(out);
}

async function systemDecompress(args: string[]): Promise<Buffer> {
  const { stdout } = await run(args[0]!, args.slice(1), { encoding: 'buffer', maxBuffer: 256 * MiB });
  return stdout;
}

describe('gzip compressor', () => {
  const inputs = {
    compressible: () => compressibleBytes(6 * MiB + 777),
    incompressible: () => randomBytes(5 * MiB + 3),
    mixed: () => mixedBytes(4 * MiB),
  };

  for (const [name, make] of Object.entries(inputs)) {
    it(`round-trips ${name} data through the system gunzip and Node's gunzip`, async () => {
      const data = make();
      const file = join(dir, `${name}.gz`);
      await compressToFile(data, 'gzip', file);
      await run('gunzip', ['-t', file]);
      expect((await systemDecompress(['gunzip', '-c', file])).equals(data)).toBe(true);
      expect((await decompressWithNode('gzip', file)).equals(data)).toBe(true);
    });
  }

  it('shrinks compressible data and stores incompressible data with almost no overhead', async () => {
    const text = compressibleBytes(8 * MiB);
    await compressToFile(text, 'gzip', join(dir, 'text.gz'));
    expect((await readFile(join(dir, 'text.gz'))).length).toBeLessThan(text.length * 0.35);

    const media = randomBytes(8 * MiB);
    await compressToFile(media, 'gzip', join(dir, 'media.gz'));
    // Stored blocks cost 5 bytes per 64 KiB plus 18 bytes per 1 MiB member.
    expect((await readFile(join(dir, 'media.gz'))).length).toBeLessThan(media.length * 1.001);
  });

  it('writes a tar.gz that the system tar lists and extracts', async () => {
    const source = join(dir, 'tree');
    await mkdir(join(source, 'blobs', 'did_plc_abc'), { recursive: true });
    const files: Record<string, Buffer> = {
      'blobs/did_plc_abc/bafyreia': randomBytes(3 * MiB + 5),
      'blobs/did_plc_abc/bafyreib': compressibleBytes(2 * MiB),
      'blobs/did_plc_abc/empty': Buffer.alloc(0),
    };
    for (const [path, content] of Object.entries(files)) await writeFile(join(source, path), content);
    const archive = join(dir, 'blobs.tar.gz');
    await pipeline(
      tar.create({ cwd: source, portable: true }, ['blobs']),
      compressor('gzip'),
      (await import('node:fs')).createWriteStream(archive),
    );

    const { stdout } = await run('tar', ['-tzf', archive]);
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual(
      ['blobs/', 'blobs/did_plc_abc/', ...Object.keys(files)].sort(),
    );
    const target = join(dir, 'extracted');
    await mkdir(target);
    await run('tar', ['-xzf', archive, '-C', target]);
    for (const [path, content] of Object.entries(files)) {
      expect((await readFile(join(target, path))).equals(content)).toBe(true);
    }
  });

  it('turns empty input into a valid empty gzip file', async () => {
    const file = join(dir, 'empty.gz');
    await compressToFile(Buffer.alloc(0), 'gzip', file);
    await run('gunzip', ['-t', file]);
    expect((await systemDecompress(['gunzip', '-c', file])).length).toBe(0);
    expect((await decompressWithNode('gzip', file)).length).toBe(0);
  });

  it('keeps order across many small pieces', async () => {
    const data = Buffer.concat([compressibleBytes(MiB), randomBytes(MiB), compressibleBytes(MiB)]);
    const file = join(dir, 'many.gz');
    await compressToFile(data, 'gzip', file, 4096); // 768 members
    await run('gunzip', ['-t', file]);
    expect((await decompressWithNode('gzip', file)).equals(data)).toBe(true);
  });
});

describe('zstd compressor', () => {
  // One frame, because Node 22's zstd decoder loses data after the first of several frames.
  it('round-trips a multi-megabyte stream through the system zstd and Node', async () => {
    const data = mixedBytes(5 * MiB);
    const file = join(dir, 'mixed.zst');
    await compressToFile(data, 'zstd', file);
    await run('zstd', ['-q', '-t', file]);
    expect((await systemDecompress(['zstd', '-q', '-d', '-c', file])).equals(data)).toBe(true);
    expect((await decompressWithNode('zstd', file)).equals(data)).toBe(true);
  });

  it('turns empty input into a valid empty zstd file', async () => {
    const file = join(dir, 'empty.zst');
    await compressToFile(Buffer.alloc(0), 'zstd', file);
    await run('zstd', ['-q', '-t', file]);
    expect((await decompressWithNode('zstd', file)).length).toBe(0);
  });
});

describe('flow control and errors', () => {
  it('stops pulling input while nobody reads its output, then finishes intact', async () => {
    const total = 64 * MiB;
    let produced = 0;
    const source = new Readable({
      read() {
        if (produced >= total) return this.push(null);
        const chunk = randomBytes(256 * 1024);
        produced += chunk.length;
        this.push(chunk);
      },
    });
    const gzip = compressor('gzip');
    source.pipe(gzip);
    // Give the pipe ample opportunity to run ahead if it were not flow-controlled.
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(produced).toBeLessThan(16 * MiB);

    let outBytes = 0;
    await pipeline(
      gzip,
      decompressor('gzip'),
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          outBytes += chunk.length;
          callback();
        },
      }),
    );
    expect(outBytes).toBe(total);
  });

  it('passes a source error through the pipeline', async () => {
    const source = new Readable({
      read() {
        this.push(randomBytes(3 * MiB));
        this.destroy(new Error('disk read failed'));
      },
    });
    await expect(pipeline(source, compressor('gzip'), new Writable({ write: (_c, _e, cb) => cb() }))).rejects.toThrow(
      'disk read failed',
    );
  });

  it('fails the stream when compressing fails', async () => {
    await expect(
      pipeline(Readable.from([compressibleBytes(2 * MiB)]), compressor('gzip', { gzipLevel: 42 }), new Writable({ write: (_c, _e, cb) => cb() })),
    ).rejects.toThrow(/level/);
  });

  it('reports a truncated or corrupt gzip stream when decompressing', async () => {
    const file = join(dir, 'cut.gz');
    await compressToFile(compressibleBytes(3 * MiB), 'gzip', file);
    const whole = await readFile(file);
    await writeFile(file, whole.subarray(0, whole.length - 100));
    await expect(decompressWithNode('gzip', file)).rejects.toThrow(/unexpected end of file/);

    const flipped = Buffer.from(whole);
    flipped[Math.floor(flipped.length / 2)]! ^= 0xff;
    await writeFile(file, flipped);
    await expect(decompressWithNode('gzip', file)).rejects.toThrow();
  });

  it('refuses bzip2 and xz up front with a message saying what to use', () => {
    expect(() => assertSupportedCompression('xz')).toThrow(UnsupportedCompressionError);
    expect(() => compressor('bzip2')).toThrow(/use gzip/);
    expect(() => assertSupportedCompression('gzip')).not.toThrow();
  });
});
