import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Component } from '../../shared/components.js';

/**
 * The logical content of a database: every row of every table, through SQLite (so rows that live
 * only in a -wal count), independent of page layout. Opened read-only: nothing is checkpointed.
 */
export function databaseDigest(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const hash = createHash('sha256');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>;
    for (const { name } of tables) {
      const rows = db.prepare(`SELECT * FROM "${name}"`).raw().all().map((row) => JSON.stringify(row, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v)));
      hash.update(`${name}\n${rows.sort().join('\n')}\n`);
    }
    return hash.digest('hex');
  } finally {
    db.close();
  }
}

/** A folder's content: relative paths, file bytes, and databases by their rows (their -wal/-shm folded in). */
export function treeDigest(dir: string): string {
  const hash = createHash('sha256');
  const entries = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .filter((rel) => !/-(wal|shm|journal)$/.test(rel))
    .sort();
  for (const rel of entries) {
    const file = path.join(dir, rel);
    hash.update(`${rel}\n${rel.endsWith('.sqlite') ? databaseDigest(file) : createHash('sha256').update(readFileSync(file)).digest('hex')}\n`);
  }
  return hash.digest('hex');
}

const DATABASE_FILE: Partial<Record<Component, string>> = { account: 'account.sqlite', sequencer: 'sequencer.sqlite', did_cache: 'did_cache.sqlite' };

/** One component of a data directory in the default layout, or `absent`. */
export function componentDigest(dataDir: string, component: Component): string {
  const target = path.join(dataDir, DATABASE_FILE[component] ?? component);
  if (!existsSync(target)) return 'absent';
  return statSync(target).isDirectory() ? treeDigest(target) : databaseDigest(target);
}

/** Every file below `dir` with its exact bytes, for "nothing else changed" checks. */
export function exactFiles(dir: string, ignore: (rel: string) => boolean = () => false): Record<string, string> {
  const files: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const rel = path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/');
    if (!ignore(rel)) files[rel] = createHash('sha256').update(readFileSync(path.join(dir, rel))).digest('hex');
  }
  return files;
}

/** Every file under `dir` with its size and content hash: what "nothing changed" means on disk. */
export function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else out[path.relative(dir, full)] = `${statSync(full).size}:${createHash('sha256').update(readFileSync(full)).digest('hex')}`;
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}
