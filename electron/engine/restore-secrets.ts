import { createHash } from 'node:crypto';
import { chmod, lchown, mkdtemp, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CHECKSUM_PROBLEM, type BackupFile, type BackupFolder } from './backup-folder.js';
import { parseEnvFile } from './config.js';
import type { DecryptionKeys } from './crypto/age-stream.js';
import { EngineError } from './errors.js';
import { safeExtract } from './safe-extract.js';

/** The settings that say which PDS a configuration belongs to (the guide's "update configuration" step for a new server). */
const IDENTITY_SETTINGS = ['PDS_HOSTNAME', 'PDS_SERVICE_DID'] as const;

export interface ConfigDifference {
  /** The configuration file the restore would replace. */
  target: string;
  /** Setting → [now, in the backup]. */
  differences: Array<{ name: (typeof IDENTITY_SETTINGS)[number]; now: string; backup: string }>;
}

/** What to do with a configuration file that belongs to another hostname or service DID than the backup's. */
export type ConfigChoice = 'overwrite' | 'keep';

export interface SecretsToRestore {
  /** Where the PDS's configuration goes: the target's own pds.env/.env, else `<data>/<name in the backup>`. */
  target: string;
  content: Buffer;
  /** The target holds a configuration with other contents; it is kept beside it (`….before-restore`). */
  replaces: boolean;
  /** Set when the target's hostname or service DID differ from the backup's and the user kept theirs. */
  kept: boolean;
}

/**
 * Reads the configuration from the backup's secrets component before anything is changed (null when it holds none): decrypted and unpacked (under the
 * same rules for hostile entries as any archive, its SHA-256 checked as it is read) into a private
 * temporary folder, then held in memory (a configuration file is a few KiB). Decides where it goes and,
 * when the configuration there names another hostname or service DID, asks `choose` (the CLI's prompt
 * or flag); without an answer it refuses, naming the flags.
 */
export async function readSecrets(
  backup: BackupFolder,
  file: BackupFile,
  opts: { dataDir: string; envFile: string | null; decryption?: DecryptionKeys; choose?: (difference: ConfigDifference) => Promise<ConfigChoice | undefined> },
): Promise<SecretsToRestore | null> {
  const archive = path.join(backup.path, file.path);
  const temp = await mkdtemp(path.join(os.tmpdir(), 'aurora-secrets-'));
  let name: string;
  let content: Buffer;
  try {
    const hash = createHash('sha256');
    const dest = path.join(temp, 'secrets');
    await safeExtract({
      archive,
      compression: backup.compression,
      encrypted: file.encrypted === true,
      decryption: opts.decryption,
      topDir: 'secrets',
      dest,
      onRead: (chunk) => hash.update(chunk),
      privateFile: () => true,
    }).catch(async (error: unknown) => {
      // A damaged file fails to decrypt or decompress first; its checksum says why.
      if (file.sha256 !== null && (await sha256Of(archive)) !== file.sha256) throw checksumError(backup, file);
      throw error;
    });
    if (file.sha256 !== null && hash.digest('hex') !== file.sha256) throw checksumError(backup, file);
    // The configuration file, and `actors/`: copies of the signing keys, which a restore takes from the actor archive.
    const entries = (await readdir(dest, { withFileTypes: true })).filter((e) => !(e.name === 'actors' && e.isDirectory()));
    if (entries.length > 1 || entries.some((e) => !e.isFile())) {
      throw new EngineError(`${archive} should hold at most one configuration file beside actors/, but holds ${entries.map((e) => e.name).join(', ')}. Nothing was restored.`, 'SECRETS_INVALID');
    }
    if (entries.length === 0) return null;
    name = entries[0]!.name;
    content = await readFile(path.join(dest, name));
  } finally {
    await rm(temp, { recursive: true, force: true });
  }

  const target = opts.envFile ?? path.join(opts.dataDir, name);
  const current = await readFile(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw new EngineError(`Cannot read ${target}, the configuration the restore would replace (${error.code ?? error.message}). Nothing was restored.`, error.code ?? 'SECRETS_TARGET');
  });
  if (current === null) return { target, content, replaces: false, kept: false };
  if (current.equals(content)) return { target, content, replaces: false, kept: true };
  const now = parseEnvFile(current.toString('utf8'));
  const then = parseEnvFile(content.toString('utf8'));
  const differences = IDENTITY_SETTINGS.filter((n) => (now[n] ?? '') !== (then[n] ?? '')).map((n) => ({ name: n, now: now[n] ?? '(not set)', backup: then[n] ?? '(not set)' }));
  if (differences.length === 0) return { target, content, replaces: true, kept: false };
  const choice = await opts.choose?.({ target, differences });
  if (choice === 'keep') return { target, content, replaces: false, kept: true };
  if (choice === 'overwrite') return { target, content, replaces: true, kept: false };
  throw new EngineError(
    `${target} belongs to another PDS than the backup's configuration (${differences.map((d) => `${d.name} ${d.now} here, ${d.backup} in the backup`).join('; ')}). ` +
      `Restore with --overwrite-config to replace it with the backup's (it is kept as ${path.basename(target)}.before-restore), or with --keep-config to keep it and restore the data only. Nothing was restored.`,
    'CONFIG_DIFFERS',
  );
}

/**
 * Writes the configuration: a new file (0600) renamed over the old one, which is kept as
 * `<name>.before-restore` when it differed. Run as root, the file gets the owner of the one it replaces
 * or of the data directory, as every restored file does.
 */
export async function writeSecrets(secrets: SecretsToRestore, dataDir: string): Promise<string | null> {
  if (secrets.kept) return null;
  const fresh = `${secrets.target}.restoring`;
  const replaced = await stat(secrets.target).catch(() => null);
  const handle = await open(fresh, 'w', 0o600);
  try {
    await handle.writeFile(secrets.content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (process.platform !== 'win32') await chmod(fresh, 0o600);
  if (process.platform !== 'win32' && process.getuid?.() === 0) {
    const reference = replaced && replaced.uid !== 0 ? replaced : await stat(dataDir);
    if (reference.uid !== 0 || reference.gid !== 0) await lchown(fresh, reference.uid, reference.gid);
  }
  if (secrets.replaces) await rename(secrets.target, `${secrets.target}.before-restore`);
  await rename(fresh, secrets.target);
  return secrets.target;
}

function checksumError(backup: BackupFolder, file: BackupFile): EngineError {
  return new EngineError(`The backup ${backup.path} failed verification, so nothing was restored:\n${file.path}: ${CHECKSUM_PROBLEM}.`, 'VERIFY_FAILED');
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await readFile(file));
  return hash.digest('hex');
}
