// Runs long engine jobs (backups, restores, off-site copies and downloads) in a worker thread, so that the app's main thread (Electron's
// main process, or `serve`) only relays progress: its event loop stays free whatever the engine does
// synchronously. One worker serves every job (started once, its modules loaded once). Plain .mjs so that
// it loads the same way under vitest and tsx; `npm run build` bundles it with the engine (dist/job-worker.mjs).
import { parentPort as maybeParentPort } from 'node:worker_threads';

const parentPort = /** @type {import('node:worker_threads').MessagePort} */ (maybeParentPort);

if (!globalThis.AURORA_BUNDLED) {
  // Running from the TypeScript sources (development, tests): load them through tsx. The build defines
  // AURORA_BUNDLED, so this branch and tsx are not part of the bundle.
  const { register } = await import('tsx/esm/api');
  register();
}

/**
 * An error as plain data: message, EngineError code, and the chain of causes for the log.
 * @param {any} error
 */
function describe(error) {
  /** @type {string[]} */
  const causes = [];
  for (let e = error?.cause; e && causes.length < 5; e = e.cause) causes.push(e instanceof Error ? e.message : String(e));
  // A TargetError is an EngineError too: its message is for the user.
  let isEngineError = false;
  for (let proto = error && Object.getPrototypeOf(error); proto && !isEngineError; proto = Object.getPrototypeOf(proto)) isEngineError = proto.constructor?.name === 'EngineError';
  return { message: error instanceof Error ? error.message : String(error), code: error?.code ?? null, isEngineError, causes };
}

/**
 * @param {string} kind
 * @param {any} options the job's options, checked by the caller (job-runner.ts)
 * @param {(progress: unknown) => void} onProgress
 * @param {AbortSignal} signal
 * @param {((question: unknown) => Promise<unknown>) | undefined} chooseConfig
 */
async function run(kind, options, onProgress, signal, chooseConfig) {
  if (kind === 'backup') {
    const { runBackup } = await import('../engine/backup.js');
    return runBackup({ ...options, onProgress, signal });
  }
  if (kind === 'restore') {
    const { restoreBackup } = await import('../engine/restore.js');
    return restoreBackup({ ...options, onProgress, signal, ...(chooseConfig && { chooseConfig }) });
  }
  if (kind === 'copy') {
    const { copyToTargetsJob } = await import('../engine/targets/offsite.js');
    return copyToTargetsJob({ ...options, onProgress, signal });
  }
  if (kind === 'download') {
    const { downloadBackupJob } = await import('../engine/targets/offsite.js');
    return downloadBackupJob({ ...options, onProgress, signal });
  }
  throw new Error(`Unknown job kind ${kind}`);
}

// Backups, and restores (which unpack beside the running PDS), leave the CPU to the PDS first.
const { yieldWorkerCpuToPds } = await import('../engine/priority.js');
yieldWorkerCpuToPds();

/** @type {Map<number, AbortController>} */
const running = new Map();
/** A restore's open question (its configuration differs), by job: answered by the main thread. @type {Map<number, (answer: unknown) => void>} */
const questions = new Map();
parentPort.on('message', async (message) => {
  if (message.type === 'abort') {
    questions.get(message.id)?.(undefined); // an unanswered question counts as no answer: the engine refuses
    return running.get(message.id)?.abort(new Error(message.reason));
  }
  if (message.type === 'answer') return questions.get(message.id)?.(message.answer);
  if (message.type !== 'start') return;
  const { id, kind, options, askConfig } = message;
  /** @param {unknown} question */
  const ask = (question) =>
    new Promise((resolve) => {
      questions.set(id, (answer) => {
        questions.delete(id);
        resolve(answer);
      });
      parentPort.postMessage({ id, type: 'question', question });
    });
  const abort = new AbortController();
  running.set(id, abort);
  const onProgress = (/** @type {unknown} */ progress) => parentPort.postMessage({ id, type: 'progress', progress });
  try {
    parentPort.postMessage({ id, type: 'done', result: await run(kind, options, onProgress, abort.signal, askConfig ? ask : undefined) });
  } catch (error) {
    parentPort.postMessage({ id, type: 'error', error: describe(error) });
  } finally {
    running.delete(id);
  }
});
parentPort.postMessage({ type: 'ready' });
