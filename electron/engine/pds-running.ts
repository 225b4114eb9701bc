import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import Database from 'better-sqlite3';
import { EngineError } from './errors.js';

/**
 * Is the PDS running? A restore must never replace files under a live PDS. Two signs:
 * - a database is in use by another process: probed by opening it with `locking_mode=EXCLUSIVE` and
 *   `BEGIN IMMEDIATE` without waiting. That fails while any other connection has the database open
 *   in WAL mode (a running PDS, even idle) or holds a write transaction;
 * - the PDS's health URL answers, when one is configured.
 * Probing a database that a stopped PDS left with a `-wal` checkpoints that log into it, which is
 * what SQLite does for any program that opens it: the data stays the same.
 */
export interface RunningCheck {
  running: boolean;
  /** One sentence per sign found, naming the file or URL. */
  reasons: string[];
}

export async function checkPdsRunning(opts: { databases: string[]; healthUrl?: string }): Promise<RunningCheck> {
  const reasons: string[] = [];
  for (const file of opts.databases) {
    const busy = databaseInUse(file);
    if (busy) reasons.push(`${file} is open in another process (${busy})`);
    // Yield between files: there can be thousands of actor stores.
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (opts.healthUrl) {
    const answer = await probeHealthUrl(opts.healthUrl);
    if (answer) reasons.push(`the PDS answers at ${opts.healthUrl} (${answer})`);
  }
  return { running: reasons.length > 0, reasons };
}

/** A description of why the database is busy, or null when no other process is using it (or it does not exist). */
export function databaseInUse(file: string): string | null {
  // A file that is not a database (overwritten with junk) is left alone: SQLite would delete the -wal
  // beside it on close, and a restore keeps such files byte for byte in its pre-restore backup.
  if (!looksLikeDatabase(file)) return null;
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
  } catch (error) {
    return isBusy(error) ? describe(error) : null;
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    return null;
  } catch (error) {
    // A damaged or foreign file is not a sign of a running PDS; the restore may be what fixes it.
    return isBusy(error) ? describe(error) : null;
  } finally {
    db.close();
  }
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/** The file starts with SQLite's header, or is empty (a new database); false when it is missing or anything else. */
export function looksLikeDatabase(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(SQLITE_HEADER.length);
    const bytesRead = readSync(fd, head, 0, head.length, 0);
    return bytesRead === 0 || head.equals(SQLITE_HEADER);
  } finally {
    closeSync(fd);
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

function describe(error: unknown): string {
  return `${(error as { code?: string }).code}: ${(error as Error).message}`;
}

/** Any HTTP answer means something is serving there; a refused or timed-out connection means nothing is. */
export async function probeHealthUrl(url: string, timeoutMs = 3000): Promise<string | null> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return `HTTP ${response.status}`;
  } catch {
    return null;
  }
}

export interface CommandRun {
  command: string;
  exitCode: number | null;
  /** stdout and stderr, interleaved, at most the last 64 KB. */
  output: string;
}

/** Runs a configured stop or start command through the system shell, capturing its output. */
export function runShellCommand(command: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true, signal: opts.signal, timeout: opts.timeoutMs ?? 300_000 });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-65536);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) => reject(new EngineError(`Could not run "${command}": ${error.message}.`, 'COMMAND_FAILED')));
    child.on('close', (exitCode) => resolve({ command, exitCode, output: output.trim() }));
  });
}

/** Throws an EngineError with the command's output when it did not exit with 0. */
export async function runRequiredCommand(what: string, command: string, signal?: AbortSignal): Promise<CommandRun> {
  const run = await runShellCommand(command, { signal });
  if (run.exitCode !== 0) {
    const tail = run.output ? `\n${run.output.split('\n').slice(-20).join('\n')}` : '';
    throw new EngineError(`The ${what} command "${command}" failed (exit code ${run.exitCode ?? 'none: it was killed or timed out'}).${tail}`, 'COMMAND_FAILED');
  }
  return run;
}
