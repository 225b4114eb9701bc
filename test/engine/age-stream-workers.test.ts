import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Worker as NodeWorker } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import { writeCompressed } from '../../electron/engine/archive.js';
import { generateKeyPair } from '../../electron/engine/crypto/keys.js';
import { makeTempDir } from '../helpers/tmp.js';

// As on a machine with 5 cores or more, whatever this one has: 4 sealing workers, so that a file's batches
// could reach several of them, and each file's SHA-256 (taken by the worker that seals it) depends on
// all of them going to one.
vi.mock('node:os', async (importOriginal) => ({ ...(await importOriginal<typeof import('node:os')>()), availableParallelism: () => 5 }));
const started = vi.hoisted(() => [] as NodeWorker[]);
vi.mock('node:worker_threads', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:worker_threads')>();
  class RecordedWorker extends original.Worker {
    constructor(...args: ConstructorParameters<typeof original.Worker>) {
      super(...args);
      started.push(this);
    }
  }
  return { ...original, Worker: RecordedWorker };
});

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

async function* pieces(bytes: number): AsyncGenerator<Buffer> {
  for (let left = bytes; left > 0; left -= 300_000) yield randomBytes(Math.min(left, 300_000));
}

describe('age files sealed by several workers', () => {
  it("record each file's own SHA-256 when many are written at once, each file's batches all sealed by one worker", async () => {
    const dir = makeTempDir();
    const encryption = { kind: 'recipients' as const, recipients: [(await generateKeyPair()).recipient] };
    const sizes = [9_000_000, 7_000_000, 1 << 20, 5_500_000, 3_000_000, 8_000_000];
    const stored = await Promise.all(sizes.map((bytes, i) => writeCompressed(Readable.from(pieces(bytes)), path.join(dir, `f${i}.age`), 'none', { encryption })));
    expect(started.length).toBeGreaterThan(1);
    for (const [i, file] of stored.entries()) expect(file.sha256, `f${i}.age`).toBe(sha256(path.join(dir, `f${i}.age`)));
  });

  it('fail a file whose worker has stopped, even with none of its batches sent yet, instead of waiting forever; later files get a new worker', async () => {
    const dir = makeTempDir();
    const encryption = { kind: 'recipients' as const, recipients: [(await generateKeyPair()).recipient] };
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => (resume = resolve));
    let firstRead!: () => void;
    const read = new Promise<void>((resolve) => (firstRead = resolve));
    async function* halfBatchThenWait(): AsyncGenerator<Buffer> {
      yield randomBytes(300_000); // under one batch (1 MiB): nothing goes to the worker before the end
      firstRead();
      await paused;
      yield randomBytes(300_000);
    }
    const waiting = writeCompressed(Readable.from(halfBatchThenWait()), path.join(dir, 'waiting.age'), 'none', { encryption }).then(
      () => null,
      (error: Error) => error,
    );
    await read;
    await Promise.all(started.map((worker) => worker.terminate()));
    resume();
    expect(await waiting).toMatchObject({ code: 'CRYPTO_WORKER_FAILED' });
    const later = await writeCompressed(Readable.from(pieces(2_500_000)), path.join(dir, 'later.age'), 'none', { encryption });
    expect(later.sha256).toBe(sha256(path.join(dir, 'later.age')));
  });
});
