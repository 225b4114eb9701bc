import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { actorDirFor, createFixture } from '../../electron/engine/fixture.js';
import type { Manifest } from '../../shared/manifest.js';

/** Changes a PDS makes between two backups, done to a real data directory (WAL mode, as the PDS writes). */

/** A new blob file under an existing account's blob folder; returns its path relative to blobs/. */
export function addBlob(dataDir: string, bytes = 40_000): string {
  const owner = readdirSync(path.join(dataDir, 'blobs'))[0]!;
  const name = `bafkrei${randomBytes(26).toString('hex').slice(0, 52)}`;
  writeFileSync(path.join(dataDir, 'blobs', owner, name), randomBytes(bytes));
  return `${owner}/${name}`;
}

/** A row in each of a few actor stores (a post), committed in WAL mode. */
export function writeToActors(dataDir: string, dids: string[]): void {
  for (const did of dids) {
    const db = new Database(path.join(dataDir, actorDirFor(did), 'store.sqlite'));
    db.pragma('journal_mode = WAL');
    const rkey = randomBytes(6).toString('hex');
    db.prepare('INSERT INTO record (uri, cid, collection, rkey, repoRev, indexedAt) VALUES (?, ?, ?, ?, ?, ?)').run(
      `at://${did}/app.bsky.feed.post/${rkey}`, `bafyrei${rkey}`, 'app.bsky.feed.post', rkey, 'rev', new Date().toISOString(),
    );
    db.close();
  }
}

/** A new account, made by the fixture generator elsewhere and moved in: its actor store, its blobs, its rows. */
export async function addAccount(dataDir: string, scratch: string, seed: string): Promise<string> {
  const other = path.join(scratch, `account-${seed}`);
  const [did] = (await createFixture(other, { accounts: 1, posts: 3, blobMB: 0.1, seed })).dids;
  cpSync(path.join(other, actorDirFor(did!)), path.join(dataDir, actorDirFor(did!)), { recursive: true });
  mkdirSync(path.join(dataDir, 'blobs'), { recursive: true });
  for (const folder of readdirSync(path.join(other, 'blobs'))) cpSync(path.join(other, 'blobs', folder), path.join(dataDir, 'blobs', folder), { recursive: true });
  const db = new Database(path.join(dataDir, 'account.sqlite'));
  db.pragma('journal_mode = WAL');
  db.exec(`ATTACH '${path.join(other, 'account.sqlite').replaceAll("'", "''")}' AS other`);
  db.exec(`INSERT INTO actor (did, handle, createdAt) SELECT did, '${seed}-' || handle, createdAt FROM other.actor;
    INSERT INTO account (did, email, passwordScrypt, emailConfirmedAt) SELECT did, '${seed}-' || email, passwordScrypt, emailConfirmedAt FROM other.account`);
  db.exec('DETACH other');
  db.close();
  rmSync(other, { recursive: true, force: true });
  return did!;
}

/** An account deleted: its rows, its actor store folder and its blobs. */
export function deleteAccount(dataDir: string, did: string): void {
  const db = new Database(path.join(dataDir, 'account.sqlite'));
  db.pragma('journal_mode = WAL');
  db.prepare('DELETE FROM account WHERE did = ?').run(did);
  db.prepare('DELETE FROM actor WHERE did = ?').run(did);
  db.close();
  rmSync(path.join(dataDir, actorDirFor(did)), { recursive: true, force: true });
  rmSync(path.join(dataDir, 'blobs', did), { recursive: true, force: true });
}

/**
 * Dates every file a minute back. A fingerprint taken within seconds of a write never counts as unchanged
 * (the file system's clock may not have ticked), so a chain starts from settled files.
 */
export function ageFiles(dir: string): void {
  const then = new Date(Date.now() - 60_000);
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) utimesSync(path.join(entry.parentPath, entry.name), then, then);
}

export const manifestOf = (backup: string) => JSON.parse(readFileSync(path.join(backup, 'manifest.json'), 'utf8')) as Manifest;
