import { Worker } from 'node:worker_threads';
import type { BackupResult, RestoreResult } from '../../shared/api.js';
import type { Progress } from '../../shared/progress.js';
import type { BackupOptions } from '../engine/backup.js';
import { EngineError } from '../engine/errors.js';
import type { RestoreOptions } from '../engine/restore.js';

type WithoutCallbacks<T> = Omit<T, 'onProgress' | 'signal'>;

interface Jobs {
  backup: { options: WithoutCallbacks<BackupOptions>; result: BackupResult };
  restore: { options: WithoutCallbacks<RestoreOptions>; result: RestoreResult };
}

interface WorkerError {
  message: string;
  code: string | null;
  isEngineError: boolean;
  causes: string[];
}

type WorkerMessage = { type: 'progress'; progress: Progress } | { type: 'done'; result: unknown } | { type: 'error'; error: WorkerError };

/**
 * Runs `runBackup` or `restoreBackup` in a worker thread (job-worker.mjs) and relays its progress; an
 * abort is passed on, so the engine cleans up as it does in-process. EngineErrors keep their message
 * and code; other errors keep their cause chain.
 */
export function runJobInWorker<K extends keyof Jobs>(
  kind: K,
  options: Jobs[K]['options'],
  callbacks: { onProgress: (p: Progress) => void; signal: AbortSignal },
): Promise<Jobs[K]['result']> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./job-worker.mjs', import.meta.url), { workerData: { kind, options } });
    let settled = false;
    const onAbort = () => worker.postMessage({ type: 'abort', reason: String((callbacks.signal.reason as Error | undefined)?.message ?? 'Cancelled') });
    callbacks.signal.addEventListener('abort', onAbort, { once: true });
    if (callbacks.signal.aborted) onAbort();
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      callbacks.signal.removeEventListener('abort', onAbort);
      void worker.terminate();
      fn();
    };
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') return callbacks.onProgress(message.progress);
      if (message.type === 'done') return finish(() => resolve(message.result as Jobs[K]['result']));
      const { message: text, code, isEngineError, causes } = message.error;
      const error = isEngineError ? new EngineError(text, code ?? undefined) : new Error(text, causes.length ? { cause: new Error(causes.join(' ← ')) } : undefined);
      finish(() => reject(error));
    });
    worker.on('error', (error) => finish(() => reject(new Error(`The ${kind} worker failed`, { cause: error }))));
    worker.on('exit', (code) => finish(() => reject(new Error(`The ${kind} worker stopped unexpectedly (exit code ${code}).`))));
  });
}
