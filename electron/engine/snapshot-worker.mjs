// Worker thread: copies SQLite databases through SQLite itself (`VACUUM INTO`, one step, so a writer in
// another process can neither corrupt the copy nor keep it from finishing). Plain .mjs so that Node loads
// it as is under tsx, vitest and the built app. Protocol: see snapshot.ts.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

for (const [index, job] of workerData.jobs.entries()) {
  parentPort.postMessage({ index, ...snapshot(job) });
}

function snapshot({ source, target, queries }) {
  // An actor deleted while the backup runs: nothing to copy, not an error.
  if (!existsSync(source)) return { vanished: true };
  try {
    mkdirSync(path.dirname(target), { recursive: true });
    const db = new Database(source, { readonly: true, fileMustExist: true, timeout: 30_000 });
    try {
      // The copy is a staging file, compressed and fsync'd later; syncing it too only halves the speed.
      db.pragma('synchronous = OFF');
      db.prepare('VACUUM INTO ?').run(target);
    } finally {
      db.close();
    }
    const copy = new Database(target, { readonly: true, fileMustExist: true });
    try {
      const answers = {};
      for (const [name, sql] of Object.entries(queries ?? {})) {
        try {
          answers[name] = copy.prepare(sql).pluck().get() ?? null;
        } catch {
          answers[name] = null; // a table this PDS version does not have
        }
      }
      return { size: statSync(target).size, pageCount: copy.pragma('page_count', { simple: true }), answers };
    } finally {
      copy.close();
    }
  } catch (error) {
    if (error.code === 'SQLITE_CANTOPEN' && !existsSync(source)) return { vanished: true };
    return { error: error.message, code: error.code ?? 'SQLITE_ERROR' };
  }
}
