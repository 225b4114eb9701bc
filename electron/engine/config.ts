import { stat } from 'node:fs/promises';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { advice } from '../../shared/advice.js';
import { COMPRESSIONS, type Compression } from '../../shared/components.js';
import { EngineError, readUserFile } from './errors.js';
import { isKeyText } from './crypto/keys.js';

export interface PdsLocations {
  dataDir: string;
  accountDb: string;
  sequencerDb: string;
  didCacheDb: string;
  actorsDir: string;
  blobsDir: string;
}

export interface ResolvedConfig {
  locations: PdsLocations;
  backupDir: string;
  compression: Compression;
  retainDays: number;
  /** BACKUP_FULL_EVERY_DAYS: an incremental chain's base is at most this old, else the next backup is full. */
  fullEveryDays: number;
  pdsVersion: string;
  /** PDS_HOSTNAME, or this machine's name when it is not set. */
  hostname: string;
  serviceDid: string;
  /** The .env file that was read, or null when none was. */
  envFile: string | null;
  /**
   * BACKUP_ENCRYPTION_RECIPIENTS: age public keys (age1…) or files of them, separated by commas or spaces
   * (files relative to where the setting came from). Empty: backups are not encrypted unless asked.
   */
  encryptionRecipients: string[];
  /** What the user should be told about where settings came from: a settings file found in the data directory, a location not followed. */
  notes: string[];
}

export interface ConfigOptions {
  dataDir?: string;
  backupDir?: string;
  /**
   * A PDS .env file. Without it: with a data directory flag, its `pds.env` (the official installer's) or
   * `.env`; else `<cwd>/.env`; else those of the data directory the environment names.
   */
  envFile?: string;
  compression?: Compression;
  retainDays?: number;
  fullEveryDays?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export const DEFAULT_DATA_DIR = './data';
export const DEFAULT_BACKUP_DIR = './backups';
export const DEFAULT_RETAIN_DAYS = 30;
export const DEFAULT_FULL_EVERY_DAYS = 7;

/** KEY=VALUE lines as a shell or dotenv reads them: comments, `export`, quotes. */
export function parseEnvFile(text: string): Record<string, string> {
  return parseEnv(text) as Record<string, string>;
}

/**
 * Where the PDS keeps its data and where backups go. Flags win over the environment, the environment
 * over the .env file, then the guide's defaults. Relative paths from flags and the environment are taken
 * from `cwd`; relative paths in a .env file from the file's own folder (where the PDS runs).
 * The PDS_*_LOCATION variables are honoured with a `dataDir` flag too (the official installer keeps blobs
 * in `<data>/blocks`). They describe the data directory they came with (PDS_DATA_DIRECTORY): a location
 * inside it moves with the flag's directory (`/pds/blocks` → `<flag>/blocks`); one outside it is kept
 * only when the flag names that same directory, since it belongs to another PDS otherwise.
 */
export async function resolveConfig(opts: ConfigOptions = {}): Promise<ResolvedConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const notes: string[] = [];
  const { file, envFile } = await findEnvFile(opts, cwd, env, notes);
  const fileBase = envFile ? path.dirname(envFile) : cwd;

  /** A setting from the environment (paths relative to cwd) or else the .env file (relative to it). */
  const lookup = (...names: string[]): { value: string; base: string } | undefined => {
    for (const name of names) if (env[name]?.trim()) return { value: env[name]!.trim(), base: cwd };
    for (const name of names) if (file[name]?.trim()) return { value: file[name]!.trim(), base: fileBase };
    return undefined;
  };
  const pathSetting = (flag: string | undefined, names: string[], fallback: () => string): string => {
    if (flag) return path.resolve(cwd, flag);
    const found = lookup(...names);
    return found ? path.resolve(found.base, found.value) : fallback();
  };

  const dataDir = pathSetting(opts.dataDir, ['PDS_DATA_DIRECTORY'], () => path.resolve(cwd, DEFAULT_DATA_DIR));
  const configuredDataDir = pathSetting(undefined, ['PDS_DATA_DIRECTORY'], () => dataDir);
  const location = (name: string, relative: string) => {
    const configured = pathSetting(undefined, [name], () => path.join(configuredDataDir, relative));
    if (configuredDataDir === dataDir) return configured;
    const inside = path.relative(configuredDataDir, configured);
    if (inside !== '' && !inside.startsWith('..') && !path.isAbsolute(inside)) return path.join(dataDir, inside);
    notes.push(`${name}=${configured} is outside ${configuredDataDir}, the PDS_DATA_DIRECTORY it was set with, so ${path.join(dataDir, relative)} is used for the data directory ${dataDir}.`);
    return path.join(dataDir, relative);
  };

  return {
    locations: {
      dataDir,
      accountDb: location('PDS_ACCOUNT_DB_LOCATION', 'account.sqlite'),
      sequencerDb: location('PDS_SEQUENCER_DB_LOCATION', 'sequencer.sqlite'),
      didCacheDb: location('PDS_DID_CACHE_DB_LOCATION', 'did_cache.sqlite'),
      actorsDir: location('PDS_ACTOR_STORE_DIRECTORY', 'actors'),
      blobsDir: location('PDS_BLOBSTORE_DISK_LOCATION', 'blobs'),
    },
    backupDir: pathSetting(opts.backupDir, ['BACKUP_DIR'], () => path.resolve(cwd, DEFAULT_BACKUP_DIR)),
    compression: opts.compression ?? parseCompression(lookup('BACKUP_COMPRESSION', 'COMPRESSION')?.value),
    retainDays: opts.retainDays ?? parseRetainDays(lookup('BACKUP_RETAIN_DAYS')?.value),
    fullEveryDays: opts.fullEveryDays ?? parseFullEveryDays(lookup('BACKUP_FULL_EVERY_DAYS')?.value),
    pdsVersion: lookup('PDS_VERSION')?.value ?? 'unknown',
    hostname: lookup('PDS_HOSTNAME')?.value ?? 'unknown', // as backup.sh: the PDS's public name, not this machine's
    serviceDid: lookup('PDS_SERVICE_DID')?.value ?? 'unknown',
    envFile,
    encryptionRecipients: recipientsSetting(lookup('BACKUP_ENCRYPTION_RECIPIENTS')),
    notes,
  };
}

/** Settings files a data directory may hold: the official installer's, then a plain one. */
const DATA_DIR_ENV_FILES = ['pds.env', '.env'];

type LoadedEnv = { file: Record<string, string>; envFile: string | null };

async function findEnvFile(opts: ConfigOptions, cwd: string, env: NodeJS.ProcessEnv, notes: string[]): Promise<LoadedEnv> {
  if (opts.envFile) return loadEnvFile(path.resolve(cwd, opts.envFile), true);
  // The data directory named on the command line has its own settings: they describe it better than the working folder's.
  if (opts.dataDir) {
    const found = await loadFromDataDir(path.resolve(cwd, opts.dataDir), notes);
    if (found.envFile) return found;
  }
  const local = await loadEnvFile(path.resolve(cwd, '.env'), false);
  if (local.envFile || opts.dataDir) return local;
  const named = env.PDS_DATA_DIRECTORY?.trim();
  return named ? loadFromDataDir(path.resolve(cwd, named), notes) : local;
}

async function loadFromDataDir(dataDir: string, notes: string[]): Promise<LoadedEnv> {
  for (const name of DATA_DIR_ENV_FILES) {
    const candidate = path.join(dataDir, name);
    try {
      const loaded = await loadEnvFile(candidate, false);
      if (!loaded.envFile) continue;
      notes.push(`Settings read from ${candidate}, found in the data directory (choose another file with --env-file).`);
      return loaded;
    } catch {
      notes.push(`${candidate} cannot be read by this user, so its settings were not used: pass the settings with --env-file or in the environment.`);
    }
  }
  return { file: {}, envFile: null };
}

async function loadEnvFile(candidate: string, explicit: boolean): Promise<LoadedEnv> {
  if (!explicit) {
    // Looked for, not named: none there (or a folder of that name) just means no settings from there.
    const found = await stat(candidate).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' || error.code === 'ENOTDIR' ? null : undefined));
    if (found === null || found?.isDirectory()) return { file: {}, envFile: null };
  }
  const text = await readUserFile(candidate, '.env file', 'ENV_FILE', `Check the path ${advice('envFile')}.`);
  return { file: parseEnvFile(text), envFile: candidate };
}

function recipientsSetting(found: { value: string; base: string } | undefined): string[] {
  if (!found) return [];
  return found.value
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((item) => (isKeyText(item) ? item : path.resolve(found.base, item)));
}

function parseCompression(value: string | undefined): Compression {
  if (value === undefined) return 'gzip';
  const lower = value.toLowerCase();
  if ((COMPRESSIONS as readonly string[]).includes(lower)) return lower as Compression;
  throw new EngineError(
    `Unknown compression "${value}" in BACKUP_COMPRESSION/COMPRESSION. Use one of: ${COMPRESSIONS.join(', ')}.`,
    'BAD_SETTING',
  );
}

function parseFullEveryDays(value: string | undefined): number {
  if (value === undefined) return DEFAULT_FULL_EVERY_DAYS;
  const days = Number(value);
  if (Number.isInteger(days) && days >= 1) return days;
  throw new EngineError(`BACKUP_FULL_EVERY_DAYS must be a whole number of days (1 or more), not "${value}".`, 'BAD_SETTING');
}

function parseRetainDays(value: string | undefined): number {
  if (value === undefined) return DEFAULT_RETAIN_DAYS;
  const days = Number(value);
  if (Number.isInteger(days) && days >= 1) return days;
  throw new EngineError(`BACKUP_RETAIN_DAYS must be a whole number of days (1 or more), not "${value}".`, 'BAD_SETTING');
}
