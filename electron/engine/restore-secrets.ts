import { chmod, lchown, open, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { pumpFile } from './archive.js';
import { CHECKSUM_PROBLEM, readCheck, sha256Of, type BackupFile, type BackupFolder } from './backup-folder.js';
import { parseEnvFile } from './config.js';
import type { DecryptionKeys } from './crypto/age-stream.js';
import { fileDecoder } from './crypto/backup-keys.js';
import { EngineError } from './errors.js';
import { faultPoint } from './fault-injection.js';
import { EntryRules } from './safe-extract.js';
import { describeStreamError, tarLister } from './tar-lister.js';

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
 * Reads the configuration from the backup's secrets component before anything is changed (null when it
 * holds none), in memory (readConfiguration). Decides where it goes and,
 * when the configuration there names another hostname or service DID, asks `choose` (the CLI's prompt
 * or flag); without an answer it refuses, naming the flags.
 */
export async function readSecrets(
  backup: BackupFolder,
  file: BackupFile,
  opts: { dataDir: string; envFile: string | null; decryption?: DecryptionKeys; choose?: (difference: ConfigDifference) => Promise<ConfigChoice | undefined> },
): Promise<SecretsToRestore | null> {
  const archive = path.join(backup.path, file.path);
  const found = await readConfiguration(archive, backup, file, opts.decryption).catch(async (error: unknown) => {
    // A damaged file fails to decrypt or decompress first; its checksum says why.
    if (file.sha256 !== null && (await sha256Of(archive)) !== file.sha256) throw checksumError(backup, file);
    throw error;
  });
  if (!found) return null;
  const { name, content } = found;

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

/** The largest configuration file read back: a pds.env is a few KiB. */
const MAX_CONFIG_BYTES = 1 << 20;

/**
 * The configuration file of a secrets component (null when it holds none), read in memory: nothing of
 * the secrets is written anywhere before the restore writes the configuration to its place, so a restore
 * killed part-way leaves no decrypted copy behind. Its entries pass the same rules as any archive's; its
 * SHA-256 is checked as it is read. `actors/` holds copies of the signing keys, which a restore takes
 * from the actor archive: skipped.
 */
async function readConfiguration(archive: string, backup: BackupFolder, file: BackupFile, decryption: DecryptionKeys | undefined): Promise<{ name: string; content: Buffer } | null> {
  const rules = new EntryRules({ topDir: 'secrets', unpackedBytes: file.unpackedSize });
  const files = new Map<string, Buffer[]>();
  const others: string[] = [];
  const check = readCheck(file);
  const lister = tarLister((entry) => {
    const checked = rules.check({ name: entry.path, type: entry.type, size: entry.size ?? 0 });
    if (!checked.ok) throw new EngineError(`Refused ${archive}: ${checked.problem}. Nothing was restored.`, 'ARCHIVE_REFUSED');
    const [first, ...below] = checked.relative.split('/');
    if (checked.relative === '' || (first === 'actors' && (below.length > 0 || entry.type === 'Directory'))) return false;
    if (entry.type === 'Directory' || below.length > 0) {
      others.push(checked.relative.replace(/\/$/, ''));
      return false;
    }
    if ((entry.size ?? 0) > MAX_CONFIG_BYTES) throw new EngineError(`${archive} holds ${first}, ${entry.size} bytes: too large for a configuration file. Nothing was restored.`, 'SECRETS_INVALID');
    const chunks: Buffer[] = [];
    files.set(first!, chunks);
    entry.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
    return true;
  });
  try {
    await pumpFile(archive, fileDecoder(archive, backup.compression, file, decryption), lister, check.update);
  } catch (error) {
    if (error instanceof EngineError) throw error;
    throw new EngineError(`Cannot read ${archive}: ${describeStreamError(error as Error, backup.compression)}. Nothing was restored.`, 'SECRETS_INVALID');
  }
  faultPoint('restore:secrets-read');
  if (!check.matches()) throw checksumError(backup, file);
  const names = [...files.keys(), ...others];
  if (names.length > 1 || others.length > 0) {
    throw new EngineError(`${archive} should hold at most one configuration file beside actors/, but holds ${names.join(', ')}. Nothing was restored.`, 'SECRETS_INVALID');
  }
  const [entry] = files;
  return entry ? { name: entry[0], content: Buffer.concat(entry[1]) } : null;
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

