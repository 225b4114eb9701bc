/**
 * The 1 MiB buffers a backup's tar archives are assembled in, used again once their bytes are on disk.
 * A backup streams gigabytes through short-lived buffers; allocated fresh, each one costs page faults
 * to fill and, being memory outside V8's heap, pushes V8 into a full collection every few dozen MB
 * (about 95 in a 1 GB backup; 57 with the blocks).
 *
 * The rule that keeps a block from being reused too early: a block goes back to the pool only after
 * the output written from its last byte is on disk. Output is written in order and every byte of the
 * block went into that output or earlier output, so by then nothing reads the block any more.
 */
export const BLOCK_BYTES = 1 << 20;

/** Blocks kept for reuse: two archives at a time, each holding about seven in flight (reading, compressing, writing). */
const MAX_FREE = 16;

const free: Buffer[] = [];
const pooled = new WeakSet<ArrayBufferLike>();
/** Output buffer → the blocks to give back once it is written. */
const freedByWriting = new WeakMap<Buffer, Buffer[]>();

export function takeBlock(): Buffer {
  const block = free.pop();
  if (block) return block;
  const fresh = Buffer.allocUnsafeSlow(BLOCK_BYTES); // its own ArrayBuffer, not a slice of Node's shared pool
  pooled.add(fresh.buffer);
  return fresh;
}

/**
 * Records that `output` is the last output made from `inputs`: once it is written, every pooled block
 * whose final byte is among `inputs` can be filled again.
 */
export function releaseWhenWritten(output: Buffer, inputs: Buffer[]): void {
  const blocks = inputs.filter((part) => pooled.has(part.buffer) && part.byteOffset + part.length === BLOCK_BYTES);
  if (blocks.length > 0) freedByWriting.set(output, blocks.map((part) => Buffer.from(part.buffer)));
}

/** Output buffer → what to do once it is written (give its memory back to a pool of its own). */
const afterWriting = new WeakMap<Buffer, () => void>();

/** Calls `then` once `output` is written, if the writer tells (written below); else `output` is left to the garbage collector. */
export function onceWritten(output: Buffer, then: () => void): void {
  afterWriting.set(output, then);
}

/** Called by the writer once `chunk` is on disk. */
export function written(chunk: Buffer): void {
  const then = afterWriting.get(chunk);
  if (then) {
    afterWriting.delete(chunk);
    then();
  }
  const blocks = freedByWriting.get(chunk);
  if (!blocks) return;
  freedByWriting.delete(chunk);
  for (const block of blocks) if (free.length < MAX_FREE) free.push(block);
}
