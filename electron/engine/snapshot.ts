import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { EngineError } from './errors.js';

export interface SnapshotJob {
  /** The live database. */
  source: string;
  /** Where the consistent copy goes (must not exist) when it is too large to be held in memory. */
  target: string;
  /** Single-value SQL queries run on the copy, e.g. `{ lastSeq: 'SELECT max(seq) FROM repo_seq' }`. */
  queries?: Record<string, string>;
  /**
   * A database SQLite cannot read (not a database, or damaged) is reported as `unreadable` instead of
   * failing the run: the pre-restore backup keeps such a file as it is rather than block the restore.
   */
  keepUnreadable?: boolean;
}

export type SnapshotResult =
  | { vanished: true }
  | { vanished?: false; unreadable: true; reason: string }
  | {
      vanished?: false;
      unreadable?: false;
      size: number;
      pageCount: number;
      answers: Record<string, number | string | null>;
      /** The snapshot itself when it was copied into memory; otherwise it is the file at `target`. */
      data?: Buffer;
      /** Gives the memory of `data` back: the worker copies no more into memory than the budget allows. */
      release(): void;
    };

type WorkerMessage = { index: number } & (
  | { vanished: true }
  | { size: number; pageCount: number; answers: Record<string, number | string | null>; data?: Uint8Array; kib?: number }
  | { error: string; code: string }
);

export interface SnapshotOptions {
  signal?: AbortSignal;
  onSnapshot?: (index: number, result: SnapshotResult) => void;
  /**
   * Databases up to this size (with their -wal) are copied into memory, a page copy several times
   * cheaper than `VACUUM INTO` a file that must then be read back. Default 8 MiB (most actor stores).
   */
  inMemoryMax?: number;
  /**
   * In-memory snapshots held at once, in bytes, until released (always at least one). Default 4 MiB:
   * the bench is as fast with one at a time, the worker copying the next while the last is compressed.
   */
  inMemoryBudget?: number;
}

const MiB = 1024 * 1024;

/**
 * Snapshots every database in a worker thread (the caller's event loop stays free while SQLite copies).
 * Each copy is taken in one step (serialize or `VACUUM INTO`): consistent even while the PDS writes.
 * A database that disappears before its turn is reported as vanished; any other failure rejects with
 * an EngineError naming the database. Aborting terminates the worker.
 */
export function snapshotDatabases(jobs: SnapshotJob[], opts: SnapshotOptions = {}): Promise<SnapshotResult[]> {
  if (jobs.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const results: SnapshotResult[] = [];
    let finished = 0;
    const inFlight = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(new URL('./snapshot-worker.mjs', import.meta.url), {
      workerData: { jobs, inMemoryMax: opts.inMemoryMax ?? 8 * MiB, inMemoryBudget: opts.inMemoryBudget ?? 4 * MiB, inFlightBuffer: inFlight.buffer },
    });
    const fail = (error: Error) => {
      opts.signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      reject(error);
    };
    const onAbort = () => fail(new EngineError('Backup cancelled.', 'ABORTED'));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const deliver = (index: number, result: SnapshotResult) => {
      results[index] = result;
      finished++;
      opts.onSnapshot?.(index, result);
      if (finished === jobs.length) {
        opts.signal?.removeEventListener('abort', onAbort);
        void worker.terminate();
        resolve(results);
      }
    };
    worker.on('message', (message: WorkerMessage) => {
      const job = jobs[message.index]!;
      if ('error' in message && job.keepUnreadable && isUnreadable(message.code)) {
        return deliver(message.index, { unreadable: true, reason: `SQLite cannot read it as a database (${message.code}: ${message.error})` });
      }
      if ('error' in message) {
        if (message.code === 'SQLITE_FULL') {
          return fail(new EngineError(`No space left on the disk for the snapshot of ${job.source} (in ${job.target}). Free some space or choose another backup directory, then run the backup again.`, 'ENOSPC'));
        }
        return fail(
          new EngineError(
            `Could not snapshot the database ${job.source}: ${message.error}. ` +
              (isUnreadable(message.code)
                ? 'The live database is damaged; repair it (sqlite3 .recover) before backing up.'
                : isLocked(message.code)
                  ? `It is locked by another process, which holds it exclusively (locking_mode=EXCLUSIVE, or an exclusive transaction left open): ` +
                    `find the program that has ${path.basename(job.source)} open (e.g. fuser ${job.source}), close it or let it finish, then run the backup again.`
                  : needsWriteAccess(message.code) && readable(job.source)
                  ? `The file is readable, but SQLite must create or update ${path.basename(job.source)}-shm beside a database in WAL mode, even only to read it: ` +
                    `give this user write access to the folder ${path.dirname(job.source)} (and to that -shm file if it exists), for example by running ` +
                    `the backup as the user the PDS runs as, or by adding this user to the PDS's group with group write access on the folder.`
                  : 'Check that the file is readable by this user.'),
            message.code,
          ),
        );
      }
      deliver(message.index, toResult(message, inFlight));
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (finished < jobs.length) fail(new Error(`The snapshot worker stopped early (exit code ${code}).`));
    });
  });
}

/** Damage SQLite reports for a file it cannot read as a database, as opposed to a disk or permission problem. */
const isUnreadable = (code: string) => /^SQLITE_(CORRUPT|NOTADB)/.test(code);

/** Another connection holds the database exclusively, so not even a read can start. */
const isLocked = (code: string) => code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');

/** SQLite opened the file read-only but could not create or write its -shm (the folder or the -shm is not writable). */
const needsWriteAccess = (code: string) => code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN');

function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function toResult(message: Exclude<WorkerMessage, { error: string }>, inFlight: Int32Array): SnapshotResult {
  if ('vanished' in message) return { vanished: true };
  const { size, pageCount, answers, data, kib } = message;
  const result: Extract<SnapshotResult, { size: number }> = {
    size,
    pageCount,
    answers,
    ...(data && { data: Buffer.from(data.buffer, data.byteOffset, data.length) }),
    release() {
      if (!result.data) return;
      delete result.data; // results are kept for their answers: the bytes must not stay with them
      Atomics.sub(inFlight, 0, kib!);
      Atomics.notify(inFlight, 0);
    },
  };
  return result;
}
