import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DecryptionInput } from '../../shared/api.js';
import type { EncryptionMode } from '../../shared/encryption.js';
import type { Settings } from '../../shared/settings.js';
import { IDENTITY_PREFIX, readIdentityFile, recipientProblem, type DecryptionKeys, type EncryptionKeys, type KeyPair } from '../engine/crypto/index.js';
import { identityFileText } from '../engine/crypto/index.js';
import { EngineError } from '../engine/errors.js';
import type { SecretStore } from './secret-store.js';
import { writeFileAtomic } from './settings-store.js';

/** The keychain entry of the backup passphrase (never in settings.json, never sent to the window). */
export const PASSPHRASE_SECRET = 'backup:passphrase';
/** Identities the user asked the app to keep, one a line (age's identity file format), 0600 in the user-data folder. */
export const KEPT_IDENTITIES_FILE = 'backup-identities.txt';

export function encryptionMode(encryption: Settings['encryption']): EncryptionMode | 'off' {
  if (encryption.passphrase) return 'passphrase';
  return encryption.recipients.length > 0 ? 'recipients' : 'off';
}

/** Pasted public keys, trimmed, blank lines and duplicates left out; the first bad one is refused by its position and why. */
export function parseRecipients(pasted: string[]): { ok: true; recipients: string[] } | { ok: false; error: string } {
  const recipients = [...new Set(pasted.map((r) => r.trim()).filter(Boolean))];
  if (recipients.length === 0) return { ok: false, error: 'Paste at least one age public key (age1…).' };
  for (const [i, recipient] of recipients.entries()) {
    const problem = recipientProblem(recipient);
    if (problem) return { ok: false, error: `${recipients.length > 1 ? `Public key ${i + 1}: ` : ''}${problem}.` };
  }
  return { ok: true, recipients };
}

/**
 * Writes a new identity file where the user chose, 0600, as age-keygen would. Never over an existing file:
 * that file may be the only key to older backups.
 */
export async function writeIdentityFile(file: string, pair: KeyPair, now: Date): Promise<void> {
  try {
    await writeFile(file, identityFileText(pair, now), { mode: 0o600, flag: 'wx', flush: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new EngineError(`${file} already exists. Choose another name: that file may be the only key to other backups, so it is not overwritten.`, 'IDENTITY_EXISTS');
    }
    throw new EngineError(`Cannot save the identity file ${file} (${code ?? (error as Error).message}). Choose a folder you can write to.`, 'IDENTITY_WRITE');
  }
}

/** Adds an identity to the app's kept identities (only when the user asked for a copy in the app). */
export async function keepIdentity(userDataDir: string, pair: KeyPair, now: Date): Promise<string> {
  const file = path.join(userDataDir, KEPT_IDENTITIES_FILE);
  const before = await readFile(file, 'utf8').catch(() => '');
  await writeFileAtomic(file, `${before}${identityFileText(pair, now)}`);
  return file;
}

/** What the app's backups are encrypted with, from the settings and the keychain; null when encryption is off. */
export async function encryptionKeys(encryption: Settings['encryption'], secrets: SecretStore): Promise<EncryptionKeys | null> {
  const mode = encryptionMode(encryption);
  if (mode === 'off') return null;
  if (mode === 'recipients') return { kind: 'recipients', recipients: encryption.recipients };
  const passphrase = await secrets.get(PASSPHRASE_SECRET);
  if (!passphrase) {
    throw new EngineError(
      "Backups are set to be encrypted with a passphrase, but it is not in this computer's keychain. Enter it again in Settings → Encryption; nothing was backed up unencrypted.",
      'NO_PASSPHRASE',
    );
  }
  return { kind: 'passphrase', passphrase };
}

/** The keys a restore of an encrypted backup gets: an identity file, a typed passphrase, or what the app remembers. */
export async function decryptionKeys(input: DecryptionInput, secrets: SecretStore, userDataDir: string): Promise<DecryptionKeys> {
  if ('identityPath' in input) return { identities: await readIdentityFile(input.identityPath), source: input.identityPath };
  if ('passphrase' in input) return { identities: [], passphrase: input.passphrase, source: 'the passphrase given' };
  const kept = await readKeptIdentities(userDataDir);
  const passphrase = (await secrets.get(PASSPHRASE_SECRET)) ?? undefined;
  if (kept.length === 0 && !passphrase) {
    throw new EngineError('The app remembers no passphrase and keeps no identity: choose the identity file or type the passphrase.', 'BAD_IDENTITY');
  }
  return { identities: kept, ...(passphrase && { passphrase }), source: "the app's remembered keys" };
}

async function readKeptIdentities(userDataDir: string): Promise<string[]> {
  const file = path.join(userDataDir, KEPT_IDENTITIES_FILE);
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) return [];
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.startsWith(IDENTITY_PREFIX));
}

export async function keptIdentitiesFile(userDataDir: string): Promise<string | null> {
  const file = path.join(userDataDir, KEPT_IDENTITIES_FILE);
  return (await readKeptIdentities(userDataDir)).length > 0 ? file : null;
}
