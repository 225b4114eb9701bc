import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { COMPRESSIONS } from '../../shared/components.js';
import { DEFAULT_SETTINGS, validateSettings, type Settings } from '../../shared/settings.js';
import { parseEnvFile } from '../engine/config.js';

export const SETTINGS_FILE = 'settings.json';

export interface LoadedSettings {
  settings: Settings;
  /** Set when the file on disk could not be used: what was wrong and where the file was moved. */
  problem: string | null;
}

/** Writes a file so that a crash leaves either the old or the new content, never half of one. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, content, { mode: 0o600, flush: true });
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/**
 * Runs file writes one after the other, in the order they were asked for. Two atomic writes of the same
 * file that overlap end in whichever rename comes last, which under load can be the older content.
 */
export class WriteQueue {
  private tail: Promise<void> = Promise.resolve();

  run(write: () => Promise<void>): Promise<void> {
    this.tail = this.tail.then(write, write);
    return this.tail;
  }

  /** Resolves when every write asked for so far has ended. */
  async settled(): Promise<void> {
    await this.tail.catch(() => {});
  }
}

/** settings.json in the app's user-data folder. */
export class SettingsStore {
  readonly file: string;

  constructor(userDataDir: string) {
    this.file = path.join(userDataDir, SETTINGS_FILE);
  }

  /**
   * Missing file → defaults. A file that is not JSON or fails validation is renamed to
   * `settings.corrupt-<time>.json` (never overwritten or deleted) and reported; defaults are used.
   */
  async load(now = new Date()): Promise<LoadedSettings> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { settings: DEFAULT_SETTINGS, problem: null };
      throw new Error(`Cannot read the settings file ${this.file}`, { cause: error });
    }
    let why: string;
    try {
      const checked = validateSettings(JSON.parse(text));
      if (checked.ok) return { settings: checked.settings, problem: null };
      why = Object.entries(checked.errors)
        .map(([field, message]) => `${field}: ${message}`)
        .join('; ');
    } catch (error) {
      why = `not valid JSON (${(error as Error).message})`;
    }
    const aside = path.join(path.dirname(this.file), `settings.corrupt-${now.toISOString().replace(/[:.]/g, '-')}.json`);
    await rename(this.file, aside);
    return {
      settings: DEFAULT_SETTINGS,
      problem: `The settings file could not be used (${why}). It was kept as ${aside}; the defaults are in use until you save new settings.`,
    };
  }

  async save(settings: Settings): Promise<void> {
    await writeFileAtomic(this.file, `${JSON.stringify(settings, null, 2)}\n`);
  }
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off', '']);

/**
 * The settings a PDS `.env` file implies, on top of `base`: BACKUP_ENABLED, BACKUP_INTERVAL_HOURS (switches
 * the schedule to "every N hours", as the PDS's own scheduler runs), BACKUP_DIR, BACKUP_RETAIN_DAYS,
 * BACKUP_COMPRESSION (or COMPRESSION), PDS_DATA_DIRECTORY and PDS_VERSION. Relative paths are taken from
 * the .env file's folder, where the PDS runs. Nothing is saved.
 */
export async function importEnvFile(
  envFile: string,
  base: Settings,
): Promise<{ ok: true; settings: Settings; imported: string[] } | { ok: false; error: string }> {
  let text: string;
  try {
    text = await readFile(envFile, 'utf8');
  } catch (error) {
    return { ok: false, error: `Cannot read ${envFile} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Choose the PDS's .env file.` };
  }
  const env = parseEnvFile(text);
  const folder = path.dirname(envFile);
  const imported: string[] = [];
  const next = structuredClone(base) as Settings;
  const problems: string[] = [];
  const take = (name: string): string | undefined => {
    const value = env[name]?.trim();
    if (value === undefined) return undefined;
    imported.push(name);
    return value;
  };
  const whole = (name: string, value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n)) problems.push(`${name}=${value} is not a whole number`);
    return n;
  };

  const enabled = take('BACKUP_ENABLED');
  if (enabled !== undefined) {
    if (TRUE.has(enabled.toLowerCase())) next.schedule.enabled = true;
    else if (FALSE.has(enabled.toLowerCase())) next.schedule.enabled = false;
    else problems.push(`BACKUP_ENABLED=${enabled} should be true or false`);
  }
  const interval = take('BACKUP_INTERVAL_HOURS');
  if (interval !== undefined) {
    next.schedule.mode = 'interval';
    next.schedule.intervalHours = whole('BACKUP_INTERVAL_HOURS', interval);
  }
  const backupDir = take('BACKUP_DIR');
  if (backupDir) next.backupDir = path.resolve(folder, backupDir);
  const retain = take('BACKUP_RETAIN_DAYS');
  if (retain !== undefined) next.retainDays = whole('BACKUP_RETAIN_DAYS', retain);
  const fullEvery = take('BACKUP_FULL_EVERY_DAYS');
  if (fullEvery !== undefined) next.fullEveryDays = whole('BACKUP_FULL_EVERY_DAYS', fullEvery);
  const compressionName = env.BACKUP_COMPRESSION !== undefined ? 'BACKUP_COMPRESSION' : 'COMPRESSION';
  const compression = take(compressionName)?.toLowerCase();
  if (compression !== undefined) {
    if ((COMPRESSIONS as readonly string[]).includes(compression)) next.compression = compression as Settings['compression'];
    else problems.push(`${compressionName}=${compression} is not one of ${COMPRESSIONS.join(', ')}`);
  }
  const dataDir = take('PDS_DATA_DIRECTORY');
  if (dataDir) next.dataDir = path.resolve(folder, dataDir);
  const version = take('PDS_VERSION');
  if (version !== undefined) next.pds.version = version;
  next.envFile = envFile;

  if (problems.length === 0) {
    const checked = validateSettings(next);
    if (checked.ok) return { ok: true, settings: checked.settings, imported };
    for (const [field, message] of Object.entries(checked.errors)) problems.push(`${field}: ${message}`);
  }
  return { ok: false, error: `${envFile}: ${problems.join('; ')}. Nothing was imported.` };
}
