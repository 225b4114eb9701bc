// Runs one long engine job (a backup or a restore) in a worker thread, so that the app's main thread
// (Electron's main process, or `serve`) only relays progress: its event loop stays free whatever the
// engine does synchronously. Plain .mjs so that it loads the same way under Electron, tsx and vitest.
import { existsSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const engine = new URL('../engine/', import.meta.url);
if (!existsSync(new URL('backup.js', engine))) {
  // Running from the TypeScript sources (development, tests): load them through tsx.
  const { register } = await import('tsx/esm/api');
  register();
}

const abort = new AbortController();
parentPort.on('message', (message) => {
  if (message?.type === 'abort') abort.abort(new Error(message.reason));
});
const onProgress = (progress) => parentPort.postMessage({ type: 'progress', progress });

/** An error as plain data: message, EngineError code, and the chain of causes for the log. */
function describe(error) {
  const causes = [];
  for (let e = error?.cause; e && causes.length < 5; e = e.cause) causes.push(e instanceof Error ? e.message : String(e));
  return { message: error instanceof Error ? error.message : String(error), code: error?.code ?? null, isEngineError: error?.constructor?.name === 'EngineError', causes };
}

try {
  const { kind, options } = workerData;
  let result;
  if (kind === 'backup') {
    const { runBackup } = await import(new URL('backup.js', engine).href);
    result = await runBackup({ ...options, onProgress, signal: abort.signal });
  } else if (kind === 'restore') {
    const { restoreBackup } = await import(new URL('restore.js', engine).href);
    result = await restoreBackup({ ...options, onProgress, signal: abort.signal });
  } else {
    throw new Error(`Unknown job kind ${kind}`);
  }
  parentPort.postMessage({ type: 'done', result });
} catch (error) {
  parentPort.postMessage({ type: 'error', error: describe(error) });
}
