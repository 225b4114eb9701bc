// Runs `PRAGMA integrity_check` on database copies off the main thread, for integrity.ts: each message
// { index, file, queries? } gets one answer { index, ok, messages, answers? } (single-value queries,
// asked of a copy that passed; null for one this schema cannot answer). A copy belongs to the caller alone, so it is
// opened for writing: one from an original backup.sh archive may come with its -wal, which SQLite then
// folds in. Plain .mjs so that Node loads it the same under tsx, vitest and the build.
import { parentPort as maybeParentPort } from 'node:worker_threads';
import Database from 'better-sqlite3';

// Pages read through a memory map instead of one pread() each: the checks of a 1 GB sample's 105
// databases take under 2 s of a restore instead of about 4. 16 MiB covers a typical actor store whole
// and caps what the mapping adds to resident memory while a larger database is checked.
const MAPPED_BYTES = 16 * 1024 * 1024;
const parentPort = /** @type {import('node:worker_threads').MessagePort} */ (maybeParentPort);

parentPort.on('message', ({ index, file, queries }) => {
  /** @type {{ ok: boolean, messages: string[], answers?: Record<string, unknown> }} */
  let result;
  try {
    const db = new Database(file, { fileMustExist: true });
    try {
      db.pragma(`mmap_size = ${MAPPED_BYTES}`);
      const rows = /** @type {Array<Record<string, unknown>>} */ (db.pragma('integrity_check(10)', { simple: false }));
      const messages = rows.map((row) => String(Object.values(row)[0]));
      result = { ok: messages.length === 1 && messages[0] === 'ok', messages };
      if (result.ok && queries) result.answers = ask(db, queries);
    } finally {
      db.close();
    }
  } catch (error) {
    result = { ok: false, messages: [error instanceof Error ? error.message : String(error)] };
  }
  parentPort.postMessage({ index, ...result });
});

/**
 * @param {Database.Database} db
 * @param {Record<string, string>} queries
 */
function ask(db, queries) {
  /** @type {Record<string, unknown>} */
  const answers = {};
  for (const [name, sql] of Object.entries(queries)) {
    try {
      answers[name] = db.prepare(sql).pluck().get() ?? null;
    } catch {
      answers[name] = null; // a table this schema does not have
    }
  }
  return answers;
}
