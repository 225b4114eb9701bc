import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { actorDirFor, createFixture } from '../../electron/engine/fixture.js';
import { makeTempDir } from '../helpers/tmp.js';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const blobHashes = (dir: string) =>
  readdirSync(path.join(dir, 'blobs'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => `${path.relative(dir, path.join(e.parentPath, e.name))}:${sha256(path.join(e.parentPath, e.name))}`)
    .sort();

describe('createFixture', () => {
  it('writes a PDS data directory laid out and shaped like a real one', async () => {
    const dir = path.join(makeTempDir(), 'data');
    const result = await createFixture(dir, { accounts: 4, posts: 12, blobMB: 3, seed: 'layout' });
    expect(result.accounts).toBe(4);
    expect(result.dids).toHaveLength(4);
    expect(result.bytes).toBe(3 * 1024 * 1024);

    for (const [file, table] of [['account.sqlite', 'account'], ['sequencer.sqlite', 'repo_seq'], ['did_cache.sqlite', 'did_doc']] as const) {
      const db = new Database(path.join(dir, file), { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare(`SELECT count(*) FROM ${table}`).pluck().get()).toBeGreaterThan(0);
      db.close();
    }
    const account = new Database(path.join(dir, 'account.sqlite'), { readonly: true });
    expect(account.prepare('SELECT did FROM actor ORDER BY did').pluck().all()).toEqual([...result.dids].sort());
    expect(account.prepare('SELECT count(*) FROM account').pluck().get()).toBe(4);
    account.close();
    const sequencer = new Database(path.join(dir, 'sequencer.sqlite'), { readonly: true });
    expect(sequencer.prepare('SELECT max(seq) FROM repo_seq').pluck().get()).toBe(4 * (12 + 2));
    sequencer.close();

    for (const did of result.dids) {
      expect(did).toMatch(/^did:plc:[a-z2-7]{24}$/);
      const actorDir = path.join(dir, actorDirFor(did));
      expect(path.basename(path.dirname(actorDir))).toBe(createHash('sha256').update(did).digest('hex').slice(0, 2));
      expect(path.basename(actorDir)).toBe(did.replaceAll(':', '_'));
      expect(statSync(path.join(actorDir, 'key')).size).toBe(32);
      const store = new Database(path.join(actorDir, 'store.sqlite'), { readonly: true });
      expect(store.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(store.prepare("SELECT count(*) FROM record WHERE collection = 'app.bsky.feed.post'").pluck().get()).toBe(12);
      expect(store.prepare('SELECT count(*) FROM repo_block').pluck().get()).toBeGreaterThan(12);
      expect(store.prepare('SELECT did FROM repo_root').pluck().get()).toBe(did);
      store.close();
    }
    const blobs = blobHashes(dir);
    expect(blobs.length).toBe(result.blobs);
    expect(blobs.every((b) => /^blobs\/did:plc:[a-z2-7]{24}\/bafkrei[a-z2-7]{52}:/.test(b))).toBe(true);
    // Image-like: a JPEG header and bytes that do not compress.
    const first = path.join(dir, blobs[0]!.split(':').slice(0, -1).join(':'));
    const bytes = readFileSync(first);
    expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    expect(zlib.gzipSync(bytes).length).toBeGreaterThan(bytes.length * 0.99);
  });

  it('gives the same data for the same seed and different data for another', async () => {
    const root = makeTempDir();
    const a = await createFixture(path.join(root, 'a'), { accounts: 3, posts: 5, blobMB: 1, seed: 's1' });
    const b = await createFixture(path.join(root, 'b'), { accounts: 3, posts: 5, blobMB: 1, seed: 's1' });
    const c = await createFixture(path.join(root, 'c'), { accounts: 3, posts: 5, blobMB: 1, seed: 's2' });
    expect(b.dids).toEqual(a.dids);
    expect(blobHashes(path.join(root, 'b'))).toEqual(blobHashes(path.join(root, 'a')));
    expect(c.dids).not.toEqual(a.dids);
    const records = (d: string, did: string) => {
      const db = new Database(path.join(root, d, actorDirFor(did), 'store.sqlite'), { readonly: true });
      const rows = db.prepare('SELECT uri, cid FROM record ORDER BY uri').all();
      db.close();
      return rows;
    };
    expect(records('b', a.dids[0]!)).toEqual(records('a', a.dids[0]!));
  });

  it('refuses to write over an existing PDS', async () => {
    const dir = makeTempDir();
    await createFixture(dir, { accounts: 1, posts: 1, blobMB: 0 });
    await expect(createFixture(dir, { accounts: 1 })).rejects.toThrow(`${dir} already holds a PDS (account.sqlite exists)`);
    expect(existsSync(path.join(dir, 'account.sqlite'))).toBe(true);
  });
});
