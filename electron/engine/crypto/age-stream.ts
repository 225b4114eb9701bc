import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, scrypt as scryptCallback, type ScryptOptions } from 'node:crypto';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { Decrypter, Encrypter, Stanza, type Identity, type Recipient } from 'age-encryption';
import { BLOCK_BYTES, onceWritten, releaseWhenWritten, takeBlock, written } from '../blocks.js';
import { EngineError } from '../errors.js';
import { streamNonce } from './stream-nonce.mjs';

/**
 * age (age-encryption.org/v1) files, streamed.
 *
 * The header — the recipient stanzas (X25519 from the library; scrypt below), the file key and the
 * header MAC — is made and checked by the `age-encryption` library (typage). The payload, a
 * ChaCha20-Poly1305 STREAM of 64 KiB chunks, is sealed here with node:crypto, 16 chunks at a time on a
 * worker thread (age-stream-worker.mjs, which also hashes the file) beside the main thread's tar and
 * writes, and opened with node:crypto as it is read (StreamDecryptor says why not on the worker): the
 * library's STREAM runs at 165 MB/s on one thread of our build machine, node:crypto's ChaCha20-Poly1305
 * at ~1,570 MB/s (docs/benchmarks.md), and the budget is an encrypted backup at most 15 % slower than a
 * plain one: at 165 MB/s the encryption alone of a 1.3 GB data directory's backup would add ~5 s to a 6 s backup.
 * The format is the spec's, byte for byte: `age -d` reads our files and we read its.
 */

export const AGE_MAGIC = 'age-encryption.org/v1';
/** Plaintext bytes per STREAM chunk, and what each costs on disk (the Poly1305 tag). */
const CHUNK = 64 * 1024;
const TAG = 16;
const NONCE = 16;
/** age's own limit on a passphrase's scrypt work factor (2^22 needs 4 GiB). */
const MAX_SCRYPT_LOG_N = 22;
const SCRYPT_LOG_N = 18; // what `age -p` uses
const SCRYPT_LABEL = 'age-encryption.org/v1/scrypt';
/** No real header comes near this: one stanza per recipient, ~100 bytes each. */
const MAX_HEADER_BYTES = 1 << 20;

/** What a backup is encrypted to: age public keys, or one passphrase (age allows no mix). */
export type EncryptionKeys = { kind: 'recipients'; recipients: string[] } | { kind: 'passphrase'; passphrase: string };

/** What a backup is decrypted with; `source` names where the keys came from in messages (`--identity key.txt`). */
export interface DecryptionKeys {
  identities: string[];
  passphrase?: string;
  source?: string;
}

// ---- Encryption --------------------------------------------------------------------------------

/**
 * An age file being written; `headerSha256` is the SHA-256 of its header and nonce (manifest.json's
 * `age_header_sha256`), `sha256` that of the whole file, once the stream has ended.
 */
export type AgeEncryptor = Transform & { readonly headerSha256: string; readonly sha256: string };

/** A stream that turns its input into one age file. Each call makes a new file key (one per file, as age requires). */
export async function createEncryptor(keys: EncryptionKeys): Promise<AgeEncryptor> {
  let fileKey: Uint8Array | null = null;
  const encrypter = new Encrypter();
  const capture: Recipient = {
    wrapFileKey(key) {
      fileKey = key;
      return [];
    },
  };
  if (keys.kind === 'passphrase') encrypter.addRecipient(new NodeScryptRecipient(keys.passphrase));
  else {
    if (keys.recipients.length === 0) throw new EngineError('No age public key to encrypt to.', 'BAD_RECIPIENT');
    for (const recipient of keys.recipients) encrypter.addRecipient(recipient);
  }
  encrypter.addRecipient(capture); // adds no stanza: only learns the file key the header was made for
  // An empty file is the header, the 16-byte nonce and one empty final chunk (its 16-byte tag): the
  // first two are this file's, the payload is ours to write with the same nonce.
  const empty = await encrypter.encrypt(new Uint8Array(0));
  const prefix = Buffer.from(empty.subarray(0, empty.length - TAG));
  const nonce = prefix.subarray(prefix.length - NONCE);
  return new StreamEncryptor(prefix, payloadKey(fileKey!, nonce));
}

function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
}

// ---- The payload, sealed on worker threads --------------------------------------------------------

/**
 * Chunks per job: 1 MiB of plaintext, the size of the compressor's pieces and of the restore's reads.
 * Sealed on the main thread, 64 KiB at a time between the tar, the hashing and the writes, the cipher
 * added ~40 % to a backup on 2 cores (docs/benchmarks.md); in batches on a worker it runs beside them.
 */
const BATCH_CHUNKS = 16;
const BATCH_PLAIN = BATCH_CHUNKS * CHUNK;
const BATCH_SEALED = BATCH_CHUNKS * (CHUNK + TAG);
/** Batches of one stream on the workers at once, besides the one being filled: enough to keep a worker busy. */
const MAX_IN_FLIGHT = 2;
/** Batch buffers kept for reuse (they travel to a worker and back). */
const MAX_FREE_BATCHES = 8;

interface SealJob {
  key: Buffer;
  /** The index (in the file) of the batch's first chunk. */
  first: number;
  /** The batch ends the file: its final chunk carries the last-chunk flag. */
  last: boolean;
  data: ArrayBuffer;
  length: number;
  /** With a file's first batch: its header and nonce, where the file's SHA-256 starts. */
  header?: Buffer;
}

/** A batch sealed; with the file's last one, the SHA-256 of the whole file. */
interface Sealed {
  sealed: Buffer;
  sha256?: string;
}

interface WorkerSlot {
  worker: Worker;
  pending: Map<number, { resolve: (sealed: Sealed) => void; reject: (e: Error) => void }>;
  /** Files being written through this worker. */
  files: number;
  /** Why the worker stopped, once it has: its files' batches are refused (their hashes are gone with it). */
  failure: EngineError | null;
}

/**
 * The workers (age-stream-worker.mjs) every age stream of this process shares: one per core but one (the
 * main thread keeps a core for the tar and the writes), at most 4, started when first needed. Each file
 * is sealed by one worker, which also hashes it, so its batches must reach it in order. An idle worker
 * does not keep the process alive.
 */
class CipherWorkers {
  private readonly slots: WorkerSlot[] = [];
  private readonly free: ArrayBuffer[] = [];
  private readonly max = Math.max(1, Math.min(availableParallelism() - 1, 4));
  private nextId = 0;
  private nextFile = 0;

  /** A buffer to fill with one batch (BATCH_SEALED bytes: room for the tags it gains). */
  takeBatch(): Buffer {
    return Buffer.from(this.free.pop() ?? (Buffer.allocUnsafeSlow(BATCH_SEALED).buffer as ArrayBuffer));
  }

  /** A batch's buffer, once nothing reads its result any more. */
  giveBack(batch: ArrayBuffer): void {
    if (this.free.length < MAX_FREE_BATCHES) this.free.push(batch);
  }

  /** The worker that seals and hashes one file: one with no file, else a new one, else the one with fewest. */
  openFile(): { slot: WorkerSlot; file: number } {
    const slot = this.slots.find((s) => s.files === 0) ?? (this.slots.length < this.max ? this.start() : this.slots.reduce((a, b) => (b.files < a.files ? b : a)));
    slot.files++;
    return { slot, file: this.nextFile++ };
  }

  /** The file is done with; `unfinished`: given up before its last batch, so its worker drops the hash it keeps. */
  closeFile({ slot, file }: { slot: WorkerSlot; file: number }, unfinished: boolean): void {
    slot.files--;
    if (unfinished && !slot.failure) slot.worker.postMessage({ forget: file });
  }

  /** Seals a batch; its `data` is handed over to the worker, which writes the result over it and sends it back. */
  run(slot: WorkerSlot, file: number, job: SealJob): Promise<Sealed> {
    if (slot.failure) return Promise.reject(slot.failure); // a message to a stopped worker is never answered
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      if (slot.pending.size === 1) slot.worker.ref();
      slot.worker.postMessage({ id, stream: file, ...job }, [job.data]);
    });
  }

  private start(): WorkerSlot {
    const worker = new Worker(new URL('./age-stream-worker.mjs', import.meta.url));
    const slot: WorkerSlot = { worker, pending: new Map(), files: 0, failure: null };
    worker.on('message', (message: { id: number; data: ArrayBuffer; length: number; sha256?: string }) => {
      const waiting = slot.pending.get(message.id);
      slot.pending.delete(message.id);
      if (slot.pending.size === 0) worker.unref();
      waiting?.resolve({ sealed: Buffer.from(message.data, 0, message.length), ...(message.sha256 && { sha256: message.sha256 }) });
    });
    const fail = (error: Error) => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      slot.failure ??= new EngineError(`The age cipher's worker thread failed (${error.message}); nothing it was sealing was used.`, 'CRYPTO_WORKER_FAILED');
      for (const waiting of slot.pending.values()) waiting.reject(slot.failure);
      slot.pending.clear();
    };
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`exit code ${code}`)));
    worker.unref();
    this.slots.push(slot);
    return slot;
  }
}

const cipherWorkers = new CipherWorkers();

/**
 * The age file of its input: the header, then the payload, filled into batches, each sealed on its
 * file's worker, the results pushed in order, at most MAX_IN_FLIGHT batches behind.
 */
class StreamEncryptor extends Transform {
  /**
   * The SHA-256 of the header and nonce: what ties this file to the manifest.json that records it. Every
   * byte after them is authenticated by a key derived from the file key and that nonce, and the last
   * chunk is flagged (nothing may be cut or follow it), so a reader that checks this digest and opens
   * every chunk has checked the whole file without hashing it, against anyone who does not hold the file
   * key. Whoever holds it (an identity the backup is encrypted to, or its passphrase) could write another
   * payload under the same header, but could as well rewrite manifest.json, which has no MAC.
   */
  readonly headerSha256: string;
  private fileSha256: string | null = null;
  private readonly worker = cipherWorkers.openFile();
  private started = false;
  private batch: Buffer | null = null;
  private filled = 0;
  private chunksSent = 0;
  private readonly inFlight: Array<Promise<Sealed>> = [];

  constructor(
    private readonly prefix: Buffer,
    private readonly key: Buffer,
  ) {
    super({ readableHighWaterMark: BATCH_SEALED * 2 });
    this.headerSha256 = createHash('sha256').update(prefix).digest('hex');
  }

  /** The SHA-256 of the whole file, every byte this stream gave out: known once it has ended. */
  get sha256(): string {
    if (this.fileSha256 === null) throw new Error('the age file is not finished: it has no SHA-256 yet');
    return this.fileSha256;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.start();
    // Copied into batches (the caller may reuse its buffer once called back); each full one is sent once a byte follows it.
    for (let offset = 0; offset < chunk.length; ) {
      if (this.filled === BATCH_PLAIN) this.send(false);
      this.batch ??= cipherWorkers.takeBatch();
      const n = chunk.copy(this.batch, this.filled, offset, Math.min(chunk.length, offset + BATCH_PLAIN - this.filled));
      this.filled += n;
      offset += n;
    }
    written(chunk); // its bytes are copied: a pooled block behind it can be filled again
    if (this.inFlight.length <= MAX_IN_FLIGHT) return callback();
    this.drain(MAX_IN_FLIGHT).then(() => callback(), callback);
  }

  /** Sends what is left as the file's end, and pushes every result. */
  override _flush(callback: TransformCallback): void {
    this.start();
    this.send(true);
    this.drain(0).then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    cipherWorkers.closeFile(this.worker, this.fileSha256 === null);
    callback(error);
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.push(this.prefix);
  }

  private send(last: boolean): void {
    const data = (this.batch ??= cipherWorkers.takeBatch());
    const first = this.chunksSent;
    const job: SealJob = { key: this.key, first, last, data: data.buffer as ArrayBuffer, length: this.filled, ...(first === 0 && { header: this.prefix }) };
    const sealed = cipherWorkers.run(this.worker.slot, this.worker.file, job);
    sealed.catch(() => undefined); // surfaced in order by drain
    this.inFlight.push(sealed);
    this.chunksSent += Math.max(1, Math.ceil(this.filled / CHUNK));
    this.batch = null;
    this.filled = 0;
  }

  private async drain(limit: number): Promise<void> {
    while (this.inFlight.length > limit) {
      const { sealed, sha256 } = await this.inFlight.shift()!;
      if (this.destroyed) return;
      if (sha256) this.fileSha256 = sha256;
      // Written to a file by the backup, the batch's buffer is filled again once its bytes are on disk.
      onceWritten(sealed, () => cipherWorkers.giveBack(sealed.buffer as ArrayBuffer));
      this.push(sealed);
    }
  }
}

// ---- Passphrases (scrypt), through node:crypto ---------------------------------------------------

/**
 * The scrypt stanza. The library has one, but its scrypt is JavaScript on the calling thread (seconds of
 * a blocked event loop per file at age's work factor); node:crypto's runs natively on the thread pool.
 */
class NodeScryptRecipient implements Recipient {
  constructor(private readonly passphrase: string) {}

  async wrapFileKey(fileKey: Uint8Array): Promise<Stanza[]> {
    const salt = randomBytes(16);
    const key = await scryptKey(this.passphrase, salt, SCRYPT_LOG_N);
    const cipher = createCipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: TAG });
    const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
    return [new Stanza(['scrypt', salt.toString('base64').replace(/=+$/, ''), String(SCRYPT_LOG_N)], body)];
  }
}

class NodeScryptIdentity implements Identity {
  constructor(private readonly passphrase: string) {}

  async unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> {
    const stanza = stanzas.find((s) => s.args[0] === 'scrypt');
    if (!stanza) return null;
    if (stanzas.length !== 1) throw new AgeHeaderError('a passphrase stanza must be the only one in an age header');
    const [, saltText, logNText] = stanza.args;
    const salt = Buffer.from(saltText ?? '', 'base64');
    const logN = Number(logNText);
    if (stanza.args.length !== 3 || salt.length !== 16 || !/^[1-9]\d*$/.test(logNText ?? '') || stanza.body.length !== 32) throw new AgeHeaderError('its passphrase stanza is malformed');
    if (logN > MAX_SCRYPT_LOG_N) throw new AgeHeaderError(`its passphrase work factor (2^${logN}) is above age's limit (2^${MAX_SCRYPT_LOG_N})`);
    const key = await scryptKey(this.passphrase, salt, logN);
    const body = Buffer.from(stanza.body);
    const decipher = createDecipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: TAG });
    decipher.setAuthTag(body.subarray(16));
    try {
      return Buffer.concat([decipher.update(body.subarray(0, 16)), decipher.final()]);
    } catch {
      throw new WrongPassphraseError();
    }
  }
}

function scryptKey(passphrase: string, salt: Buffer, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  const options: ScryptOptions = { N, r: 8, p: 1, maxmem: 128 * N * 8 + (32 << 20) };
  return new Promise((resolve, reject) =>
    scryptCallback(Buffer.from(passphrase, 'utf8'), Buffer.concat([Buffer.from(SCRYPT_LABEL), salt]), 32, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

class WrongPassphraseError extends Error {}
class AgeHeaderError extends Error {}

// ---- Decryption --------------------------------------------------------------------------------

/**
 * A stream that turns one age file back into its plaintext. `file` names it in error messages. Every
 * failure is an EngineError: DECRYPT_NO_KEY (no key of the kind the file needs), DECRYPT_WRONG_KEY,
 * DECRYPT_NOT_AGE, DECRYPT_DAMAGED (a header MAC or a chunk's tag does not match, or the file is cut short;
 * or, given `headerSha256` (as AgeEncryptor recorded it), the header and nonce are another file's).
 */
export function createDecryptor(keys: DecryptionKeys, file: string, headerSha256?: string): Transform {
  return new StreamDecryptor(keys, file, headerSha256);
}

/**
 * Opens the payload's chunks on the calling thread as they arrive, straight from the reader's buffers,
 * into 1 MiB blocks (blocks.ts) for the decompressor. Not on a worker, as sealing is: measured on the
 * restore of the 1 GB bench fixture, the worker's round trip (each chunk copied into a batch, opened
 * into a new buffer and copied back, the batch sent across) cost 0.5–1.3 s of CPU more than opening
 * here, and 50 MB of peak RSS, and the restore's wall time did not gain from it (docs/benchmarks.md); here
 * each chunk's bytes are read once by the cipher and its plaintext copied once. A thread that read, hashed
 * and opened the file itself did no better on 2 cores either: the work moved, none was saved. One read's
 * chunks (1 MiB, well under a millisecond of CPU) are the longest the event loop waits.
 */
class StreamDecryptor extends Transform {
  private state: 'header' | 'payload' = 'header';
  /** Bytes of the header and nonce received so far. */
  private head: Buffer = Buffer.alloc(0);
  private headerBytes = 0;
  private key: Buffer | null = null;
  /** The start of a sealed chunk whose rest is still to come (and a whole one, until a byte follows it). */
  private readonly partial = Buffer.allocUnsafe(CHUNK + TAG);
  private partialBytes = 0;
  private chunksOpened = 0;
  /** The block being filled with plaintext, and how much of it is (a block is 16 chunks: a chunk's plaintext always fits whole). */
  private block: Buffer | null = null;
  private blockBytes = 0;

  constructor(
    private readonly keys: DecryptionKeys,
    private readonly file: string,
    private readonly headerSha256: string | undefined,
  ) {
    super({ readableHighWaterMark: BLOCK_BYTES * 2 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.state === 'payload') return this.openAll(chunk, callback);
    const data = this.head.length > 0 ? Buffer.concat([this.head, chunk]) : chunk;
    this.readHead(data).then(
      (offset) => {
        if (this.state === 'payload') return this.openAll(data.subarray(offset), callback);
        this.head = Buffer.from(data.subarray(offset)); // a copy: the reader reuses `chunk` once we call back
        callback();
      },
      (error: unknown) => callback(error as Error),
    );
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.state !== 'payload') throw this.damaged(headerEnd(this.head) === null ? 'it ends inside its header' : 'it ends before its payload');
      // What is left is the last chunk: it carries the flag, and only an empty file's may be empty.
      if (this.partialBytes < TAG || (this.partialBytes === TAG && this.chunksOpened > 0)) throw this.damaged('it is cut short');
      this.openChunk(this.partial.subarray(0, this.partialBytes), true);
      if (this.block) this.pushBlock();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  /** Opens every whole chunk of `data` (with the one begun before it) that a byte follows; keeps the rest. */
  private openAll(data: Buffer, callback: TransformCallback): void {
    const sealed = CHUNK + TAG;
    try {
      let offset = 0;
      if (this.partialBytes > 0) {
        offset = data.copy(this.partial, this.partialBytes, 0, sealed - this.partialBytes);
        this.partialBytes += offset;
        if (this.partialBytes === sealed && offset < data.length) {
          this.openChunk(this.partial, false);
          this.partialBytes = 0;
        }
      }
      if (this.partialBytes === 0) {
        for (; data.length - offset > sealed; offset += sealed) this.openChunk(data.subarray(offset, offset + sealed), false);
        this.partialBytes = data.copy(this.partial, 0, offset);
      }
      written(data); // its bytes are opened or copied: a pooled block behind it can be filled again
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private openChunk(sealed: Buffer, last: boolean): void {
    const index = this.chunksOpened++;
    const decipher = createDecipheriv('chacha20-poly1305', this.key!, streamNonce(index, last), { authTagLength: TAG });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    const plain = decipher.update(sealed.subarray(0, sealed.length - TAG));
    try {
      decipher.final();
    } catch {
      const at = this.headerBytes + NONCE + index * (CHUNK + TAG);
      throw this.damaged(last ? `its last chunk (from byte ${at}) does not authenticate: it was changed or cut short` : `its chunk at byte ${at} does not authenticate: it was changed`);
    }
    this.block ??= takeBlock();
    this.blockBytes += plain.copy(this.block, this.blockBytes);
    if (this.blockBytes === BLOCK_BYTES) this.pushBlock();
  }

  /** Pushes the block's plaintext; a whole block is filled again once the decompressor has read it (blocks.ts). */
  private pushBlock(): void {
    const plain = this.block!.subarray(0, this.blockBytes);
    releaseWhenWritten(plain, [plain]);
    this.push(plain);
    this.block = null;
    this.blockBytes = 0;
  }

  /**
   * Reads the header and the nonce from the start of `data` (every byte received so far); returns how
   * much of it was used, 0 while they are not all there. With a recorded digest they are checked first,
   * so another file is refused as such before any key is tried (and no passphrase's scrypt is spent).
   */
  private async readHead(data: Buffer): Promise<number> {
    const end = headerEnd(data);
    if (end === null) {
      if (!data.subarray(0, AGE_MAGIC.length).equals(Buffer.from(AGE_MAGIC).subarray(0, Math.min(data.length, AGE_MAGIC.length)))) throw this.notAge(data);
      if (data.length > MAX_HEADER_BYTES) throw this.damaged('its header never ends');
      return 0;
    }
    if (data.length < end + NONCE) return 0;
    if (this.headerSha256 !== undefined && ageHeaderSha256(data) !== this.headerSha256) {
      throw this.damaged("its header and nonce are not the ones manifest.json records: it is another age file (another backup's, perhaps) put in its place");
    }
    const fileKey = await unwrapHeader(data.subarray(0, end), this.keys, this.file);
    this.key = payloadKey(fileKey, data.subarray(end, end + NONCE));
    this.headerBytes = end;
    this.state = 'payload';
    return end + NONCE;
  }

  private damaged(why: string): EngineError {
    return damaged(this.file, why);
  }

  private notAge(start: Buffer): EngineError {
    return notAge(this.file, start);
  }
}

function damaged(file: string, why: string): EngineError {
  return new EngineError(`${file} is damaged: ${why}. Its contents cannot be trusted and were not used.`, 'DECRYPT_DAMAGED');
}

function notAge(file: string, start: Buffer): EngineError {
  const armored = start.toString('latin1').startsWith('-----BEGIN AGE');
  return new EngineError(
    armored ? `${file} is an ASCII-armored age file; backups are binary age files. Dearmor it first (age -d).` : `${file} is not an age-encrypted file (it does not start with "${AGE_MAGIC}").`,
    'DECRYPT_NOT_AGE',
  );
}

/** The file key of an age header (through its MAC line), checked against the header MAC; EngineErrors as createDecryptor's. */
async function unwrapHeader(header: Buffer, keys: DecryptionKeys, file: string): Promise<Uint8Array> {
  const text = header.toString('latin1');
  if (!text.startsWith(`${AGE_MAGIC}\n`)) throw notAge(file, header);
  const types = [...text.matchAll(/^-> (\S+)/gm)].map((m) => m[1]!);
  const decrypter = new Decrypter();
  for (const identity of keys.identities) decrypter.addIdentity(identity);
  if (keys.passphrase !== undefined) decrypter.addIdentity(new NodeScryptIdentity(keys.passphrase));
  try {
    return await decrypter.decryptHeader(header);
  } catch (error) {
    throw unwrapFailure(error as Error, types, keys, file);
  }
}

function unwrapFailure(error: Error, types: string[], keys: DecryptionKeys, file: string): EngineError {
  const from = keys.source ? ` (${keys.source})` : '';
  if (error instanceof WrongPassphraseError) return new EngineError(`Cannot decrypt ${file}: wrong passphrase${from}. Nothing was changed.`, 'DECRYPT_WRONG_KEY');
  if (error instanceof AgeHeaderError) return damaged(file, error.message);
  if (/HMAC/i.test(error.message)) return damaged(file, 'its header was changed (the header MAC does not match)');
  if (!/no identity matched/.test(error.message)) return damaged(file, `its header cannot be read (${error.message})`);
  const known = types.filter((t) => t === 'X25519' || t === 'scrypt');
  if (known.length === 0) {
    return new EngineError(`Cannot decrypt ${file}: it is encrypted to a kind of recipient this tool cannot read (${[...new Set(types)].join(', ') || 'none'}). Decrypt it with the tool that made it. Nothing was changed.`, 'DECRYPT_UNKNOWN_RECIPIENT');
  }
  if (types.includes('scrypt')) {
    return keys.passphrase === undefined
      ? new EngineError(`${file} is encrypted with a passphrase, not to a key: give the passphrase with --passphrase-file FILE. Nothing was changed.`, 'DECRYPT_NO_KEY')
      : new EngineError(`Cannot decrypt ${file}: wrong passphrase${from}. Nothing was changed.`, 'DECRYPT_WRONG_KEY');
  }
  if (keys.identities.length === 0) {
    return new EngineError(`${file} is encrypted to age public keys, not with a passphrase: give the identity file (AGE-SECRET-KEY-1…) with --identity FILE. Nothing was changed.`, 'DECRYPT_NO_KEY');
  }
  return new EngineError(`Cannot decrypt ${file}: the identity given${from} is not one it was encrypted to (wrong key). Nothing was changed.`, 'DECRYPT_WRONG_KEY');
}

/**
 * Whether `keys` open the age file `file`: reads only its header and checks its MAC. Throws the
 * EngineErrors of createDecryptor (no key of the right kind, wrong key, damaged header, not age).
 */
export async function checkKeysOpen(file: string, keys: DecryptionKeys): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const data = head.subarray(0, bytesRead);
    const end = headerEnd(data);
    if (end === null) throw data.subarray(0, AGE_MAGIC.length).toString('latin1') === AGE_MAGIC ? damaged(file, 'its header never ends') : notAge(file, data);
    await unwrapHeader(data.subarray(0, end), keys, file);
  } finally {
    await handle.close();
  }
}

/** Bytes an age file's header and nonce may take at most: past them, `ageHeaderSha256` of its start stays null. */
export const MAX_AGE_HEAD_BYTES = MAX_HEADER_BYTES + NONCE;

/**
 * The SHA-256 of the header and nonce that `start` (an age file's first bytes) begins with, as
 * AgeEncryptor records it; null while `start` does not hold them whole.
 */
export function ageHeaderSha256(start: Buffer): string | null {
  const end = headerEnd(start);
  return end === null || start.length < end + NONCE ? null : createHash('sha256').update(start.subarray(0, end + NONCE)).digest('hex');
}

/** The length of the header (through the MAC line's newline), or null when `data` does not hold all of it yet. */
function headerEnd(data: Buffer): number | null {
  const mac = data.indexOf('\n---');
  if (mac < 0) return null;
  const newline = data.indexOf(0x0a, mac + 1);
  return newline < 0 ? null : newline + 1;
}
