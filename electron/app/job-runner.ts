import { Worker } from 'node:worker_threads';
import type { BackupResult, RestoreResult } from '../../shared/api.js';
import type { TargetCopyResult } from '../../shared/targets.js';
import type { Progress } from '../../shared/progress.js';
import type { BackupOptions } from '../engine/backup.js';
import { EngineError } from '../engine/errors.js';
import type { RestoreOptions } from '../engine/restore.js';
import type { CopyEvent, CopyJobOptions, DownloadEvent, DownloadJobOptions } from '../engine/targets/offsite.js';

type WithoutCallbacks<T> = Omit<T, 'onProgress' | 'signal'>;

interface Jobs {
  backup: { options: WithoutCallbacks<BackupOptions>; progress: Progress; result: BackupResult };
  restore: { options: WithoutCallbacks<RestoreOptions>; progress: Progress; result: RestoreResult };
  /** Off-site copies of one backup (copyToTargetsJob): its "progress" is every event of the copy. */
  copy: { options: CopyJobOptions; progress: CopyEvent; result: TargetCopyResult[] };
  /** A backup fetched from a target (downloadBackupJob): resolves to the local folder. */
  download: { options: DownloadJobOptions; progress: DownloadEvent; result: string };
}

interface WorkerError {
  message: string;
  code: string | null;
  isEngineError: boolean;
  causes: string[];
}

type WorkerMessage =
  | { type: 'ready' }
  | { id: number; type: 'progress'; progress: unknown }
  | { id: number; type: 'question'; question: unknown }
  | { id: number; type: 'done'; result: unknown }
  | { id: number; type: 'error'; error: WorkerError };

interface Pending {
  onProgress(p: unknown): void;
  onQuestion?(question: unknown): Promise<unknown>;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

/** The one job worker of this process (job-worker.mjs), started on first use; it does not keep the process alive when idle. */
let shared: { worker: Worker; pending: Map<number, Pending> } | null = null;
let nextId = 1;

function jobWorker(): NonNullable<typeof shared> {
  if (shared) return shared;
  const worker = new Worker(new URL('./job-worker.mjs', import.meta.url));
  const current = { worker, pending: new Map<number, Pending>() };
  const failAll = (error: Error) => {
    if (shared === current) shared = null;
    for (const job of current.pending.values()) job.reject(error);
    current.pending.clear();
  };
  worker.on('message', (message: WorkerMessage) => {
    if (message.type === 'ready') return;
    const job = current.pending.get(message.id);
    if (!job) return;
    if (message.type === 'progress') return job.onProgress(message.progress);
    if (message.type === 'question') {
      const asked = job.onQuestion?.(message.question) ?? Promise.resolve(undefined);
      void asked.then(
        (answer) => worker.postMessage({ type: 'answer', id: message.id, answer }),
        () => worker.postMessage({ type: 'answer', id: message.id, answer: undefined }),
      );
      return;
    }
    current.pending.delete(message.id);
    if (current.pending.size === 0) worker.unref();
    if (message.type === 'done') return job.resolve(message.result);
    const { message: text, code, isEngineError, causes } = message.error;
    job.reject(isEngineError ? new EngineError(text, code ?? undefined) : new Error(text, causes.length ? { cause: new Error(causes.join(' ← ')) } : undefined));
  });
  worker.on('error', (error) => failAll(new Error('The job worker failed', { cause: error })));
  worker.on('exit', (code) => failAll(new Error(`The job worker stopped unexpectedly (exit code ${code}).`)));
  shared = current;
  return current;
}

/**
 * Runs `runBackup`, `restoreBackup`, `copyToTargetsJob` or `downloadBackupJob` in the job worker and relays its progress; an abort is passed on, so
 * the engine cleans up as it does in-process. EngineErrors keep their message and code; other errors
 * keep their cause chain.
 */
export function runJobInWorker<K extends keyof Jobs>(
  kind: K,
  options: Jobs[K]['options'],
  callbacks: {
    onProgress: (p: Jobs[K]['progress']) => void;
    signal: AbortSignal;
    /**
     * A restore's question for the user (the configuration there belongs to another PDS); what it resolves
     * to goes back to the engine. With it, the job is started with `askConfig`.
     */
    onQuestion?: (question: unknown) => Promise<unknown>;
  },
): Promise<Jobs[K]['result']> {
  const { worker, pending } = jobWorker();
  const id = nextId++;
  return new Promise<Jobs[K]['result']>((resolve, reject) => {
    const onAbort = () => worker.postMessage({ type: 'abort', id, reason: String((callbacks.signal.reason as Error | undefined)?.message ?? 'Cancelled') });
    const settle = () => callbacks.signal.removeEventListener('abort', onAbort);
    pending.set(id, {
      onProgress: callbacks.onProgress as (p: unknown) => void,
      onQuestion: callbacks.onQuestion,
      resolve: (result) => (settle(), resolve(result as Jobs[K]['result'])),
      reject: (error) => (settle(), reject(error)),
    });
    worker.ref();
    worker.postMessage({ type: 'start', id, kind, options, askConfig: callbacks.onQuestion !== undefined });
    callbacks.signal.addEventListener('abort', onAbort, { once: true });
    if (callbacks.signal.aborted) onAbort();
  });
}

/** Stops the job worker (at quit, or when a test ends); the next job starts a new one. */
export async function stopJobWorker(): Promise<void> {
  const current = shared;
  shared = null;
  await current?.worker.terminate();
}
