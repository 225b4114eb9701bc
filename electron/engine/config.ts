import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { advice } from '../../shared/advice.js';
import { COMPRESSIONS, type Compression } from '../../shared/components.js';
import { EngineError } from './errors.js';

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
  pdsVersion: string;
  /** PDS_HOSTNAME, or this machine's name when it is not set. */
  hostname: string;
  serviceDid: string;
  /** The .env file that was read, or null when none was. */
  envFile: string | null;
}

export interface ConfigOptions {
  dataDir?: string;
  backupDir?: string;
  /** A PDS .env file. Without it, `<cwd>/.env` is read when it exists. */
  envFile?: string;
  compression?: Compression;
  retainDays?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export const DEFAULT_DATA_DIR = './data';
export const DEFAULT_BACKUP_DIR = './backups';
export const DEFAULT_RETAIN_DAYS = 30;

/** KEY=VALUE lines as a shell or dotenv reads them: comments, `export`, quotes. */
export function parseEnvFile(text: string): Record<string, string> {
  return parseEnv(text) as Record<string, string>;
}

/**
 * Where the PDS keeps its data and where backups go. Flags win over the environment, the environment
 * over the .env file, then the guide's defaults. Relative paths from flags and the environment are taken
 * from `cwd`; relative paths in a .env file from the file's own folder (where the PDS runs).
 * An explicit `dataDir` flag also decides every database and folder location: the PDS_*_LOCATION
 * variables describe the data directory they came with, not the one asked for.
 */
export async function resolveConfig(opts: ConfigOptions = {}): Promise<ResolvedConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const { file, envFile } = await loadEnvFile(opts.envFile, cwd);
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
  const location = (name: string, relative: string) =>
    opts.dataDir ? path.join(dataDir, relative) : pathSetting(undefined, [name], () => path.join(dataDir, relative));

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
    pdsVersion: lookup('PDS_VERSION')?.value ?? 'unknown',
    hostname: lookup('PDS_HOSTNAME')?.value ?? 'unknown', // as backup.sh: the PDS's public name, not this machine's
    serviceDid: lookup('PDS_SERVICE_DID')?.value ?? 'unknown',
    envFile,
  };
}

async function loadEnvFile(explicit: string | undefined, cwd: string): Promise<{ file: Record<string, string>; envFile: string | null }> {
  const candidate = path.resolve(cwd, explicit ?? '.env');
  let text: string;
  try {
    text = await readFile(candidate, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!explicit && code === 'ENOENT') return { file: {}, envFile: null };
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${code})`;
    throw new EngineError(`The .env file ${candidate} ${why}. Check the path ${advice('envFile')}.`, 'ENV_FILE');
  }
  return { file: parseEnvFile(text), envFile: candidate };
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

function parseRetainDays(value: string | undefined): number {
  if (value === undefined) return DEFAULT_RETAIN_DAYS;
  const days = Number(value);
  if (Number.isInteger(days) && days >= 1) return days;
  throw new EngineError(`BACKUP_RETAIN_DAYS must be a whole number of days (1 or more), not "${value}".`, 'BAD_SETTING');
}
