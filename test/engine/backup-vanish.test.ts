// Files and actor stores that vanish while a backup runs: removed at a point the test holds the backup at (the fault hook
// AURORA_FAULT_PAUSE at backup:scanned, after the data directory was listed and before anything is read).
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFixture } from '../../electron/engine/fixture.js';
import { collect, startCli } from '../helpers/run-cli.js';
import { FaultPause } from '../helpers/fault-pause.js';
import { makeTempDir } from '../helpers/tmp.js';

/** A backup of a fresh sample PDS, held once it has listed everything; `meanwhile` changes the data there. */
async function backupWhile(meanwhile: (blobsDir: string, dataDir: string) => void, prepare?: (blobsDir: string, dataDir: string) => void) {
  const root = makeTempDir('aurora-vanish');
  const dataDir = path.join(root, 'data');
  await createFixture(dataDir, { accounts: 3, posts: 10, blobMB: 1, seed: 'vanish' });
  const blobsDir = path.join(dataDir, 'blobs');
  prepare?.(blobsDir, dataDir);
  const backupDir = path.join(root, 'backups');
  const pause = new FaultPause('backup:scanned', root);
  pause.hold();
  const child = startCli(['backup', '--data', dataDir, '--out', backupDir, '--json'], { env: { ...process.env, ...pause.env } });
  const ended = collect(child);
  const { release } = await pause.reached(child);
  meanwhile(blobsDir, dataDir);
  await release();
  const run = await ended;
  const kept = readdirSync(backupDir).filter((name) => name.startsWith('backup_'));
  return { run, kept, result: JSON.parse(run.stdout) as { ok: boolean; error?: string } };
}

/** The actor store folders, `actors/<xx>/<did>`, as absolute paths. */
const actorStores = (dataDir: string) =>
  readdirSync(path.join(dataDir, 'actors')).flatMap((prefix) => readdirSync(path.join(dataDir, 'actors', prefix)).map((store) => path.join(dataDir, 'actors', prefix, store)));
const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const dids = (blobsDir: string) => readdirSync(blobsDir).filter((name) => name.startsWith('did'));

describe('files that vanish during a backup', () => {
  it('one blob file gone (a temporary file the PDS removed) is fine: the backup succeeds without it', async () => {
    let folder = '';
    const { run, kept, result } = await backupWhile(
      (blobsDir) => rmSync(path.join(blobsDir, folder, 'upload-in-progress')),
      (blobsDir) => {
        folder = dids(blobsDir)[0]!;
        writeFileSync(path.join(blobsDir, folder, 'upload-in-progress'), 'a blob being uploaded');
      },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(result.ok).toBe(true);
    expect(kept).toHaveLength(1);
  });

  it('a whole DID folder gone fails the backup, naming it, and keeps nothing', async () => {
    let gone = '';
    const { run, kept, result } = await backupWhile((blobsDir) => {
      gone = path.join(blobsDir, dids(blobsDir)[1]!);
      rmSync(gone, { recursive: true });
    });
    expect(run.code).toBe(1);
    expect(result.error).toMatch(new RegExp(`^${escaped(gone)} \\(\\d+ blob files\\) vanished while the backup read the blob folder\\. Something removed them while this backup ran .* No backup was kept\\.$`));
    expect(kept).toEqual([]);
  });

  it('most of the store gone (every folder still there) fails the backup with a count', async () => {
    const { run, kept, result } = await backupWhile(
      (blobsDir) => {
        for (const did of dids(blobsDir)) for (const file of readdirSync(path.join(blobsDir, did)).slice(1)) rmSync(path.join(blobsDir, did, file));
      },
      (blobsDir) => {
        for (const did of dids(blobsDir)) for (let i = 0; i < 5; i++) writeFileSync(path.join(blobsDir, did, `bafkreiextra${i}`), `blob ${i}`);
      },
    );
    expect(run.code).toBe(1);
    expect(result.error).toMatch(/^Only 3 of the \d+ blob files in .*blobs were still there when the backup read them\. Something removed them .* No backup was kept\.$/);
    expect(kept).toEqual([]);
  });

  it('one temporary file of an actor store gone is fine: the backup succeeds without it', async () => {
    let temp = '';
    const { run, kept, result } = await backupWhile(
      () => rmSync(temp),
      (_blobsDir, dataDir) => {
        temp = path.join(actorStores(dataDir)[0]!, 'import-in-progress.car');
        writeFileSync(temp, 'a repository being imported');
      },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(result.ok).toBe(true);
    expect(kept).toHaveLength(1);
  });

  it('a whole actor store gone while account.sqlite lists its account fails the backup, naming it, and keeps nothing', async () => {
    let gone = '';
    const { run, kept, result } = await backupWhile((_blobsDir, dataDir) => {
      gone = actorStores(dataDir)[1]!;
      rmSync(gone, { recursive: true });
    });
    expect(run.code).toBe(1);
    expect(result.error).toMatch(new RegExp(`^The actor store ${escaped(gone)} vanished while the backup read it, while account\\.sqlite still lists its account\\. Something removed them while this backup ran .* No backup was kept\\.$`));
    expect(kept).toEqual([]);
  });

  it('an account deleted meanwhile (its row in account.sqlite and its store) is fine: the backup holds the others', async () => {
    const { run, kept, result } = await backupWhile((_blobsDir, dataDir) => {
      const store = actorStores(dataDir)[0]!;
      const did = path.basename(store).replaceAll('_', ':');
      const db = new Database(path.join(dataDir, 'account.sqlite'));
      try {
        expect(db.prepare('DELETE FROM actor WHERE did = ?').run(did).changes).toBe(1);
        db.prepare('DELETE FROM account WHERE did = ?').run(did);
      } finally {
        db.close();
      }
      rmSync(store, { recursive: true });
    });
    expect(run.code, run.stderr).toBe(0);
    expect(result.ok).toBe(true);
    expect(kept).toHaveLength(1);
  });
});
