import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { EngineError } from './errors.js';

/** The lock file in the backup directory; the CLI and the desktop app both take it. */
export const LOCK_FILE_NAME = '.aurora-backup.lock';
/** The holder rewrites its heartbeat this often, and checks each time that the lock is still its own. */
export const HEARTBEAT_MS = 10_000;
/** A holder on another machine (a shared drive) whose heartbeat is this old is taken for gone. */
export const STALE_AFTER_MS = 60_000;

/** The lock file's contents, as read back: a file of another shape is never taken for a holder. */
const lockHolderSchema = z.looseObject({
  pid: z.number().int().positive(),
  host: z.string(),
  purpose: z.string(),
  since: z.iso.datetime({ offset: true }),
  heartbeat: z.iso.datetime({ offset: true }),
  token: z.string().min(1),
  /** Linux: this boot's id, and the holder's start time in clock ticks, so a reused pid is not taken for the holder. */
  bootId: z.string().optional(),
  processStart: z.string().optional(),
});

export type LockHolder = z.infer<typeof lockHolderSchema>;

export interface BackupLock {
  /** Aborted, with an EngineError that says so, when the lock is found taken by another process. */
  readonly signal: AbortSignal;
  /** Throws that EngineError unless the lock file still names this holder. */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

/**
 * Takes the directory's lock, so that two backups (or a backup and a restore or prune) never write the
 * same folder at once. The lock file appears with its contents in one step (written aside, then hard
 * linked into place, which fails when a lock is there), so no one ever reads a half-written lock.
 * A holder on this machine is taken over only once its process is gone, however long it has been
 * silent (a laptop asleep mid-backup); a holder on another machine once its heartbeat is older than
 * STALE_AFTER_MS. Throws EngineError naming the live holder.
 */
export async function acquireBackupLock(backupDir: string, purpose: string): Promise<BackupLock> {
  const lockPath = path.join(backupDir, LOCK_FILE_NAME);
  const since = new Date().toISOString();
  const me: LockHolder = { pid: process.pid, host: os.hostname(), purpose, since, heartbeat: since, token: randomUUID(), ...processIdentity(process.pid) };
  const prepared = `${lockPath}.${me.token}.tmp`;
  try {
    await writeWhole(prepared, JSON.stringify(me));
  } catch (error) {
    throw lockError(lockPath, error);
  }
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await placeLock(prepared, lockPath, me);
        return startHolding(lockPath, me);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw lockError(lockPath, error);
      }
      const found = await readLockFile(lockPath);
      if (found === 'missing') continue;
      if (found === 'empty' || 'damaged' in found) {
        // Only a filesystem without hard links has a lock written in two steps; give a half-written one its heartbeat's time.
        const age = await stat(lockPath).then((s) => Date.now() - s.mtimeMs, () => Infinity);
        if (age < STALE_AFTER_MS) throw new EngineError(`Another process is taking the lock ${lockPath} right now. Wait for it to finish and try again.`, 'LOCKED');
      }
      if (typeof found !== 'string' && 'damaged' in found) {
        // Never guessed at: what holds the folder cannot be told from it.
        throw new EngineError(
          `The lock file ${lockPath} is damaged (${found.damaged}), so it cannot tell whether another backup, restore or prune is using ${backupDir}. ` +
            `Make sure none is running, then delete ${lockPath} and try again.`,
          'LOCK_DAMAGED',
        );
      } else if (isHolder(found) && !isStale(found)) {
        throw new EngineError(
          `Another ${found.purpose} is running on ${backupDir} (process ${found.pid} on ${found.host}, since ${found.since}). ` +
            `Wait for it to finish; if that process is not this app's, delete ${lockPath}.`,
          'LOCKED',
        );
      }
      await takeOver(lockPath, found === 'empty' ? null : found);
    }
    throw new EngineError(`Could not take the lock ${lockPath}: other processes keep taking it. Try again.`, 'LOCKED');
  } finally {
    await unlink(prepared).catch(() => undefined);
  }
}

/** The current holder of the lock, or null when there is none (or it is unreadable). */
export async function readBackupLock(backupDir: string): Promise<LockHolder | null> {
  const found = await readLockFile(path.join(backupDir, LOCK_FILE_NAME));
  return typeof found === 'string' || 'damaged' in found ? null : found;
}

type LockFound = LockHolder | 'missing' | 'empty' | { damaged: string };

/** The lock file read back through its schema: a holder, none, one still being written (empty), or damaged (and why). */
async function readLockFile(lockPath: string): Promise<LockFound> {
  let text: string;
  try {
    text = await readFile(lockPath, 'utf8');
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    return err.code === 'ENOENT' ? 'missing' : { damaged: `it cannot be read: ${err.message}` };
  }
  if (text === '') return 'empty';
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { damaged: 'it is not JSON' };
  }
  const parsed = lockHolderSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  return { damaged: `${issue.path.join('.') || 'its contents'}: ${issue.message}` };
}

const isHolder = (found: LockFound): found is LockHolder => typeof found !== 'string' && !('damaged' in found);

/** Whether the holder is gone. On this machine only its process tells (never the clock); elsewhere only the heartbeat can. */
export function isStale(holder: LockHolder): boolean {
  if (holder.host !== os.hostname()) return Date.now() - Date.parse(holder.heartbeat) > STALE_AFTER_MS;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  // Alive (or someone else's, EPERM): the holder unless the pid has been reused since, after a reboot say.
  const now = processIdentity(holder.pid);
  if (holder.bootId && now.bootId && holder.bootId !== now.bootId) return true;
  if (holder.processStart && now.processStart && holder.processStart !== now.processStart) return true;
  return false;
}

/** Linux only: the boot id and a process's start time, which together name one process for good. */
function processIdentity(pid: number): { bootId?: string; processStart?: string } {
  if (process.platform !== 'linux') return {};
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); fields from the 3rd on follow the ")" that ends the command name.
    const processStart = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return processStart ? { bootId, processStart } : { bootId };
  } catch {
    return {};
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
  const moved = await readLockFile(aside);
  const replaced = isHolder(moved) && moved.token !== stale?.token;
  // Put back only where no one has taken the lock since (link never replaces a file).
  if (replaced) await link(aside, lockPath).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

function startHolding(lockPath: string, me: LockHolder): BackupLock {
  const lost = new AbortController();
  const assertHeld = async () => {
    if (lost.signal.aborted) throw lost.signal.reason;
    const current = await readLockFile(lockPath);
    if (isHolder(current) && current.token === me.token) return;
    const by = !isHolder(current) ? (current === 'missing' ? 'was deleted' : 'was replaced') : `was taken by ${current.purpose} (process ${current.pid} on ${current.host})`;
    const error = new EngineError(
      `This ${me.purpose} lost its lock: ${lockPath} ${by} while it ran. It stopped rather than write beside another process; run it again.`,
      'LOCK_LOST',
    );
    if (!lost.signal.aborted) lost.abort(error);
    throw error;
  };
  const beat = async () => {
    await assertHeld();
    const next = `${lockPath}.${me.token}.tmp`;
    try {
      await writeFile(next, JSON.stringify({ ...me, heartbeat: new Date().toISOString() }));
      await rename(next, lockPath);
    } catch (error) {
      await unlink(next).catch(() => undefined); // a full disk must not leave a half-written heartbeat beside the lock
      throw error;
    }
  };
  const timer = setInterval(() => void beat().catch(() => undefined), HEARTBEAT_MS);
  timer.unref();
  let released = false;
  return {
    signal: lost.signal,
    assertHeld,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      const current = await readLockFile(lockPath);
      if (isHolder(current) && current.token === me.token) await unlink(lockPath).catch(() => undefined);
    },
  };
}

/**
 * Links the prepared lock into place. Filesystems without hard links (FAT and exFAT drives) get it
 * created with `wx` and written at once; a reader finding it still empty waits rather than take it.
 */
async function placeLock(prepared: string, lockPath: string, me: LockHolder): Promise<void> {
  try {
    await link(prepared, lockPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
    await writeWhole(lockPath, JSON.stringify(me));
  }
}

async function writeWhole(file: string, text: string): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function lockError(lockPath: string, error: unknown): EngineError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only filesystem' : code === 'ENOENT' ? 'the folder does not exist' : (error as Error).message;
  return new EngineError(`Cannot create the lock file ${lockPath} (${why}). Choose a backup directory you can write to.`, code ?? 'LOCK');
}
