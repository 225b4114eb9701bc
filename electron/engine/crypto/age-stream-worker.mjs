// Worker thread: seals batches of an age file's payload chunks (ChaCha20-Poly1305, the STREAM of
// age-encryption.org/v1), so that the cipher runs beside the main thread's tar, hashing and writes
// instead of between them: node:crypto has no asynchronous cipher. Plain .mjs so that Node loads it as
// is under tsx, vitest and the built app. Protocol: see age-stream.ts (CipherWorkers).
import { createCipheriv } from 'node:crypto';
import { parentPort as maybeParentPort } from 'node:worker_threads';
import { streamNonce } from './stream-nonce.mjs';

/**
 * @typedef {{ id: number, key: Uint8Array, first: number, last: boolean, data: ArrayBuffer, length: number }} Job
 *   `data` holds `length` bytes of plaintext: whole chunks, of which only a batch's final one may be
 *   shorter, and only when `last` (it is then the file's last chunk). The sealed chunks are written over
 *   them, in the same buffer (it has room for the tags), and the buffer sent back: no buffer is allocated
 *   per batch (fresh memory costs page faults, and its release a collection).
 * @typedef {{ id: number, data: ArrayBuffer, length: number }} Result
 *   `length`: bytes of sealed chunks at the start of `data`.
 */
const parentPort = /** @type {import('node:worker_threads').MessagePort} */ (maybeParentPort);
const CHUNK = 64 * 1024;
const TAG = 16;

parentPort.on('message', (/** @type {Job} */ job) => {
  parentPort.postMessage(sealChunks(job), [job.data]);
});

/**
 * Sealed chunk i goes where its plaintext starts plus i tags: over the start of chunk i + 1's plaintext,
 * so the chunks are sealed from the last one back.
 * @returns {Result}
 */
function sealChunks(/** @type {Job} */ job) {
  const buffer = Buffer.from(job.data);
  const count = Math.max(1, Math.ceil(job.length / CHUNK));
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
