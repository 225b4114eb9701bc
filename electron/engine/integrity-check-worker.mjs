// Runs `PRAGMA integrity_check` on one SQLite file off the main thread (it is synchronous and can take
// long on a big database). Plain .mjs so that Node loads it the same under tsx, vitest and the build.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

let result;
try {
  const db = new Database(workerData.file, { fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check(10)', { simple: false });
    const messages = rows.map((row) => String(Object.values(row)[0]));
    result = { ok: messages.length === 1 && messages[0] === 'ok', messages };
  } finally {
    db.close();
  }
} catch (error) {
  result = { ok: false, messages: [error instanceof Error ? error.message : String(error)] };
}
parentPort.postMessage(result);
