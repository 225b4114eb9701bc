// Worker thread: seals and opens batches of an age file's payload chunks (ChaCha20-Poly1305, the STREAM
// of age-encryption.org/v1), so that the cipher runs beside the main thread's tar, hashing and writes
// instead of between them: node:crypto has no asynchronous cipher. Plain .mjs so that Node loads it as
// is under tsx, vitest and the built app. Protocol: see age-stream.ts (CipherPool).
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { parentPort as maybeParentPort } from 'node:worker_threads';

/**
 * @typedef {{ id: number, open: boolean, key: Uint8Array, first: number, last: boolean, data: ArrayBuffer, length: number }} Job
 *   `data` holds `length` bytes: whole chunks (plaintext to seal, or sealed chunks to open), of which only
 *   a batch's final one may be shorter, and only when `last` (it is then the file's last chunk). The
 *   result is written over them, in the same buffer (it has room for the tags), and the buffer sent back:
 *   no buffer is allocated per batch (fresh memory costs page faults, and its release a collection).
 * @typedef {{ id: number, data: ArrayBuffer, length: number } | { id: number, data: ArrayBuffer, failed: number }} Result
 *   `length`: bytes of the result at the start of `data`; `failed`: the index (in the file) of the first
 *   chunk that does not authenticate.
 */
const parentPort = /** @type {import('node:worker_threads').MessagePort} */ (maybeParentPort);
const CHUNK = 64 * 1024;
const TAG = 16;

parentPort.on('message', (/** @type {Job} */ job) => {
  const result = job.open ? openChunks(job) : sealChunks(job);
  parentPort.postMessage(result, [job.data]);
});

/** The 12-byte STREAM nonce of chunk `index`: an 11-byte big-endian counter, then the last-chunk flag. */
function nonceOf(/** @type {number} */ index, /** @type {boolean} */ last) {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(index, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

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
    const cipher = createCipheriv('chacha20-poly1305', job.key, nonceOf(job.first + i, job.last && i === count - 1), { authTagLength: TAG });
    const sealed = cipher.update(plain); // a copy: `plain` may be overwritten from here on
    cipher.final();
    const at = i * (CHUNK + TAG);
    sealed.copy(buffer, at);
    cipher.getAuthTag().copy(buffer, at + sealed.length);
  }
  return { id: job.id, data: job.data, length: job.length + count * TAG };
}

/**
 * Opened chunk i goes where its sealed bytes start minus i tags: over bytes already read.
 * @returns {Result}
 */
function openChunks(/** @type {Job} */ job) {
  const buffer = Buffer.from(job.data);
  const count = Math.ceil(job.length / (CHUNK + TAG));
  for (let i = 0; i < count; i++) {
    const sealed = buffer.subarray(i * (CHUNK + TAG), Math.min(job.length, (i + 1) * (CHUNK + TAG)));
    const decipher = createDecipheriv('chacha20-poly1305', job.key, nonceOf(job.first + i, job.last && i === count - 1), { authTagLength: TAG });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    const plain = decipher.update(sealed.subarray(0, sealed.length - TAG));
    try {
      decipher.final();
    } catch {
      return { id: job.id, data: job.data, failed: job.first + i };
    }
    plain.copy(buffer, i * CHUNK);
  }
  return { id: job.id, data: job.data, length: job.length - count * TAG };
}
