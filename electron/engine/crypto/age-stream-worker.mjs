// Worker thread: seals batches of an age file's payload chunks (ChaCha20-Poly1305, the STREAM of
// age-encryption.org/v1), so that the cipher runs beside the main thread's tar and writes instead of
// between them (node:crypto has no asynchronous cipher), and hashes the file it makes. Plain .mjs so that
// Node loads it as is under tsx, vitest and the built app. Protocol: see age-stream.ts (CipherWorkers).
import { createCipheriv, createHash } from 'node:crypto';
import { parentPort as maybeParentPort } from 'node:worker_threads';
import { streamNonce } from './stream-nonce.mjs';

/**
 * @typedef {{ id: number, stream: number, header?: Uint8Array, key: Uint8Array, first: number, last: boolean, data: ArrayBuffer, length: number }} Job
 *   `data` holds `length` bytes of plaintext: whole chunks, of which only a batch's final one may be
 *   shorter, and only when `last` (it is then the file's last chunk). The sealed chunks are written over
 *   them, in the same buffer (it has room for the tags), and the buffer sent back: no buffer is allocated
 *   per batch (fresh memory costs page faults, and its release a collection). Every job of a `stream`
 *   (one age file) comes to the same worker, in order; its first carries the file's `header` (and nonce).
 * @typedef {{ forget: number }} Forget  A stream given up before its last job.
 * @typedef {{ id: number, data: ArrayBuffer, length: number, sha256?: string }} Result
 *   `length`: bytes of sealed chunks at the start of `data`; `sha256`, with a stream's last job: the
 *   SHA-256 of its whole file, the header and every sealed chunk.
 */
const parentPort = /** @type {import('node:worker_threads').MessagePort} */ (maybeParentPort);
const CHUNK = 64 * 1024;
const TAG = 16;

/** The running SHA-256 of each stream's file, and the chunk its next job must start with. */
const files = /** @type {Map<number, { hash: import('node:crypto').Hash, next: number }>} */ (new Map());

parentPort.on('message', (/** @type {Job | Forget} */ message) => {
  if ('forget' in message) return void files.delete(message.forget);
  parentPort.postMessage(hashed(message, sealChunks(message)), [message.data]);
});

/**
 * Sealed chunk i goes where its plaintext starts plus i tags: over the start of chunk i + 1's plaintext,
 * so the chunks are sealed from the last one back.
 * @returns {Result}
 */
function sealChunks(/** @type {Job} */ job) {
  const buffer = Buffer.from(job.data);
  const count = chunksIn(job);
  for (let i = count - 1; i >= 0; i--) {
    const plain = buffer.subarray(i * CHUNK, Math.min(job.length, (i + 1) * CHUNK));
    const cipher = createCipheriv('chacha20-poly1305', job.key, streamNonce(job.first + i, job.last && i === count - 1), { authTagLength: TAG });
    const sealed = cipher.update(plain); // a copy: `plain` may be overwritten from here on
    cipher.final();
    const at = i * (CHUNK + TAG);
    sealed.copy(buffer, at);
    cipher.getAuthTag().copy(buffer, at + sealed.length);
  }
  return { id: job.id, data: job.data, length: job.length + count * TAG };
}

const chunksIn = (/** @type {Job} */ job) => Math.max(1, Math.ceil(job.length / CHUNK));

/**
 * Hashes the sealed batch here, while its bytes are still in this core's cache, rather than on the main
 * thread as they are written: the main thread (tar, CRC-32, copies into batches, writes) is what an
 * encrypted backup waits for, and this worker has time between batches. Measured on the 1 GB bench
 * fixture: 0.25–0.6 s less per backup for the same CPU (docs/benchmarks.md).
 * @returns {Result}
 */
function hashed(/** @type {Job} */ job, /** @type {Result} */ result) {
  if (job.header) files.set(job.stream, { hash: createHash('sha256').update(job.header), next: 0 });
  const file = files.get(job.stream);
  // A job out of order would make a digest that matches no file: fail the worker (the stream reports it).
  if (file?.next !== job.first) throw new Error(`an internal error: a file's batch at chunk ${job.first} came out of order`);
  file.hash.update(new Uint8Array(result.data, 0, result.length));
  file.next += chunksIn(job);
  if (!job.last) return result;
  files.delete(job.stream);
  return { ...result, sha256: file.hash.digest('hex') };
}
