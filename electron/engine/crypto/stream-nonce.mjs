// The nonce of age's payload STREAM, shared by the sealing worker (age-stream-worker.mjs) and the
// opening stream (age-stream.ts). Plain .mjs so that the worker loads it as is under tsx and vitest.

/**
 * The 12-byte nonce of chunk `index`: an 11-byte big-endian counter, then the last-chunk flag.
 * @param {number} index
 * @param {boolean} last
 * @returns {Buffer}
 */
export function streamNonce(index, last) {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(index, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}
