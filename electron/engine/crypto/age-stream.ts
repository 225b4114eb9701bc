import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt as scryptCallback, type ScryptOptions } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { Decrypter, Encrypter, Stanza, type Identity, type Recipient } from 'age-encryption';
import { written } from '../blocks.js';
import { EngineError } from '../errors.js';

/**
 * age (age-encryption.org/v1) files, streamed.
 *
 * The header — the recipient stanzas (X25519 from the library; scrypt below), the file key and the
 * header MAC — is made and checked by the `age-encryption` library (typage). The payload, a
 * ChaCha20-Poly1305 STREAM of 64 KiB chunks, is encrypted here with node:crypto: the library's STREAM
 * runs at 165 MB/s on one thread of our build machine, node:crypto's ChaCha20-Poly1305 at ~1,570 MB/s
 * (docs/benchmarks.md), and the budget is an encrypted backup at most 15 % slower than a plain one: at
 * 165 MB/s the encryption alone of a 1.3 GB data directory's backup would add ~5 s to a 6 s backup.
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

/** A stream that turns its input into one age file. Each call makes a new file key (one per file, as age requires). */
export async function createEncryptor(keys: EncryptionKeys): Promise<Transform> {
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

/** The 12-byte STREAM nonce: an 11-byte big-endian chunk counter and a last-chunk flag. */
class ChunkNonce {
  readonly bytes = Buffer.alloc(12);
  index = 0;

  next(): void {
    this.index++;
    for (let i = 10; i >= 0; i--) if (++this.bytes[i]! !== 256) break;
  }
}

class StreamEncryptor extends Transform {
  /** The chunk being filled, copied out of the input: the writer may reuse its buffers once we call back. */
  private readonly pending = Buffer.allocUnsafe(CHUNK);
  private filled = 0;
  private readonly nonce = new ChunkNonce();
  private started = false;

  constructor(
    private readonly prefix: Buffer,
    private readonly key: Buffer,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.start();
    let offset = 0;
    // A full chunk is sealed only once a byte after it has arrived: the last chunk carries the flag.
    while (offset < chunk.length) {
      if (this.filled === CHUNK) {
        this.push(this.seal(this.pending, false));
        this.filled = 0;
      }
      if (this.filled === 0 && chunk.length - offset > CHUNK) {
        this.push(this.seal(chunk.subarray(offset, offset + CHUNK), false)); // straight from the input, no copy
        offset += CHUNK;
        continue;
      }
      const n = chunk.copy(this.pending, this.filled, offset, Math.min(chunk.length, offset + CHUNK - this.filled));
      this.filled += n;
      offset += n;
    }
    written(chunk); // its bytes are sealed or copied: a pooled block behind it can be filled again
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.start();
    this.push(this.seal(this.pending.subarray(0, this.filled), true));
    callback();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.push(this.prefix);
  }

  private seal(plain: Buffer, last: boolean): Buffer {
    if (last) this.nonce.bytes[11] = 1;
    const cipher = createCipheriv('chacha20-poly1305', this.key, this.nonce.bytes, { authTagLength: TAG });
    const out = Buffer.allocUnsafe(plain.length + TAG);
    const body = cipher.update(plain);
    body.copy(out, 0);
    cipher.final();
    cipher.getAuthTag().copy(out, plain.length);
    this.nonce.next();
    return out;
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
 * DECRYPT_NOT_AGE, DECRYPT_DAMAGED (a header MAC or a chunk's tag does not match, or the file is cut short).
 */
export function createDecryptor(keys: DecryptionKeys, file: string): Transform {
  return new StreamDecryptor(keys, file);
}

class StreamDecryptor extends Transform {
  private state: 'header' | 'nonce' | 'payload' = 'header';
  private rest: Buffer = Buffer.alloc(0);
  private key: Buffer | null = null;
  private fileKey: Uint8Array | null = null;
  private headerBytes = 0;
  private readonly nonce = new ChunkNonce();

  constructor(
    private readonly keys: DecryptionKeys,
    private readonly file: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    this.consume(data).then(
      (offset) => {
        this.rest = Buffer.from(data.subarray(offset)); // a copy: the reader reuses `chunk` once we call back
        callback();
      },
      (error: unknown) => callback(error as Error),
    );
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.state !== 'payload') throw this.damaged(this.state === 'header' ? 'it ends inside its header' : 'it ends before its payload');
      // What is left is the last chunk: it carries the flag, and only an empty file's may be empty.
      if (this.rest.length < TAG || (this.rest.length === TAG && this.nonce.index > 0)) throw this.damaged('it is cut short');
      this.push(this.open(this.rest, true));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  /** Handles what it can of `data`; returns how much of it was used. */
  private async consume(data: Buffer): Promise<number> {
    let offset = 0;
    if (this.state === 'header') {
      const end = headerEnd(data);
      if (end === null) {
        if (!data.subarray(0, AGE_MAGIC.length).equals(Buffer.from(AGE_MAGIC).subarray(0, Math.min(data.length, AGE_MAGIC.length)))) throw this.notAge(data);
        if (data.length > MAX_HEADER_BYTES) throw this.damaged('its header never ends');
        return 0;
      }
      await this.unwrap(data.subarray(0, end));
      this.headerBytes = end;
      offset = end;
      this.state = 'nonce';
    }
    if (this.state === 'nonce') {
      if (data.length - offset < NONCE) return offset;
      this.key = payloadKey(this.fileKey!, data.subarray(offset, offset + NONCE));
      offset += NONCE;
      this.state = 'payload';
    }
    // Only a chunk followed by more bytes is known not to be the last.
    while (data.length - offset > CHUNK + TAG) {
      this.push(this.open(data.subarray(offset, offset + CHUNK + TAG), false));
      offset += CHUNK + TAG;
    }
    return offset;
  }

  private async unwrap(header: Buffer): Promise<void> {
    this.fileKey = await unwrapHeader(header, this.keys, this.file);
  }

  private open(sealed: Buffer, last: boolean): Buffer {
    if (last) this.nonce.bytes[11] = 1;
    const decipher = createDecipheriv('chacha20-poly1305', this.key!, this.nonce.bytes, { authTagLength: TAG });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG)), decipher.final()]);
    } catch {
      const at = this.headerBytes + NONCE + this.nonce.index * (CHUNK + TAG);
      throw this.damaged(last ? `its last chunk (from byte ${at}) does not authenticate: it was changed or cut short` : `its chunk at byte ${at} does not authenticate: it was changed`);
    }
    this.nonce.next();
    return plain;
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

/** The length of the header (through the MAC line's newline), or null when `data` does not hold all of it yet. */
function headerEnd(data: Buffer): number | null {
  const mac = data.indexOf('\n---');
  if (mac < 0) return null;
  const newline = data.indexOf(0x0a, mac + 1);
  return newline < 0 ? null : newline + 1;
}
