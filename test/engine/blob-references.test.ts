import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../shared/manifest.js';
import { runBackup } from '../../electron/engine/backup.js';
import { EngineError } from '../../electron/engine/errors.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startWriter } from '../helpers/writer.js';

async function fixture(opts: { accounts?: number; posts?: number; blobMB?: number } = {}) {
  const root = makeTempDir('blob-refs');
  const dataDir = path.join(root, 'data');
  await createFixture(dataDir, { accounts: 4, posts: 10, blobMB: 1, ...opts });
  return { root, dataDir, backupDir: path.join(root, 'backups') };
}

/**
 * Checked with the system's tools, independently of the engine: unpacks both archives with tar and asks
 * every restored actor store which blobs its records use; returns how many there are and which are absent.
 */
function blobsUsedAndMissing(backup: string, scratch: string): { used: number; missing: string[] } {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  execFileSync('tar', ['-xzf', path.join(backup, 'blobs.tar.gz'), '-C', scratch]);
  execFileSync('tar', ['-xzf', path.join(backup, 'actors.tar.gz'), '-C', scratch]);
  let used = 0;
  const missing: string[] = [];
  for (const shard of readdirSync(path.join(scratch, 'actors'))) {
    for (const folder of readdirSync(path.join(scratch, 'actors', shard))) {
      const db = new Database(path.join(scratch, 'actors', shard, folder, 'store.sqlite'), { readonly: true });
      const did = (db.prepare('SELECT did FROM repo_root').pluck().get() as string) ?? '';
      for (const row of db.prepare('SELECT blobCid, recordUri FROM record_blob').all() as Array<{ blobCid: string; recordUri: string }>) {
        used++;
        if (!existsSync(path.join(scratch, 'blobs', did, row.blobCid))) missing.push(`${row.recordUri} -> ${row.blobCid}`);
      }
      db.close();
    }
  }
  return { used, missing };
}

describe('hot backups of a PDS whose accounts post images', () => {
  it('hold every blob the records in their snapshots use, backup after backup, and verify --deep agrees', async () => {
    const { root, dataDir, backupDir } = await fixture({ accounts: 6, posts: 10, blobMB: 2 });
    // 60 image posts a second over 6 accounts: a post lands between the blob walk and its store's snapshot in nearly every backup.
    const writer = await startWriter(dataDir, 200, { images: 60 });
    const figures: Array<{ used: number; missing: number }> = [];
    const BACKUPS = 8;
    try {
      for (let i = 0; i < BACKUPS; i++) {
        const result = await runBackup({ dataDir, backupDir, env: {}, retention: null });
        const { used, missing } = blobsUsedAndMissing(result.path, path.join(root, 'scratch'));
        figures.push({ used, missing: missing.length });
        expect(missing).toEqual([]);
        const report = await verifyBackup(result.path, { deep: true });
        expect(report.problems).toEqual([]);
        rmSync(result.path, { recursive: true });
      }
    } finally {
      const stats = await writer.stop();
      expect(stats.images).toBeGreaterThan(50);
      console.log(`hot image-post backups: ${figures.length} ran, ${stats.images} images posted during them, blobs used per backup ${figures.map((f) => f.used).join(' ')}, missing ${figures.reduce((sum, f) => sum + f.missing, 0)}`);
    }
    expect(figures).toHaveLength(BACKUPS);
    // The writer really posted images between backups: each backup's records use more blobs than the last.
    for (let i = 1; i < figures.length; i++) expect(figures[i]!.used).toBeGreaterThan(figures[i - 1]!.used);
    // A guard, not a measure: 8 hot backups, each unpacked and verified deep, beside a writer. About 2 minutes
    // alone on 2 cores; beside another test run and a busy machine it took over 4.
  }, 600_000);
});

describe('a blob that records use and the backup lacks', () => {
  it('fails verify --deep, naming the record and the blob, even when checksums and counts were resealed', async () => {
    const { root, dataDir, backupDir } = await fixture();
    const result = await runBackup({ dataDir, backupDir, env: {}, retention: null });
    expect((await verifyBackup(result.path, { deep: true })).ok).toBe(true);

    // Drop one used blob from blobs.tar.gz with the system's tar, then make the manifest agree with the damage.
    const store = new Database(findStore(dataDir), { readonly: true });
    const { did } = store.prepare('SELECT did FROM repo_root').get() as { did: string };
    const { blobCid, recordUri } = store.prepare('SELECT blobCid, recordUri FROM record_blob ORDER BY blobCid LIMIT 1').get() as { blobCid: string; recordUri: string };
    store.close();
    const work = path.join(root, 'repack');
    mkdirSync(work);
    execFileSync('tar', ['-xzf', path.join(result.path, 'blobs.tar.gz'), '-C', work]);
    unlinkSync(path.join(work, 'blobs', did, blobCid));
    const archive = path.join(result.path, 'blobs.tar.gz');
    rmSync(archive);
    execFileSync('tar', ['-czf', archive, '-C', work, 'blobs']);
    const manifestPath = path.join(result.path, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    const entry = manifest.aurora_backup.files.find((f) => f.component === 'blobs')!;
    const bytes = readFileSync(archive);
    entry.size = bytes.length;
    entry.sha256 = createHash('sha256').update(bytes).digest('hex');
    manifest.aurora_backup.counts.blobs--;
    writeFileSync(manifestPath, JSON.stringify(manifest));

    expect((await verifyBackup(result.path)).ok).toBe(true); // quick verify only sees sizes and checksums
    const report = await verifyBackup(result.path, { deep: true });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([`blobs.tar.gz: 1 blob that a record uses is not in blobs.tar.gz: ${did}/${blobCid} (used by ${recordUri}).`]);
    expect(report.files.find((f) => f.path === 'blobs.tar.gz')).toMatchObject({ ok: false });
  });

  it('makes the backup itself fail loudly, naming record and blob, and keep nothing', async () => {
    const { dataDir, backupDir } = await fixture();
    const store = new Database(findStore(dataDir), { readonly: true });
    const { did } = store.prepare('SELECT did FROM repo_root').get() as { did: string };
    const { blobCid, recordUri } = store.prepare('SELECT blobCid, recordUri FROM record_blob ORDER BY blobCid LIMIT 1').get() as { blobCid: string; recordUri: string };
    store.close();
    unlinkSync(path.join(dataDir, 'blobs', did, blobCid));

    const failure = await runBackup({ dataDir, backupDir, env: {}, retention: null }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(EngineError);
    expect((failure as EngineError).code).toBe('BLOBS_MISSING');
    expect((failure as Error).message).toContain(`${did}/${blobCid} (used by ${recordUri})`);
    expect((failure as Error).message).toContain(path.join(dataDir, 'blobs'));
    expect(readdirSync(backupDir)).toEqual([]);
  });

  it('fails naming the folder it looked in when the blob location is missing or empty', async () => {
    const { dataDir, backupDir } = await fixture();
    const blobs = path.join(dataDir, 'blobs');
    for (const entry of readdirSync(blobs)) rmSync(path.join(blobs, entry), { recursive: true });
    const empty = (await runBackup({ dataDir, backupDir, env: {}, retention: null }).catch((error: unknown) => error)) as EngineError;
    expect(empty.code).toBe('BLOBS_MISSING');
    expect(empty.message).toMatch(new RegExp(`none of them is in ${escape(blobs)}: that is where this backup looked for blobs\\. .*PDS_BLOBSTORE_DISK_LOCATION`));

    rmSync(blobs, { recursive: true });
    const absent = (await runBackup({ dataDir, backupDir, env: {}, retention: null }).catch((error: unknown) => error)) as EngineError;
    expect(absent.code).toBe('BLOBS_MISSING');
    expect(absent.message).toContain(`${blobs} does not exist`);
    expect(readdirSync(backupDir)).toEqual([]);
  });
});

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function findStore(dataDir: string): string {
  const actors = path.join(dataDir, 'actors');
  const shard = readdirSync(actors).sort()[0]!;
  const folder = readdirSync(path.join(actors, shard))[0]!;
  return path.join(actors, shard, folder, 'store.sqlite');
}
