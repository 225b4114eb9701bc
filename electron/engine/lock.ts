import { randomUUID } from 'node:crypto';
import { open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EngineError } from './errors.js';

/** The lock file in the backup directory; the CLI and the desktop app both take it. */
export const LOCK_FILE_NAME = '.aurora-backup.lock';
/** The holder rewrites its heartbeat this often; a lock not refreshed for STALE_AFTER_MS is taken over. */
export const HEARTBEAT_MS = 10_000;
export const STALE_AFTER_MS = 60_000;

export interface LockHolder {
  pid: number;
  host: string;
  purpose: string;
  since: string; // ISO 8601
  heartbeat: string; // ISO 8601
  token: string;
}

export interface BackupLock {
  release(): Promise<void>;
}

/**
 * Takes the backup directory's lock, so that two backups (or a backup and a restore or prune) never
 * write the same folder at once. A lock whose holder has died, or whose heartbeat is older than
 * STALE_AFTER_MS, is taken over. Throws EngineError naming the live holder.
 */
export async function acquireBackupLock(backupDir: string, purpose: string): Promise<BackupLock> {
  const lockPath = path.join(backupDir, LOCK_FILE_NAME);
  const since = new Date().toISOString();
  const me: LockHolder = { pid: process.pid, host: os.hostname(), purpose, since, heartbeat: since, token: randomUUID() };

  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(lockPath, 'wx');
      try {
        await handle.writeFile(JSON.stringify(me));
        await handle.sync();
      } finally {
        await handle.close();
      }
      return startHolding(lockPath, me);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw lockError(lockPath, error);
    }
    const holder = await readBackupLock(backupDir);
    if (holder && !isStale(holder)) {
      throw new EngineError(
        `Another ${holder.purpose} is running on ${backupDir} (process ${holder.pid} on ${holder.host}, since ${holder.since}). ` +
          `Wait for it to finish; if that process is gone, delete ${lockPath}.`,
        'LOCKED',
      );
    }
    await takeOver(lockPath, holder);
  }
  throw new EngineError(`Could not take the lock ${lockPath}: other processes keep taking it. Try again.`, 'LOCKED');
}

/** The current holder of the lock, or null when there is none (or it is unreadable, i.e. half-written). */
export async function readBackupLock(backupDir: string): Promise<LockHolder | null> {
  try {
    return JSON.parse(await readFile(path.join(backupDir, LOCK_FILE_NAME), 'utf8')) as LockHolder;
  } catch {
    return null;
  }
}

function isStale(holder: LockHolder): boolean {
  if (Date.now() - Date.parse(holder.heartbeat) > STALE_AFTER_MS) return true;
  if (holder.host !== os.hostname()) return false; // another machine (shared drive): only the heartbeat tells
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Moves the stale lock aside. If another process replaced it in the meantime (what was moved is not
 * the stale lock judged), the moved lock is put back and the caller tries again.
 */
async function takeOver(lockPath: string, stale: LockHolder | null): Promise<void> {
  const aside = `${lockPath}.stale-${process.pid}-${randomUUID()}`;
  try {
    await rename(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw lockError(lockPath, error);
  }
  const moved = await readFile(aside, 'utf8').then((text) => JSON.parse(text) as LockHolder, () => null);
  if (moved && stale && moved.token !== stale.token) await rename(aside, lockPath).catch(() => undefined);
  else await unlink(aside).catch(() => undefined);
}

function startHolding(lockPath: string, me: LockHolder): BackupLock {
  const beat = async () => {
    const current = await readFile(lockPath, 'utf8').then((text) => JSON.parse(text) as LockHolder, () => null);
    if (current?.token !== me.token) return;
    const next = `${lockPath}.${me.token}.tmp`;
    await writeFile(next, JSON.stringify({ ...me, heartbeat: new Date().toISOString() }));
    await rename(next, lockPath);
  };
  const timer = setInterval(() => void beat().catch(() => undefined), HEARTBEAT_MS);
  timer.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      const current = await readFile(lockPath, 'utf8').then((text) => JSON.parse(text) as LockHolder, () => null);
      if (current?.token === me.token) await unlink(lockPath).catch(() => undefined);
    },
  };
}

function lockError(lockPath: string, error: unknown): EngineError {
  const code = (error as NodeJS.ErrnoException).code;
  const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOENT' ? 'the folder does not exist' : (error as Error).message;
  return new EngineError(`Cannot create the lock file ${lockPath} (${why}). Choose a backup directory you can write to.`, code ?? 'LOCK');
}
