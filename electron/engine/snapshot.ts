import { Worker } from 'node:worker_threads';
import { EngineError } from './errors.js';

export interface SnapshotJob {
  /** The live database. */
  source: string;
  /** Where the consistent copy goes (must not exist). */
  target: string;
  /** Single-value SQL queries run on the copy, e.g. `{ lastSeq: 'SELECT max(seq) FROM repo_seq' }`. */
  queries?: Record<string, string>;
}

export type SnapshotResult =
  | { vanished: true }
  | { vanished?: false; size: number; pageCount: number; answers: Record<string, number | string | null> };

type WorkerMessage = { index: number } & (SnapshotResult | { error: string; code: string });

/**
 * Snapshots every database in a worker thread (the caller's event loop stays free while SQLite copies).
 * Each copy is taken with `VACUUM INTO` in one step: consistent even while the PDS writes.
 * A database that disappears before its turn is reported as vanished; any other failure rejects with
 * an EngineError naming the database. Aborting terminates the worker.
 */
export function snapshotDatabases(
  jobs: SnapshotJob[],
  opts: { signal?: AbortSignal; onSnapshot?: (index: number, result: SnapshotResult) => void } = {},
): Promise<SnapshotResult[]> {
  if (jobs.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const results: SnapshotResult[] = [];
    let finished = 0;
    const worker = new Worker(new URL('./snapshot-worker.mjs', import.meta.url), { workerData: { jobs } });
    const fail = (error: Error) => {
      opts.signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      reject(error);
    };
    const onAbort = () => fail(new EngineError('Backup cancelled.', 'ABORTED'));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    worker.on('message', (message: WorkerMessage) => {
      const job = jobs[message.index]!;
      if ('error' in message) {
        if (message.code === 'SQLITE_FULL') {
          return fail(new EngineError(`No space left on the disk for the snapshot of ${job.source} (in ${job.target}). Free some space or choose another backup directory, then run the backup again.`, 'ENOSPC'));
        }
        return fail(
          new EngineError(
            `Could not snapshot the database ${job.source}: ${message.error}. ` +
              (message.code === 'SQLITE_CORRUPT' || message.code === 'SQLITE_NOTADB'
                ? 'The live database is damaged; repair it (sqlite3 .recover) before backing up.'
                : 'Check that the file is readable by this user.'),
            message.code,
          ),
        );
      }
      results[message.index] = message;
      finished++;
      opts.onSnapshot?.(message.index, message);
      if (finished === jobs.length) {
        opts.signal?.removeEventListener('abort', onAbort);
        void worker.terminate();
        resolve(results);
      }
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (finished < jobs.length) fail(new Error(`The snapshot worker stopped early (exit code ${code}).`));
    });
  });
}
