#!/usr/bin/env node
// Writes to a PDS data directory the way a running PDS does, until SIGTERM/SIGINT:
// account.sqlite (sessions), sequencer.sqlite (events) and actor stores (records and blocks), all in WAL
// mode with a busy timeout; now and then a new blob file appears and an older one it made is deleted.
// Usage: node scripts/simulate-pds-writer.mjs <dataDir> [--rate N]   (N transactions per second, default 200)
// Prints `ready` once it writes, and one JSON line {"writes":N,"busyErrors":M,"seconds":S} at exit.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, existsSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { rate: { type: 'string', default: '200' } } });
const dataDir = positionals[0];
if (!dataDir || !existsSync(path.join(dataDir, 'account.sqlite'))) {
  console.error('usage: simulate-pds-writer.mjs <dataDir with account.sqlite> [--rate N]');
  process.exit(2);
}
const rate = Number(values.rate);

const open = (file) => {
  const db = new Database(file, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  return db;
};
const account = open(path.join(dataDir, 'account.sqlite'));
const sequencer = open(path.join(dataDir, 'sequencer.sqlite'));
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
}));

let writes = 0;
let busyErrors = 0;
const started = Date.now();
const myBlobs = [];

function writeOnce() {
  const now = new Date().toISOString();
  const id = randomBytes(12).toString('hex');
  const actorIndex = writes % Math.max(actors.length, 1);
  const did = actors[actorIndex]?.did ?? 'did:plc:writer';
  try {
    account.transaction(() => addToken.run(id, did, now))();
    if (actors.length) {
      const { db } = actors[actorIndex];
      const s = actorStatements[actorIndex];
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
  } catch (error) {
    if (error.code === 'SQLITE_BUSY' || error.code === 'SQLITE_LOCKED') busyErrors++;
    else throw error;
  }
  if (writes % 50 === 0) churnBlobs(did);
}

/** A new blob appears (written to a temp name, then renamed, as the PDS blob store does); an old one goes. */
function churnBlobs(did) {
  const dir = path.join(dataDir, 'blobs', did);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bafkreiwriter${randomBytes(8).toString('hex')}`);
  writeFileSync(file, randomBytes(20_000));
  myBlobs.push(file);
  if (myBlobs.length > 5) unlinkSync(myBlobs.shift());
}

const perTick = Math.max(1, Math.round(rate / 100));
const timer = setInterval(() => {
  for (let i = 0; i < perTick; i++) writeOnce();
}, 10);
writeOnce();
console.log('ready');

function stop() {
  clearInterval(timer);
  for (const db of [account, sequencer, ...actors.map((a) => a.db)]) db.close();
  console.log(JSON.stringify({ writes, busyErrors, seconds: (Date.now() - started) / 1000 }));
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
