import { Worker } from 'node:worker_threads';
import { EngineError } from './errors.js';

export interface CheckResult {
  ok: boolean;
  messages: string[];
  /** Answers to the queries passed to `check`, when the database passed. */
  answers?: Record<string, number | string | null>;
}

/**
 * `PRAGMA integrity_check` of database copies (a restore's staged files, a verify's unpacked ones) in one
 * worker thread, one after another in the order started: a check can take seconds and must not hold the
 * caller's event loop, and a restore starts each as soon as the file is unpacked, so the checks run on
 * the second core while the rest still unpacks. The copies belong to the caller alone: the worker opens
 * them for writing, so SQLite folds in a -wal that came with one (an original backup.sh archive).
 */
export class IntegrityChecks {
  private worker: Worker | null = null;
  private readonly started = new Map<string, Promise<CheckResult>>();
  private readonly pending = new Map<number, PromiseWithResolvers<CheckResult>>();
  private failure: Error | null = null;

  /** The check of `file`, started now unless it was already; `queries` (single-value SQL) are asked of it once it passed. */
  check(file: string, queries?: Record<string, string>): Promise<CheckResult> {
    const known = this.started.get(file);
    if (known) return known;
    const index = this.started.size;
    const waiting = Promise.withResolvers<CheckResult>();
    waiting.promise.catch(() => undefined); // the caller may drop it when something else fails first
    this.started.set(file, waiting.promise);
    if (this.failure) waiting.reject(this.failure);
    else {
      this.pending.set(index, waiting);
      this.ensureWorker().postMessage({ index, file, queries });
    }
    return waiting.promise;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./integrity-check-worker.mjs', import.meta.url));
    worker.on('message', (message: { index: number } & CheckResult) => {
      const { ok, messages, answers } = message;
      this.pending.get(message.index)?.resolve({ ok, messages, ...(answers && { answers }) });
      this.pending.delete(message.index);
    });
    const fail = (error: Error) => {
      this.failure ??= error;
      for (const waiting of this.pending.values()) waiting.reject(this.failure);
      this.pending.clear();
    };
    worker.once('error', fail);
    worker.once('exit', (code) => {
      if (this.worker === worker) fail(new EngineError(`Checking the databases stopped early (worker exit code ${code}).`, 'CHECK_FAILED'));
    });
    this.worker = worker;
    return worker;
  }
}
