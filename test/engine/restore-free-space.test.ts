import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { restoreBackup } from '../../electron/engine/restore.js';
import { STAGING_DIR_NAME } from '../../electron/engine/staging.js';
import { makeLegacyBackup } from '../helpers/legacy-backup.js';
import { copyDir, startWriter } from '../helpers/restore-setup.js';
import { makeTempDir } from '../helpers/tmp.js';

const NO_SPACE = /^There is not enough free space beside .* to unpack the backup \(it is unpacked there before it replaces anything, keeping .* free for the running PDS\)\. Free some space and try again; nothing was changed\.$/;

/**
 * The least free space seen on `dir`'s disk while `run` runs (sampled; a sample may miss the lowest
 * point, never invent one).
 */
async function leastFreeDuring<T>(dir: string, run: () => Promise<T>): Promise<{ result: T; leastFree: number }> {
  const free = () => statfsSync(dir).bavail * statfsSync(dir).bsize;
  let leastFree = free();
  const sampler = setInterval(() => (leastFree = Math.min(leastFree, free())), 5);
  try {
    const result = await run();
    return { result, leastFree: Math.min(leastFree, free()) };
  } finally {
    clearInterval(sampler);
  }
}

/** Other programs write to the same disk while the tests run (only without root, see `targets`): allow them this much. */
const SLACK = 16 << 20;
const isRoot = process.getuid?.() === 0;

/** A tmpfs of `size` on `dir` (root only): a disk of its own, which no other test writes to. */
const mountTmpfs = (dir: string, size: string) => execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);

let root: string;
let data: string;
/** A backup whose sequencer database unpacks to 80 MiB but is stored in a few hundred KB (as event logs compress). */
let compressible: string;
/** A backup made by backup.sh (so no sizes are recorded) whose blob archive unpacks to 1 GiB of zeros. */
let bomb: string;

beforeAll(async () => {
  root = makeTempDir('aurora-space');
  data = path.join(root, 'data');
  await createFixture(data, { accounts: 2, posts: 3, blobMB: 0.2, seed: 'space' });

  const big = copyDir(data, path.join(root, 'big'));
  const db = new Database(path.join(big, 'sequencer.sqlite'));
  db.exec('CREATE TABLE padding (data BLOB)');
  const add = db.prepare('INSERT INTO padding VALUES (zeroblob(1048576))');
  for (let i = 0; i < 80; i++) add.run();
  db.close();
  compressible = (await runBackup({ dataDir: big, backupDir: path.join(root, 'backups'), env: {} })).path;

  bomb = makeLegacyBackup(data, path.join(root, 'legacy'));
  const bombSource = path.join(root, 'bomb-source');
  mkdirSync(path.join(bombSource, 'blobs', 'did:plc:bomb'), { recursive: true });
  execFileSync('truncate', ['-s', '1G', path.join(bombSource, 'blobs', 'did:plc:bomb', 'bafkreibomb')]);
  execFileSync('sh', ['-c', `tar -C "${bombSource}" -cf - blobs | gzip -1 > "${path.join(bomb, 'blobs.tar.gz')}"`]);
  rmSync(bombSource, { recursive: true });
}, 300_000);

/**
 * Where the restores' targets go. As root, a tmpfs of their own, which nothing else writes to, so the free
 * space the tests watch moves only with what the restore writes (other test files, or another test run on
 * the machine, fill and empty the shared temporary folder); otherwise beside the rest, within SLACK.
 */
let targets: string;
beforeAll(() => {
  targets = path.join(root, 'targets');
  mkdirSync(targets);
  if (isRoot) mountTmpfs(targets, '512m');
});
afterAll(() => {
  if (isRoot) execFileSync('umount', [targets]);
});

describe('the free-space guard counts what unpacking writes', () => {
  it('refuses up front a database whose recorded size does not fit, however small it is stored', async () => {
    const target = copyDir(data, path.join(targets, 'target-compressible'));
    const free = statfsSync(target).bavail * statfsSync(target).bsize;
    // Room for the stored files many times over, but not for the 80 MiB the database unpacks to.
    const keepFreeBytes = free - (40 << 20);
    const { result: error, leastFree } = await leastFreeDuring(target, () =>
      restoreBackup({ backupPath: compressible, dataDir: target, backupDir: path.join(root, 'pre'), env: {}, keepFreeBytes }).catch((e: Error) => e),
    );
    expect((error as Error).message).toMatch(NO_SPACE);
    expect(leastFree).toBeGreaterThan(keepFreeBytes - SLACK);
    expect(readdirSync(target)).not.toContain(STAGING_DIR_NAME);
  });

  it('stops a decompression bomb with the same message, before it takes the space kept free', async () => {
    const target = copyDir(data, path.join(targets, 'target-bomb'));
    const free = statfsSync(target).bavail * statfsSync(target).bsize;
    const keepFreeBytes = free - (64 << 20);
    const { result: error, leastFree } = await leastFreeDuring(target, () =>
      restoreBackup({ backupPath: bomb, dataDir: target, backupDir: path.join(root, 'pre'), env: {}, keepFreeBytes }).catch((e: Error) => e),
    );
    expect((error as Error).message).toMatch(NO_SPACE);
    expect(leastFree).toBeGreaterThan(keepFreeBytes - SLACK);
    expect(readdirSync(target)).not.toContain(STAGING_DIR_NAME);
  }, 120_000);
});

describe('backups made by backup.ps1 (zip) go through the same guard', () => {
  /** A backup.ps1 folder (made with Debian's zip) whose blobs.zip holds 256 MiB of zeros in about 250 KB. */
  let zipBomb: string;
  beforeAll(() => {
    const source = copyDir(data, path.join(root, 'zip-source'));
    execFileSync('truncate', ['-s', '256M', path.join(source, 'blobs', readdirSync(path.join(source, 'blobs'))[0]!, 'bafkreizeros')]);
    zipBomb = path.join(root, 'ps1', 'backup_20250322_143022');
    mkdirSync(path.join(zipBomb, 'databases'), { recursive: true });
    for (const db of ['account', 'sequencer', 'did_cache']) execFileSync('zip', ['-qj', path.join(zipBomb, 'databases', `${db}.sqlite.zip`), path.join(source, `${db}.sqlite`)]);
    for (const dir of ['blobs', 'actors']) execFileSync('zip', ['-qr', path.join(zipBomb, `${dir}.zip`), dir], { cwd: source });
    const manifest = { backup_timestamp: '2025-03-22T14:30:22Z', backup_version: '1.0', pds_version: 'unknown', hostname: 'pds.example', service_did: 'unknown', compression: 'zip', databases: { account: 'account.sqlite', sequencer: 'sequencer.sqlite', did_cache: 'did_cache.sqlite' }, data_directories: { actor_store: 'actors', blob_store: 'blobs' }, backup_size: '1 MB' };
    writeFileSync(path.join(zipBomb, 'manifest.json'), JSON.stringify(manifest));
    rmSync(source, { recursive: true });
  }, 120_000);

  it('counts what the zip unpacks to, not what it is stored in, and refuses with the same message before writing it', async () => {
    const target = copyDir(data, path.join(targets, 'target-zip'));
    const free = statfsSync(target).bavail * statfsSync(target).bsize;
    // Room for the stored zips many times over, but not for the 256 MiB they unpack to.
    const keepFreeBytes = free - (128 << 20);
    const { result: error, leastFree } = await leastFreeDuring(target, () =>
      restoreBackup({ backupPath: zipBomb, dataDir: target, backupDir: path.join(root, 'pre'), env: {}, cwd: root, keepFreeBytes }).catch((e: Error) => e),
    );
    expect((error as Error).message).toMatch(NO_SPACE);
    expect(leastFree).toBeGreaterThan(keepFreeBytes - SLACK);
    expect(readdirSync(target)).not.toContain(STAGING_DIR_NAME);
  }, 120_000);
});

describe.runIf(isRoot)('on a small disk the PDS is writing to (root: a 64 MiB tmpfs)', () => {
  let disk: string;
  beforeAll(() => {
    disk = path.join(root, 'small-disk');
    mkdirSync(disk);
    mountTmpfs(disk, '64m');
  });
  afterAll(() => {
    execFileSync('umount', [disk]);
  });

  it('neither the compressible backup nor the bomb takes the running PDS\'s last free space', async () => {
    const target = copyDir(data, path.join(disk, 'data'));
    const writer = await startWriter(target, 100);
    let stats = '';
    try {
      for (const backupPath of [compressible, bomb]) {
        const error = await restoreBackup({ backupPath, dataDir: target, backupDir: path.join(root, 'pre-small'), env: {} }).catch((e: Error) => e);
        expect((error as Error).message).toMatch(NO_SPACE);
        expect(readdirSync(target)).not.toContain(STAGING_DIR_NAME);
        const { bavail, bsize, blocks } = statfsSync(target);
        expect(bavail * bsize).toBeGreaterThan(0.04 * blocks * bsize); // about the 5 % kept free, less what the writer took since
      }
    } finally {
      stats = await writer.stop();
    }
    // The writer throws on SQLITE_FULL or ENOSPC; it ran to the end and says how much it wrote.
    const last = JSON.parse(stats.trim().split('\n').pop()!) as { writes: number };
    expect(last.writes).toBeGreaterThan(0);
  }, 300_000);
});
