import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { EngineError } from '../engine/errors.js';
import { writeFileAtomic } from './settings-store.js';

/**
 * Secrets the app must remember (an S3 secret access key, an SFTP password, a backup passphrase), kept
 * apart from settings.json and targets.json and never sent to the window. Names are the caller's, such as
 * `target:offsite-b2:secretAccessKey`.
 */
export interface SecretStore {
  /** null when nothing is stored under `name`. */
  get(name: string): Promise<string | null>;
  /** Throws a KeychainError, saying why and what to do, when secrets cannot be kept safely here. */
  set(name: string, value: string): Promise<void>;
  /** Nothing to delete is not an error. */
  delete(name: string): Promise<void>;
}

/** A secret that cannot be stored or read back; the message is the user's to read. */
export class KeychainError extends EngineError {
  constructor(message: string) {
    super(message, 'KEYCHAIN');
  }
}

/** Encryption by the operating system's keychain (Electron's safeStorage implements it in electron/keychain.ts). */
export interface SecretCipher {
  /** Why nothing can be encrypted now (no keychain, or one that would only obfuscate), or null when it can. */
  unavailableReason(): Promise<string | null>;
  encrypt(plain: string): Promise<Buffer>;
  decrypt(encrypted: Buffer): Promise<string>;
}

export const SECRETS_FILE = 'secrets.json';

const secretName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9:._-]{0,199}$/);
/** The file: each secret's ciphertext in base64. */
const secretsFileSchema = z.object({ version: z.literal(1), secrets: z.record(z.string(), z.base64()) });

function checkName(name: string): void {
  if (!secretName.safeParse(name).success) throw new KeychainError(`"${name}" is not a usable secret name.`);
}

/**
 * Secrets encrypted by a SecretCipher, stored as ciphertext in `secrets.json` (0600, written atomically)
 * in the user-data folder. Without a working cipher nothing is stored: a secret is never written as plain text.
 */
export class FileSecretStore implements SecretStore {
  readonly file: string;

  constructor(
    userDataDir: string,
    private readonly cipher: SecretCipher,
  ) {
    this.file = path.join(userDataDir, SECRETS_FILE);
  }

  async get(name: string): Promise<string | null> {
    checkName(name);
    const stored = (await this.read())[name];
    if (stored === undefined) return null;
    await this.requireCipher('read');
    try {
      return await this.cipher.decrypt(Buffer.from(stored, 'base64'));
    } catch {
      throw new KeychainError(
        `The saved secret ${name} in ${this.file} cannot be decrypted by this computer's keychain (it was saved by another user or machine, or the keychain was reset). Enter it again.`,
      );
    }
  }

  async set(name: string, value: string): Promise<void> {
    checkName(name);
    await this.requireCipher('save');
    const secrets = await this.read();
    secrets[name] = (await this.cipher.encrypt(value)).toString('base64');
    await this.write(secrets);
  }

  async delete(name: string): Promise<void> {
    checkName(name);
    const secrets = await this.read();
    if (!(name in secrets)) return;
    delete secrets[name];
    await this.write(secrets);
  }

  private async requireCipher(what: 'save' | 'read'): Promise<void> {
    const reason = await this.cipher.unavailableReason();
    if (reason) throw new KeychainError(`Cannot ${what} the secret: ${reason}`);
  }

  private async read(): Promise<Record<string, string>> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new KeychainError(`Cannot read the saved secrets in ${this.file} (${(error as NodeJS.ErrnoException).code}).`);
    }
    let parsed;
    try {
      parsed = secretsFileSchema.safeParse(JSON.parse(text));
    } catch {
      parsed = null;
    }
    if (!parsed?.success) throw new KeychainError(`The saved secrets in ${this.file} are damaged. Delete the file and enter the passwords and keys it held again.`);
    return { ...parsed.data.secrets };
  }

  private async write(secrets: Record<string, string>): Promise<void> {
    await writeFileAtomic(this.file, `${JSON.stringify({ version: 1, secrets }, null, 2)}\n`);
  }
}

/** Secrets held in memory only, for tests and the test-only bridge (see headlessSecretStore). */
export class MemorySecretStore implements SecretStore {
  readonly secrets = new Map<string, string>();
  async get(name: string): Promise<string | null> {
    checkName(name);
    return this.secrets.get(name) ?? null;
  }
  async set(name: string, value: string): Promise<void> {
    checkName(name);
    this.secrets.set(name, value);
  }
  async delete(name: string): Promise<void> {
    this.secrets.delete(name);
  }
}

/** Refuses to keep anything: where there is no keychain. Reading finds nothing. */
export class UnavailableSecretStore implements SecretStore {
  constructor(private readonly reason: string) {}
  async get(name: string): Promise<string | null> {
    checkName(name);
    return null;
  }
  async set(): Promise<void> {
    throw new KeychainError(`Cannot save the secret: ${this.reason}`);
  }
  async delete(): Promise<void> {}
}

/**
 * `aurora-backup serve` has no keychain (no desktop session to unlock one), so it keeps no secret: S3
 * keys come from the environment or a credentials file there. AURORA_TEST_SECRETS=memory (tests only)
 * keeps them in memory for the life of the process.
 */
export function headlessSecretStore(env: NodeJS.ProcessEnv = process.env): SecretStore {
  if (env.AURORA_TEST_SECRETS === 'memory') return new MemorySecretStore();
  return new UnavailableSecretStore(
    'this server has no keychain to keep it in. Give S3 keys through AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a credentials file profile, and an SFTP key file instead of a password.',
  );
}
