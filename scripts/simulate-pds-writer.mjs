#!/usr/bin/env node
// Writes to a PDS data directory the way a running PDS does, until SIGTERM/SIGINT:
// account.sqlite (sessions), sequencer.sqlite (events) and actor stores (records and blocks), all in WAL
// mode with a busy timeout; now and then a new blob file appears and an older one it made is deleted.
// With --images N it also posts N images a second as a PDS does: the blob file is written (to a temporary
// name, then renamed into blobs/<did>/<cid>), then one transaction adds the post, its `blob` row and the
// `record_blob` row that ties them. Image blobs are never deleted.
// Usage: node scripts/simulate-pds-writer.mjs <dataDir> [--rate N] [--images N]
//   (N transactions per second, default 200; image posts per second, default 0)
// Prints `ready` once it writes, and one JSON line {"writes":N,"images":I,"busyErrors":M,"seconds":S} at exit.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, existsSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { rate: { type: 'string', default: '200' }, images: { type: 'string', default: '0' } } });
const dataDir = positionals[0] ?? '';
if (!dataDir || !existsSync(path.join(dataDir, 'account.sqlite'))) {
  console.error('usage: simulate-pds-writer.mjs <dataDir with account.sqlite> [--rate N]');
  process.exit(2);
}
const rate = Number(values.rate);
const imageRate = Number(values.images);

const open = (/** @type {string} */ file) => {
  const db = new Database(file, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  return db;
};
const account = open(path.join(dataDir, 'account.sqlite'));
const sequencer = open(path.join(dataDir, 'sequencer.sqlite'));
/** @type {Array<{ did: string, db: Database.Database }>} */
const actors = [];
const actorsDir = path.join(dataDir, 'actors');
for (const shard of existsSync(actorsDir) ? readdirSync(actorsDir) : []) {
  for (const name of readdirSync(path.join(actorsDir, shard))) {
    const store = path.join(actorsDir, shard, name, 'store.sqlite');
    if (existsSync(store)) actors.push({ did: name.replaceAll('_', ':'), db: open(store) });
  }
}

const addToken = account.prepare('INSERT INTO refresh_token (id, did, expiresAt) VALUES (?, ?, ?)');
const addEvent = sequencer.prepare('INSERT INTO repo_seq (did, eventType, event, sequencedAt) VALUES (?, ?, ?, ?)');
const actorStatements = actors.map(({ db }) => ({
  block: db.prepare('INSERT INTO repo_block (cid, repoRev, size, content) VALUES (?, ?, ?, ?)'),
  record: db.prepare('INSERT INTO record (uri, cid, collection, rkey, repoRev, indexedAt) VALUES (?, ?, ?, ?, ?, ?)'),
  root: db.prepare('UPDATE repo_root SET cid = ?, rev = ?, indexedAt = ?'),
  blob: db.prepare('INSERT INTO blob (cid, mimeType, size, width, height, createdAt) VALUES (?, ?, ?, ?, ?, ?)'),
  recordBlob: db.prepare('INSERT INTO record_blob (blobCid, recordUri) VALUES (?, ?)'),
}));

let writes = 0;
let images = 0;
let busyErrors = 0;
const started = Date.now();
/** @type {string[]} */
const myBlobs = [];

function writeOnce() {
  const now = new Date().toISOString();
  const id = randomBytes(12).toString('hex');
  const actorIndex = writes % Math.max(actors.length, 1);
  const did = actors[actorIndex]?.did ?? 'did:plc:writer';
  try {
    account.transaction(() => addToken.run(id, did, now))();
    if (actors.length) {
      const { db } = /** @type {(typeof actors)[number]} */ (actors[actorIndex]);
      const s = /** @type {(typeof actorStatements)[number]} */ (actorStatements[actorIndex]);
      // A commit touches several rows and a few KB, like a post with its MST nodes.
      db.transaction(() => {
        const content = randomBytes(2000 + (writes % 4000));
        s.block.run(`bafyrei${id}`, id, content.length, content);
        s.record.run(`at://${did}/app.bsky.feed.post/${id}`, `bafyrei${id}`, 'app.bsky.feed.post', id, id, now);
        s.root.run(`bafyrei${id}`, id, now);
      })();
    }
    sequencer.transaction(() => addEvent.run(did, 'append', randomBytes(300), now))();
    writes++;
  } catch (/** @type {any} */ error) {
    if (error.code === 'SQLITE_BUSY' || error.code === 'SQLITE_LOCKED') busyErrors++;
    else throw error;
  }
  if (writes % 50 === 0) churnBlobs(did);
}

/** A new blob appears (written to a temp name, then renamed, as the PDS blob store does); an old one goes. */
/** @param {string} did */
function churnBlobs(did) {
  const dir = path.join(dataDir, 'blobs', did);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bafkreiwriter${randomBytes(8).toString('hex')}`);
  writeFileSync(file, randomBytes(20_000));
  myBlobs.push(file);
  const oldest = myBlobs.length > 5 ? myBlobs.shift() : undefined;
  if (oldest) unlinkSync(oldest);
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** Where blobs are uploaded before a record uses them (the PDS's temporary blob folder): not part of the blob store. */
const uploads = path.join(dataDir, '.writer-uploads');

/** An image post: the blob's file first, then the records that use it, as the PDS commits a post with an image. */
function postImage() {
  if (actors.length === 0) return;
  const actorIndex = images % actors.length;
  const { did, db } = /** @type {(typeof actors)[number]} */ (actors[actorIndex]);
  const s = /** @type {(typeof actorStatements)[number]} */ (actorStatements[actorIndex]);
  const cid = `bafkrei${Array.from(randomBytes(52), (b) => BASE32[b & 31]).join('')}`;
  const content = randomBytes(4000 + Math.floor(Math.random() * 12_000));
  mkdirSync(uploads, { recursive: true });
  const temp = path.join(uploads, cid);
  writeFileSync(temp, content);
  const dir = path.join(dataDir, 'blobs', did);
  mkdirSync(dir, { recursive: true });
  renameSync(temp, path.join(dir, cid));
  const id = randomBytes(12).toString('hex');
  const now = new Date().toISOString();
  const uri = `at://${did}/app.bsky.feed.post/${id}`;
  try {
    db.transaction(() => {
      const post = Buffer.from(JSON.stringify({ $type: 'app.bsky.feed.post', text: 'photo', createdAt: now, embed: { $type: 'app.bsky.embed.images', images: [{ image: { $link: cid } }] } }));
      s.block.run(`bafyrei${id}`, id, post.length, post);
      s.record.run(uri, `bafyrei${id}`, 'app.bsky.feed.post', id, id, now);
      s.blob.run(cid, 'image/jpeg', content.length, 1200, 900, now);
      s.recordBlob.run(cid, uri);
      s.root.run(`bafyrei${id}`, id, now);
    })();
    images++;
  } catch (/** @type {any} */ error) {
    if (error.code === 'SQLITE_BUSY' || error.code === 'SQLITE_LOCKED') busyErrors++;
    else throw error;
  }
}

const perTick = Math.max(1, Math.round(rate / 100));
let imagesDue = 0;
const timer = setInterval(() => {
  for (let i = 0; i < perTick; i++) writeOnce();
  for (imagesDue += imageRate / 100; imagesDue >= 1; imagesDue--) postImage();
}, 10);
writeOnce();
console.log('ready');

function stop() {
  clearInterval(timer);
  for (const db of [account, sequencer, ...actors.map((a) => a.db)]) db.close();
  console.log(JSON.stringify({ writes, images, busyErrors, seconds: (Date.now() - started) / 1000 }));
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
