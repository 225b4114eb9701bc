import { Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { AGE_RECIPIENT_PATTERN } from '../../../shared/encryption.js';
import { EngineError, readUserFile } from '../errors.js';

/**
 * age keys as text: an identity `AGE-SECRET-KEY-1…` (the private key, kept off the server) and its
 * recipient `age1…` (the public key a backup is encrypted to). Only X25519 keys: the post-quantum and
 * tag kinds the library also knows are not read by the `age` CLI of Debian 12, and every backup must
 * decrypt with it.
 */
export const RECIPIENT_PATTERN = AGE_RECIPIENT_PATTERN;
export const IDENTITY_PREFIX = 'AGE-SECRET-KEY-1';

export interface KeyPair {
  /** `AGE-SECRET-KEY-1…`: decrypts the backups. */
  identity: string;
  /** `age1…`: what backups are encrypted to. */
  recipient: string;
}

/** A new X25519 key pair, as `age-keygen` makes. */
export async function generateKeyPair(): Promise<KeyPair> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await recipientOf(identity) };
}

/** The public key (`age1…`) of an identity (`AGE-SECRET-KEY-1…`); throws EngineError on anything else. */
export async function recipientOf(identity: string): Promise<string> {
  if (!identity.startsWith(IDENTITY_PREFIX)) throw new EngineError(`Not an age identity: it should start with ${IDENTITY_PREFIX}.`, 'BAD_IDENTITY');
  try {
    return await identityToRecipient(identity);
  } catch {
    throw new EngineError(`Not a valid age identity: its checksum or length is wrong. Copy the whole ${IDENTITY_PREFIX}… line again.`, 'BAD_IDENTITY');
  }
}

/** The text of an identity file, in age-keygen's format (`age -d -i FILE` reads it). */
export function identityFileText(pair: KeyPair, createdAt = new Date()): string {
  return `# created: ${createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}\n# public key: ${pair.recipient}\n${pair.identity}\n`;
}

const isSecretKey = (text: string) => text.toUpperCase().startsWith(IDENTITY_PREFIX);

/** A key written out (a public one, or by mistake an SSH or a secret key) rather than the name of a file of them. */
export const isKeyText = (text: string) => text.startsWith('age1') || text.startsWith('ssh-') || isSecretKey(text);

/** Why `text` is not an X25519 recipient, or null when it is one. */
export function recipientProblem(text: string): string | null {
  // Not repeated: messages reach logs, the terminal and cron mail.
  if (isSecretKey(text)) {
    return `An age secret key (${IDENTITY_PREFIX}…, not repeated here) was given where the public key belongs. A backup needs only the public key (age1…), which \`age-keygen -y key.txt\` prints; keep the secret key off the machine being backed up`;
  }
  // Their prefix is `age1pq1`/`age1tag1`: an X25519 key's data never holds a second `1`, but may start with pq.
  if (/^age1(pq|tag)1/.test(text)) return `${text.slice(0, 12)}… is a post-quantum or tag recipient, which the age tool of most systems cannot decrypt yet; use an X25519 key (age-keygen makes one)`;
  if (text.startsWith('ssh-')) return `${text.slice(0, 12)}… is an SSH key; use an age key (age-keygen makes one)`;
  if (!text.startsWith('age1')) return `"${text.length > 24 ? `${text.slice(0, 24)}…` : text}" is not an age public key (age1…)`;
  if (!RECIPIENT_PATTERN.test(text)) return `${text.slice(0, 12)}… is not a valid age public key: it should be age1 followed by 58 letters and digits`;
  try {
    new Encrypter().addRecipient(text); // the library checks the bech32 checksum
  } catch {
    return `${text.slice(0, 12)}… is not a valid age public key: its checksum is wrong (a character mistyped?)`;
  }
  return null;
}

/**
 * Recipients from the command line or the settings: each value is a public key (`age1…`), or a file of
 * them, one a line, `#` comments allowed (age's `-R` format; an identity file's `# public key:` line counts
 * too, so the file age-keygen wrote can be given). Returns the keys, without duplicates.
 */
export async function resolveRecipients(values: string[], onIdentityFile?: (file: string) => void): Promise<string[]> {
  const out: string[] = [];
  for (const raw of values.map((v) => v.trim()).filter(Boolean)) {
    if (isKeyText(raw)) {
      const problem = recipientProblem(raw);
      if (problem) throw new EngineError(`Cannot encrypt: ${problem}.`, 'BAD_RECIPIENT');
      out.push(raw);
      continue;
    }
    const text = await readUserFile(raw, 'recipients file', 'BAD_RECIPIENT', 'Give an age public key (age1…) or a file of them, one a line.');
    const found: string[] = [];
    for (const [i, line] of text.split(/\r?\n/).entries()) {
      const publicKeyComment = /^#\s*public key:\s*(\S+)/.exec(line);
      const value = publicKeyComment ? publicKeyComment[1]! : line.trim();
      if (value === '' || (value.startsWith('#') && !publicKeyComment)) continue;
      if (value.startsWith(IDENTITY_PREFIX)) continue; // an identity file: its public key comes from its comment
      const problem = recipientProblem(value);
      if (problem) throw new EngineError(`${raw}, line ${i + 1}: ${problem}.`, 'BAD_RECIPIENT');
      found.push(value);
    }
    if (found.length === 0) throw new EngineError(`${raw} holds no age public key (age1…, one a line).`, 'BAD_RECIPIENT');
    if (text.includes(IDENTITY_PREFIX)) onIdentityFile?.(raw);
    out.push(...found);
  }
  return [...new Set(out)];
}

/** The identities (`AGE-SECRET-KEY-1…`) of an identity file as age-keygen writes it; comments and blank lines skipped. */
export async function readIdentityFile(file: string): Promise<string[]> {
  const text = await readUserFile(file, 'identity file', 'BAD_IDENTITY', 'Give the file age-keygen (or the app) wrote, holding AGE-SECRET-KEY-1….');
  if (text.startsWith('age-encryption.org/v1') || text.startsWith('-----BEGIN AGE ENCRYPTED FILE-----')) {
    throw new EngineError(`${file} is a passphrase-protected identity file; decrypt it first (age -d ${file} > key.txt) and give that.`, 'BAD_IDENTITY');
  }
  const identities: string[] = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    const value = line.trim();
    if (value === '' || value.startsWith('#')) continue;
    if (value.startsWith('age1')) throw new EngineError(`${file}, line ${i + 1}: this is a public key (age1…); decrypting needs the identity (AGE-SECRET-KEY-1…) it belongs to.`, 'BAD_IDENTITY');
    if (!value.startsWith(IDENTITY_PREFIX)) throw new EngineError(`${file}, line ${i + 1}: not an age identity (it should start with ${IDENTITY_PREFIX}).`, 'BAD_IDENTITY');
    try {
      await recipientOf(value);
    } catch (error) {
      throw new EngineError(`${file}, line ${i + 1}: ${(error as Error).message}`, 'BAD_IDENTITY');
    }
    identities.push(value);
  }
  if (identities.length === 0) throw new EngineError(`${file} holds no age identity (AGE-SECRET-KEY-1…).`, 'BAD_IDENTITY');
  return identities;
}

/** A passphrase file: its first line, without the line break. Empty is refused. */
export async function readPassphraseFile(file: string): Promise<string> {
  const text = await readUserFile(file, 'passphrase file', 'BAD_PASSPHRASE', 'Give a file whose first line is the passphrase.');
  const passphrase = text.split(/\r?\n/)[0] ?? '';
  if (passphrase === '') throw new EngineError(`The passphrase file ${file} is empty: its first line is the passphrase.`, 'BAD_PASSPHRASE');
  return passphrase;
}
