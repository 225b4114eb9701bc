import path from 'node:path';
import * as streams from 'node:stream';
import type { Duplex, Transform } from 'node:stream';
import type { Compression } from '../../../shared/components.js';
import type { BackupFile, BackupFolder } from '../backup-folder.js';
import { written } from '../blocks.js';
import { decompressor } from '../compress.js';
import { EngineError } from '../errors.js';
import { checkKeysOpen, createDecryptor, type DecryptionKeys } from './age-stream.js';
import { readIdentityFile, readPassphraseFile } from './keys.js';

/** stream.compose (Node 16.9 and later): one Duplex of several, errors and destruction passed along; @types/node lacks it. */
const compose = (streams as unknown as { compose: (...parts: Duplex[]) => Duplex }).compose;

/** The keys given as `--identity FILE` (repeatable) and `--passphrase-file FILE`; undefined when neither was. */
export async function decryptionKeysFrom(identityFiles: string[], passphraseFile: string | undefined): Promise<DecryptionKeys | undefined> {
  if (identityFiles.length === 0 && passphraseFile === undefined) return undefined;
  const identities: string[] = [];
  for (const file of identityFiles) identities.push(...(await readIdentityFile(file)));
  const sources = [...identityFiles.map((f) => `--identity ${f}`), ...(passphraseFile === undefined ? [] : [`--passphrase-file ${passphraseFile}`])];
  return { identities, ...(passphraseFile !== undefined && { passphrase: await readPassphraseFile(passphraseFile) }), source: sources.join(', ') };
}

/**
 * Reads one stored file back: decrypts it first when the manifest `stored` it as an age file (checking
 * its header digest when one is recorded), then decompresses. `file` is the file's full path, for messages.
 */
export function fileDecoder(file: string, compression: Compression, stored: Pick<BackupFile, 'encrypted' | 'ageHeaderSha256'>, keys: DecryptionKeys | undefined): Duplex {
  if (stored.encrypted !== true) return decompressor(compression);
  if (!keys) throw new EngineError(`${file} is encrypted: give its identity file with --identity FILE, or its passphrase with --passphrase-file FILE.`, 'DECRYPT_NO_KEY');
  return compose(createDecryptor(keys, file, stored.ageHeaderSha256), compression === 'none' ? decompressor(compression) : releasingInput(decompressor(compression)));
}

/**
 * A zlib or zstd decompressor that tells (blocks.ts `written`) once it has read each input buffer, so the
 * decryptor fills that buffer again instead of allocating one per 1 MiB (page faults, collections). zlib is
 * done with a chunk when it calls back `_transform`; a pass-through (no compression) is not: it hands the
 * chunk on, and is not wrapped.
 */
function releasingInput(stream: Transform): Transform {
  const transform = stream._transform.bind(stream);
  stream._transform = (chunk: Buffer, encoding, callback) =>
    transform(chunk, encoding, (error, data) => {
      written(chunk);
      callback(error, data);
    });
  return stream;
}

/** Whether any file of `backup` is encrypted. */
export const isEncrypted = (backup: Pick<BackupFolder, 'files'>) => backup.files.some((f) => f.encrypted === true);

/**
 * Before reading an encrypted backup's contents: the keys must open it. Checks the header of each
 * encrypted file until one is readable, so a wrong or missing key is said once, plainly, before any work
 * (and before a restore changes anything); a file whose header is damaged is left to the per-file checks.
 */
export async function assertKeysOpenBackup(backup: Pick<BackupFolder, 'path' | 'files' | 'manifest'>, keys: DecryptionKeys | undefined, files: BackupFile[] = backup.files): Promise<void> {
  const encrypted = files.filter((f) => f.encrypted === true);
  if (encrypted.length === 0) return;
  const encryption = backup.manifest?.aurora_backup.encryption;
  if (!keys) {
    throw new EngineError(
      encryption?.mode === 'passphrase'
        ? `${backup.path} is encrypted with a passphrase: give it with --passphrase-file FILE (a file whose first line is the passphrase). Nothing was changed.`
        : `${backup.path} is encrypted to ${describeRecipients(encryption?.recipients ?? [])}: give the matching identity file (AGE-SECRET-KEY-1…) with --identity FILE. Nothing was changed.`,
      'DECRYPT_NO_KEY',
    );
  }
  for (const file of encrypted) {
    try {
      await checkKeysOpen(path.join(backup.path, file.path), keys);
      return;
    } catch (error) {
      const code = (error as EngineError).code;
      if (code === 'DECRYPT_DAMAGED' || code === 'DECRYPT_NOT_AGE' || code === 'ENOENT') continue;
      if (code === 'DECRYPT_WRONG_KEY' && encryption?.mode === 'recipients') {
        throw new EngineError(`${(error as Error).message.replace(/ Nothing was changed\.$/, '')} The backup is encrypted to ${describeRecipients(encryption.recipients)}. Nothing was changed.`, code);
      }
      throw error;
    }
  }
}

function describeRecipients(recipients: string[]): string {
  if (recipients.length === 0) return 'age public keys';
  return recipients.length === 1 ? `the age public key ${recipients[0]}` : `the age public keys ${recipients.join(', ')}`;
}
