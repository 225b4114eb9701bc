// Runs `PRAGMA integrity_check` on SQLite files off the main thread (it is synchronous and can take long
// on a big database). Plain .mjs so that Node loads it the same under tsx, vitest and the build.
// Message in: { file }; message out: { ok, messages }.
import { parentPort } from 'node:worker_threads';
import Database from 'better-sqlite3';

function check(file) {
  try {
    const db = new Database(file, { fileMustExist: true });
    try {
      const messages = db.pragma('integrity_check(10)', { simple: false }).map((row) => String(Object.values(row)[0]));
      return { ok: messages.length === 1 && messages[0] === 'ok', messages };
    } finally {
      db.close();
    }
  } catch (error) {
    return { ok: false, messages: [error instanceof Error ? error.message : String(error)] };
  }
}

parentPort.on('message', ({ file }) => parentPort.postMessage(check(file)));
