import { createCipheriv, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Progress } from '../../shared/progress.js';
import { EngineError } from './errors.js';

export interface FixtureOptions {
  accounts?: number;
  /** Posts per account. */
  posts?: number;
  /** Total megabytes of blob files, spread over the accounts. */
  blobMB?: number;
  seed?: string;
}

export interface FixtureResult {
  accounts: number;
  actors: number;
  blobs: number;
  /** Bytes of blob files written. */
  bytes: number;
  dids: string[];
}

export const FIXTURE_DEFAULTS = { accounts: 10, posts: 50, blobMB: 20, seed: 'aurora' } as const;

/** Schemas shaped like the atproto PDS's own (account, sequencer, did cache, actor store). */
const ACCOUNT_SCHEMA = `
CREATE TABLE actor (did TEXT PRIMARY KEY, handle TEXT UNIQUE, createdAt TEXT NOT NULL, takedownRef TEXT, deactivatedAt TEXT, deleteAfter TEXT);
CREATE TABLE account (did TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, passwordScrypt TEXT NOT NULL, emailConfirmedAt TEXT, invitesDisabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE refresh_token (id TEXT PRIMARY KEY, did TEXT NOT NULL, expiresAt TEXT NOT NULL, appPasswordName TEXT, nextId TEXT);
CREATE INDEX refresh_token_did_idx ON refresh_token(did);
CREATE TABLE app_password (did TEXT NOT NULL, name TEXT NOT NULL, passwordScrypt TEXT NOT NULL, createdAt TEXT NOT NULL, privileged INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (did, name));
CREATE TABLE repo_root (did TEXT PRIMARY KEY, cid TEXT NOT NULL, rev TEXT NOT NULL, indexedAt TEXT NOT NULL);
CREATE TABLE invite_code (code TEXT PRIMARY KEY, availableUses INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, forAccount TEXT NOT NULL, createdBy TEXT NOT NULL, createdAt TEXT NOT NULL);
CREATE TABLE email_token (purpose TEXT NOT NULL, did TEXT NOT NULL, token TEXT NOT NULL, requestedAt TEXT NOT NULL, PRIMARY KEY (purpose, did));
`;
const SEQUENCER_SCHEMA = `
CREATE TABLE repo_seq (seq INTEGER PRIMARY KEY AUTOINCREMENT, did TEXT NOT NULL, eventType TEXT NOT NULL, event BLOB NOT NULL, invalidated INTEGER NOT NULL DEFAULT 0, sequencedAt TEXT NOT NULL);
CREATE INDEX repo_seq_did_idx ON repo_seq(did);
CREATE INDEX repo_seq_event_type_idx ON repo_seq(eventType);
CREATE INDEX repo_seq_sequenced_at_index ON repo_seq(sequencedAt);
`;
const DID_CACHE_SCHEMA = `CREATE TABLE did_doc (did TEXT PRIMARY KEY, doc TEXT NOT NULL, updatedAt INTEGER NOT NULL);`;
const ACTOR_SCHEMA = `
CREATE TABLE repo_root (did TEXT PRIMARY KEY, cid TEXT NOT NULL, rev TEXT NOT NULL, indexedAt TEXT NOT NULL);
CREATE TABLE repo_block (cid TEXT PRIMARY KEY, repoRev TEXT NOT NULL, size INTEGER NOT NULL, content BLOB NOT NULL);
CREATE INDEX repo_block_repo_rev_idx ON repo_block(repoRev, cid);
CREATE TABLE record (uri TEXT PRIMARY KEY, cid TEXT NOT NULL, collection TEXT NOT NULL, rkey TEXT NOT NULL, repoRev TEXT NOT NULL, indexedAt TEXT NOT NULL, takedownRef TEXT);
CREATE INDEX record_cid_idx ON record(cid);
CREATE INDEX record_collection_idx ON record(collection);
CREATE TABLE blob (cid TEXT PRIMARY KEY, mimeType TEXT NOT NULL, size INTEGER NOT NULL, tempKey TEXT, width INTEGER, height INTEGER, createdAt TEXT NOT NULL, takedownRef TEXT);
CREATE TABLE record_blob (blobCid TEXT NOT NULL, recordUri TEXT NOT NULL, PRIMARY KEY (blobCid, recordUri));
CREATE TABLE backlink (uri TEXT NOT NULL, path TEXT NOT NULL, linkTo TEXT NOT NULL, PRIMARY KEY (uri, path));
CREATE TABLE account_pref (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, valueJson TEXT NOT NULL);
`;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const START = Date.UTC(2024, 0, 1);
const WORDS = 'the a sky aurora morning light over harbor coffee garden walk photo from today new post hello world'.split(' ');

/** `actors/<first 2 hex of sha256(did)>/<did with ':' as '_'>`, relative to the data directory. */
export function actorDirFor(did: string): string {
  const hash = createHash('sha256').update(did).digest('hex');
  return path.join('actors', hash.slice(0, 2), did.replaceAll(':', '_'));
}

/**
 * Writes a sample PDS data directory. Everything (DIDs, rows, blob bytes) follows from the seed.
 * Blob bytes come from AES-CTR over zeros: incompressible like JPEG data, deterministic and fast.
 */
export async function createFixture(dir: string, opts: FixtureOptions = {}, onProgress?: (p: Progress) => void): Promise<FixtureResult> {
  const accounts = opts.accounts ?? FIXTURE_DEFAULTS.accounts;
  const posts = opts.posts ?? FIXTURE_DEFAULTS.posts;
  const blobMB = opts.blobMB ?? FIXTURE_DEFAULTS.blobMB;
  const seed = opts.seed ?? FIXTURE_DEFAULTS.seed;
  if (!Number.isInteger(accounts) || accounts < 1) throw new EngineError(`--accounts must be a whole number of at least 1, not ${accounts}.`, 'BAD_INPUT');
  if (!Number.isInteger(posts) || posts < 0) throw new EngineError(`--posts must be a whole number of 0 or more, not ${posts}.`, 'BAD_INPUT');
  if (!(blobMB >= 0)) throw new EngineError(`--blob-mb must be 0 or more, not ${blobMB}.`, 'BAD_INPUT');
  if (existsSync(path.join(dir, 'account.sqlite'))) {
    throw new EngineError(`${dir} already holds a PDS (account.sqlite exists). Choose an empty or new directory for the sample data.`, 'EXISTS');
  }

  const rand = seededRandom(`${seed}:layout`);
  const bytes = seededBytes(seed);
  const hash = (text: string) => createHash('sha512').update(`${seed}:${text}`).digest(); // 64 bytes: enough for a CID
  const base32 = (buf: Buffer, length: number) => Array.from(buf.subarray(0, length), (b) => BASE32[b & 31]).join('');
  const cid = (kind: 'bafyrei' | 'bafkrei', text: string) => kind + base32(hash(text), 52);
  const time = (offsetSeconds: number) => new Date(START + offsetSeconds * 1000).toISOString();

  // Blob sizes like photos: 50 KB to 1 MB, until the requested total is reached.
  const blobBytesTotal = Math.round(blobMB * 1024 * 1024);
  const blobSizes: number[] = [];
  for (let left = blobBytesTotal; left > 0; ) {
    const size = Math.min(left, 50_000 + Math.floor(rand() * 950_000));
    blobSizes.push(size);
    left -= size;
  }
  const startedAt = new Date().toISOString();
  let bytesDone = 0;
  let filesDone = 0;
  const filesTotal = blobSizes.length + accounts;
  const report = (current: string) =>
    onProgress?.({ operation: 'backup', phase: 'preparing', bytesDone, bytesTotal: blobBytesTotal, filesDone, filesTotal, current, startedAt });

  try {
    await mkdir(path.join(dir, 'actors'), { recursive: true });
    await mkdir(path.join(dir, 'blobs'), { recursive: true });
  } catch (error) {
    throw new EngineError(`Cannot create ${dir}: ${(error as Error).message}. Choose a folder you can write to.`, 'CANNOT_WRITE');
  }
  const open = (file: string, schema: string) => {
    const db = new Database(path.join(dir, file));
    db.pragma('journal_mode = WAL');
    db.exec(schema);
    return db;
  };
  const accountDb = open('account.sqlite', ACCOUNT_SCHEMA);
  const sequencerDb = open('sequencer.sqlite', SEQUENCER_SCHEMA);
  const didCacheDb = open('did_cache.sqlite', DID_CACHE_SCHEMA);
  const seq = sequencerDb.prepare('INSERT INTO repo_seq (did, eventType, event, sequencedAt) VALUES (?, ?, ?, ?)');

  const dids: string[] = [];
  let blobIndex = 0;
  let clock = 0;
  try {
    for (let a = 0; a < accounts; a++) {
      const did = `did:plc:${base32(hash(`did:${a}`), 24)}`;
      const handle = `${WORDS[a % WORDS.length]}${a}.pds.example`;
      dids.push(did);
      const created = time((clock += 3600));
      const rootCid = cid('bafyrei', `root:${did}`);
      const rev = `3l${base32(hash(`rev:${did}`), 11)}`;
      accountDb.transaction(() => {
        accountDb.prepare('INSERT INTO actor (did, handle, createdAt) VALUES (?, ?, ?)').run(did, handle, created);
        accountDb
          .prepare('INSERT INTO account (did, email, passwordScrypt, emailConfirmedAt) VALUES (?, ?, ?, ?)')
          .run(did, `${handle.split('.')[0]}@example.com`, `${hash(`salt:${did}`).toString('hex').slice(0, 32)}:${hash(`pw:${did}`).toString('hex')}`, created);
        accountDb.prepare('INSERT INTO refresh_token (id, did, expiresAt) VALUES (?, ?, ?)').run(base32(hash(`rt:${did}`), 26), did, time(clock + 90 * 86400));
        accountDb.prepare('INSERT INTO app_password (did, name, passwordScrypt, createdAt) VALUES (?, ?, ?, ?)').run(did, 'phone', hash(`app:${did}`).toString('hex'), created);
        accountDb.prepare('INSERT INTO repo_root (did, cid, rev, indexedAt) VALUES (?, ?, ?, ?)').run(did, rootCid, rev, created);
      })();
      didCacheDb
        .prepare('INSERT INTO did_doc (did, doc, updatedAt) VALUES (?, ?, ?)')
        .run(did, JSON.stringify(didDocument(did, handle, base32(hash(`key:${did}`), 40))), START + clock * 1000);
      seq.run(did, 'identity', Buffer.from(JSON.stringify({ did, handle, time: created })), created);
      seq.run(did, 'account', Buffer.from(JSON.stringify({ did, active: true, time: created })), created);

      const actorDir = path.join(dir, actorDirFor(did));
      await mkdir(actorDir, { recursive: true });
      await writeFile(path.join(actorDir, 'key'), hash(`signing-key:${did}`).subarray(0, 32)); // a secp256k1 private key's size
      const store = new Database(path.join(actorDir, 'store.sqlite'));
      store.pragma('journal_mode = WAL');
      store.exec(ACTOR_SCHEMA);

      // This account's share of the blobs, written first so the records can point at them.
      const share = Math.ceil(blobSizes.length / accounts);
      const blobs: Array<{ cid: string; size: number }> = [];
      await mkdir(path.join(dir, 'blobs', did), { recursive: true });
      for (const size of blobSizes.slice(a * share, (a + 1) * share)) {
        const blobCid = cid('bafkrei', `blob:${blobIndex++}`);
        const content = bytes(size);
        content.set(JPEG_HEADER.subarray(0, Math.min(size, JPEG_HEADER.length)));
        await writeFile(path.join(dir, 'blobs', did, blobCid), content);
        blobs.push({ cid: blobCid, size });
        bytesDone += size;
        filesDone++;
        report(`blobs/${did}/${blobCid}`);
      }

      store.transaction(() => {
        store.prepare('INSERT INTO repo_root (did, cid, rev, indexedAt) VALUES (?, ?, ?, ?)').run(did, rootCid, rev, created);
        const block = store.prepare('INSERT INTO repo_block (cid, repoRev, size, content) VALUES (?, ?, ?, ?)');
        const record = store.prepare('INSERT INTO record (uri, cid, collection, rkey, repoRev, indexedAt) VALUES (?, ?, ?, ?, ?, ?)');
        const blobRow = store.prepare('INSERT INTO blob (cid, mimeType, size, width, height, createdAt) VALUES (?, ?, ?, ?, ?, ?)');
        const recordBlob = store.prepare('INSERT INTO record_blob (blobCid, recordUri) VALUES (?, ?)');
        const commit = Buffer.from(JSON.stringify({ did, version: 3, data: rootCid, rev, sig: hash(`sig:${did}`).toString('base64') }));
        block.run(rootCid, rev, commit.length, commit);
        const profile = Buffer.from(JSON.stringify({ $type: 'app.bsky.actor.profile', displayName: handle.split('.')[0], description: 'Sample account' }));
        const profileCid = cid('bafyrei', `profile:${did}`);
        block.run(profileCid, rev, profile.length, profile);
        record.run(`at://${did}/app.bsky.actor.profile/self`, profileCid, 'app.bsky.actor.profile', 'self', rev, created);
        for (const b of blobs) blobRow.run(b.cid, 'image/jpeg', b.size, 1200, 900, created);
        for (let p = 0; p < posts; p++) {
          const at = time((clock += 37));
          const rkey = `3k${base32(hash(`rkey:${did}:${p}`), 11)}`;
          const uri = `at://${did}/app.bsky.feed.post/${rkey}`;
          const image = blobs.length ? blobs[p % blobs.length] : undefined;
          const text = Array.from({ length: 5 + Math.floor(rand() * 30) }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(' ');
          const post = Buffer.from(
            JSON.stringify({
              $type: 'app.bsky.feed.post',
              text,
              createdAt: at,
              ...(image && { embed: { $type: 'app.bsky.embed.images', images: [{ image: { $link: image.cid, size: image.size }, alt: '' }] } }),
            }),
          );
          const postCid = cid('bafyrei', `post:${did}:${p}`);
          block.run(postCid, rev, post.length, post);
          // An MST node per post, as a real repository has.
          const node = hash(`mst:${did}:${p}`);
          block.run(cid('bafyrei', `mst:${did}:${p}`), rev, node.length, node);
          record.run(uri, postCid, 'app.bsky.feed.post', rkey, rev, at);
          if (image && p < blobs.length) recordBlob.run(image.cid, uri);
          seq.run(did, 'append', Buffer.from(JSON.stringify({ repo: did, rev, ops: [{ action: 'create', path: `app.bsky.feed.post/${rkey}`, cid: postCid }], time: at })), at);
        }
      })();
      store.close();
      filesDone++;
      report(actorDirFor(did));
    }
  } finally {
    accountDb.close();
    sequencerDb.close();
    didCacheDb.close();
  }
  report('done');
  return { accounts, actors: accounts, blobs: blobSizes.length, bytes: blobBytesTotal, dids };
}

const JPEG_HEADER = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]);

function didDocument(did: string, handle: string, key: string) {
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
    id: did,
    alsoKnownAs: [`at://${handle}`],
    verificationMethod: [{ id: `${did}#atproto`, type: 'Multikey', controller: did, publicKeyMultibase: `zQ3sh${key}` }],
    service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'https://pds.example' }],
  };
}

/** A deterministic stream of bytes: AES-128-CTR over zeros, keyed by the seed. */
function seededBytes(seed: string): (size: number) => Buffer {
  const key = createHash('sha256').update(`${seed}:bytes`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return (size) => cipher.update(Buffer.alloc(size));
}

/** mulberry32 seeded from the seed's hash: sizes and words, the same on every machine. */
function seededRandom(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
