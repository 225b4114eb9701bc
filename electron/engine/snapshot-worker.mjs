// Worker thread: copies SQLite databases through SQLite itself, in one step, so a writer in another
// process can neither corrupt the copy nor keep it from finishing. A small database is read into memory
// with sqlite3_serialize (a page copy inside one read transaction); a large one is written to a file
// with `VACUUM INTO`. Plain .mjs so that Node loads it as is under tsx, vitest and the built app.
// Protocol: see snapshot.ts.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort as maybeParentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

// serialize()'s buffers are freed by finalizers after this thread's GC notices them, and a thread that
// allocates almost nothing else seldom collects: collect after every 8 MiB copied (as jest-leak-detector
// does, exposing gc at runtime), else the copies already handed over pile up in memory.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc');
const GC_EVERY_BYTES = 8 * 1024 * 1024;
let copiedSinceGc = 0;

/**
 * @typedef {{ source: string, target: string, queries?: Record<string, string> }} Job
 * @typedef {{ size: number, pageCount: number, answers: Record<string, unknown>, data?: Uint8Array, kib?: number }
 *   | { vanished: true } | { error: string, code: string }} Result
 */
const parentPort = /** @type {import('node:worker_threads').MessagePort} */ (maybeParentPort);
const { jobs, inMemoryMax, inMemoryBudget, inFlightBuffer } = /** @type {{ jobs: Job[], inMemoryMax: number, inMemoryBudget: number, inFlightBuffer: SharedArrayBuffer }} */ (workerData);
/** KiB of in-memory snapshots posted and not yet released by the main thread. */
const inFlight = new Int32Array(inFlightBuffer);

for (const [index, job] of jobs.entries()) {
  const result = await snapshot(job);
  copiedSinceGc += ('data' in result && result.data?.length) || 0;
  // Copied by the message rather than transferred: a transferred buffer is freed by the main thread's
  // GC into this thread's malloc arena, which then stays fragmented at tens of MB (measured).
  parentPort.postMessage({ index, ...result });
  if (copiedSinceGc >= GC_EVERY_BYTES) {
    collectGarbage({ type: 'minor' }); // the buffers are young: a scavenge frees them, in a third of a full GC's time
    copiedSinceGc = 0;
  }
  // The finalizers run only when this thread's event loop turns.
  await new Promise((resolve) => setImmediate(resolve));
}

/**
 * @param {Job} job
 * @returns {Promise<Result>}
 */
async function snapshot(job) {
  // An actor deleted while the backup runs: nothing to copy, not an error.
  if (!existsSync(job.source)) return { vanished: true };
  try {
    const bytes = sizeOf(job.source) + sizeOf(`${job.source}-wal`);
    if (bytes > inMemoryMax) return toFile(job);
    await waitForRoom(kib(bytes));
    return inMemory(job);
  } catch (/** @type {any} */ error) {
    if (error.code === 'SQLITE_CANTOPEN' && !existsSync(job.source)) return { vanished: true };
    return { error: error.message, code: error.code ?? 'SQLITE_ERROR' };
  }
}

/** @param {Job} job */
function inMemory({ source, queries }) {
  const db = open(source);
  try {
    // One read transaction: the answers describe exactly the pages copied. Reading the schema starts it
    // (and names a damaged file: serialize would only say "out of memory").
    db.exec('BEGIN');
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
    const answers = ask(db, queries);
    const serialized = db.serialize();
    db.exec('COMMIT');
    // A copy Node can transfer to the main thread (SQLite's own buffer cannot be).
    const dataKib = kib(serialized.length);
    Atomics.add(inFlight, 0, dataKib);
    return { size: serialized.length, pageCount: serialized.length / /** @type {number} */ (db.pragma('page_size', { simple: true })), answers, data: serialized, kib: dataKib };
  } finally {
    db.close();
  }
}

/** @param {Job} job */
function toFile({ source, target, queries }) {
  mkdirSync(path.dirname(target), { recursive: true });
  const db = open(source);
  try {
    // The copy is a staging file, compressed and fsync'd later; syncing it too only halves the speed.
    db.pragma('synchronous = OFF');
    db.prepare('VACUUM INTO ?').run(target);
  } finally {
    db.close();
  }
  const copy = new Database(target, { readonly: true, fileMustExist: true });
  try {
    return { size: statSync(target).size, pageCount: /** @type {number} */ (copy.pragma('page_count', { simple: true })), answers: ask(copy, queries) };
  } finally {
    copy.close();
  }
}

/** Waits until the main thread has released enough earlier snapshots (never for the first one). */
/** @param {number} needKib */
async function waitForRoom(needKib) {
  for (;;) {
    const current = Atomics.load(inFlight, 0);
    if (current === 0 || current + needKib <= inMemoryBudget / 1024) return;
    // The timer keeps this thread's event loop alive: a pending waitAsync alone does not.
    const keepAlive = setTimeout(() => undefined, 1000);
    await Atomics.waitAsync(inFlight, 0, current, 200).value;
    clearTimeout(keepAlive);
  }
}

/**
 * @param {Database.Database} db
 * @param {Record<string, string> | undefined} queries
 */
function ask(db, queries) {
  /** @type {Record<string, unknown>} */
  const answers = {};
  for (const [name, sql] of Object.entries(queries ?? {})) {
    try {
      answers[name] = db.prepare(sql).pluck().get() ?? null;
    } catch {
      answers[name] = null; // a table this PDS version does not have
    }
  }
  return answers;
}

/** @param {string} source */
function open(source) {
  const db = new Database(source, { readonly: true, fileMustExist: true, timeout: 30_000 });
  // Every page is read once: SQLite's default 16 MB cache (per database, VACUUM INTO's target too) would only hold memory.
  db.pragma('cache_size = -2048');
  return db;
}

/** @param {string} file */
function sizeOf(file) {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** @param {number} bytes */
function kib(bytes) {
  return Math.ceil(bytes / 1024);
}
