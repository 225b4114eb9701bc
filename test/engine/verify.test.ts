import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Progress } from '../../shared/progress.js';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { makeLegacyBackup } from '../helpers/legacy-backup.js';
import { makeManifestBackup, replaceAndReseal } from '../helpers/manifest-backup.js';

const STORED = ['databases/account.sqlite.gz', 'databases/sequencer.sqlite.gz', 'databases/did_cache.sqlite.gz', 'blobs.tar.gz', 'actors.tar.gz'];

let root: string;
let dataDir: string;
let n = 0;
/** A fresh backup folder per test, each with its own timestamp. */
const fresh = (make: typeof makeManifestBackup, opts: Parameters<typeof makeManifestBackup>[2] = {}) =>
  make(dataDir, path.join(root, `backups-${++n}`), { at: new Date(2025, 2, 22, 14, 30, n), ...opts });

function flipByte(file: string, offset: number) {
  const bytes = readFileSync(file);
  bytes[offset] = bytes[offset]! ^ 0xff;
  writeFileSync(file, bytes);
}

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'verify-test-'));
  dataDir = path.join(root, 'data');
  await createFixture(dataDir, { accounts: 3, posts: 20, blobMB: 1, seed: 'verify' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('verify, our format', () => {
  it('passes a good backup, checking every file by size and SHA-256, with progress events', async () => {
    const folder = fresh(makeManifestBackup);
    const events: Progress[] = [];
    const report = await verifyBackup(folder, { onProgress: (p) => events.push(p) });
    expect(report.ok).toBe(true);
    expect(report.checksumsAvailable).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.files.map((f) => f.path).sort()).toEqual([...STORED].sort());
    expect(report.files.every((f) => f.detail === 'sha256 ok')).toBe(true);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ operation: 'verify', phase: 'done', filesDone: 5, filesTotal: 5 });
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(last.bytesTotal).toBeGreaterThan(0);
  });

  it.each(STORED)('a byte flipped in %s fails quick verify and names that file', async (relative) => {
    const folder = fresh(makeManifestBackup);
    const file = path.join(folder, relative);
    flipByte(file, Math.floor(statSync(file).size / 2));
    const report = await verifyBackup(folder);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([`${relative}: SHA-256 does not match manifest.json (the file is damaged or was changed after the backup).`]);
    expect(report.files.find((f) => f.path === relative)?.ok).toBe(false);
    expect(report.files.filter((f) => f.ok)).toHaveLength(4);
  });

  it('names a file cut short (size) and a file that is missing', async () => {
    const folder = fresh(makeManifestBackup);
    const blobs = path.join(folder, 'blobs.tar.gz');
    const size = statSync(blobs).size;
    truncateSync(blobs, size - 100);
    unlinkSync(path.join(folder, 'databases/did_cache.sqlite.gz'));
    const report = await verifyBackup(folder);
    expect(report.ok).toBe(false);
    expect(report.problems).toContain('databases/did_cache.sqlite.gz is missing (manifest.json lists it).');
    expect(report.problems).toContain(`blobs.tar.gz: size is ${size - 100} bytes, manifest.json records ${size} (the file was cut short or changed).`);
    expect(report.problems).toHaveLength(2);
  });

  it('deep verify catches a corrupt database inside a valid gzip that quick verify cannot see', async () => {
    const folder = fresh(makeManifestBackup);
    const relative = 'databases/account.sqlite.gz';
    const db = zlib.gunzipSync(readFileSync(path.join(folder, relative)));
    const pageSize = db.readUInt16BE(16);
    expect(db.length / pageSize).toBeGreaterThan(3);
    db.fill(0x55, pageSize + 8, pageSize * 3); // garble the b-tree pages after the schema page
    replaceAndReseal(folder, relative, zlib.gzipSync(db));

    expect((await verifyBackup(folder)).ok).toBe(true);
    const deep = await verifyBackup(folder, { deep: true });
    expect(deep.ok).toBe(false);
    expect(deep.problems).toHaveLength(1);
    expect(deep.problems[0]).toMatch(/^databases\/account\.sqlite\.gz: integrity_check failed: /);
  });

  it('deep verify decompresses, lists and integrity-checks a good backup', async () => {
    const folder = fresh(makeManifestBackup);
    const report = await verifyBackup(folder, { deep: true });
    expect(report.ok).toBe(true);
    expect(report.deep).toBe(true);
    expect(report.files.find((f) => f.path === 'databases/account.sqlite.gz')?.detail).toBe('sha256 ok, decompresses, integrity_check ok');
    expect(report.files.find((f) => f.path === 'blobs.tar.gz')?.detail).toMatch(/^sha256 ok, decompresses, \d+ archive entries listed$/);
  });

  it('deep verify names an archive whose tar stream is garbage inside a valid gzip', async () => {
    const folder = fresh(makeManifestBackup);
    replaceAndReseal(folder, 'actors.tar.gz', zlib.gzipSync(Buffer.alloc(5000, 'not a tar archive ')));
    const report = await verifyBackup(folder, { deep: true });
    expect(report.ok).toBe(false);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatch(/^actors\.tar\.gz: tar archive error: /);
  });

  it('deep verify flags archive entries that would land outside the data directory', async () => {
    const folder = fresh(makeManifestBackup);
    const work = path.join(root, `hostile-${n}`, 'inner');
    mkdirSync(work, { recursive: true });
    writeFileSync(path.join(root, `hostile-${n}`, 'escape.txt'), 'x');
    const archive = path.join(root, `hostile-${n}`, 'blobs.tar.gz');
    execFileSync('tar', ['-czf', archive, '-P', '../escape.txt'], { cwd: work });
    replaceAndReseal(folder, 'blobs.tar.gz', readFileSync(archive));
    const report = await verifyBackup(folder, { deep: true });
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toBe('blobs.tar.gz: the entry "../escape.txt" climbs out of its folder with "..".');
  });

  it('refuses a manifest from a newer format version, naming the version', async () => {
    const folder = fresh(makeManifestBackup, { edit: (m) => void (m.aurora_backup.format_version = 7) });
    await expect(verifyBackup(folder)).rejects.toThrow(/format version 7, but this version of Aurora Locus Backup reads format 2/);
  });

  it('refuses a folder without manifest.json and one whose manifest is not JSON', async () => {
    const folder = fresh(makeManifestBackup);
    writeFileSync(path.join(folder, 'manifest.json'), '{"backup_timestamp": "2025');
    await expect(verifyBackup(folder)).rejects.toThrow(`${path.join(folder, 'manifest.json')} is not valid JSON`);
    unlinkSync(path.join(folder, 'manifest.json'));
    await expect(verifyBackup(folder)).rejects.toThrow(`${folder} has no manifest.json, so it is not an Aurora Locus backup`);
  });
});

describe('verify, backups made by the original backup.sh', () => {
  it('says checksums are not available and checks what it can even in quick mode', async () => {
    const folder = fresh(makeLegacyBackup);
    writeFileSync(path.join(folder, 'restore_20250401_100000.log'), 'the original restore.sh logs into the backup folder');
    const report = await verifyBackup(folder);
    expect(report.ok).toBe(true);
    expect(report.checksumsAvailable).toBe(false);
    expect(report.files.find((f) => f.path === 'databases/sequencer.sqlite.gz')?.detail).toBe(
      'no checksum (original backup.sh), decompresses, integrity_check ok',
    );
    expect(report.files.find((f) => f.path === 'actors.tar.gz')?.detail).toMatch(/archive entries listed/);
  });

  it('names a truncated gzip stream', async () => {
    const folder = fresh(makeLegacyBackup);
    const blobs = path.join(folder, 'blobs.tar.gz');
    truncateSync(blobs, Math.floor(statSync(blobs).size / 2));
    const report = await verifyBackup(folder);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(['blobs.tar.gz: truncated gzip stream (unexpected end of file).']);
  });

  it('names a corrupt gzip stream and a database that is not SQLite', async () => {
    const folder = fresh(makeLegacyBackup);
    flipByte(path.join(folder, 'databases/did_cache.sqlite.gz'), 40);
    writeFileSync(path.join(folder, 'databases/account.sqlite.gz'), zlib.gzipSync(Buffer.alloc(8192, 'hello')));
    const report = await verifyBackup(folder);
    expect(report.ok).toBe(false);
    expect(report.problems).toHaveLength(2);
    expect(report.problems).toContain('databases/account.sqlite.gz: integrity_check failed: file is not a database.');
    expect(report.problems.find((p) => p.startsWith('databases/did_cache.sqlite.gz: '))).toMatch(/corrupt gzip stream|integrity_check failed/);
  });

  it('refuses clearly when the script was set to a compression this version cannot decompress', async () => {
    const folder = fresh(makeLegacyBackup);
    const manifestPath = path.join(folder, 'manifest.json');
    writeFileSync(manifestPath, readFileSync(manifestPath, 'utf8').replace('"compression": "gzip"', '"compression": "bzip2"'));
    for (const f of STORED) writeFileSync(path.join(folder, f.replace(/\.gz$/, '.bz2')), 'x');
    await expect(verifyBackup(folder)).rejects.toThrow(`${folder} uses bzip2 compression, which this version cannot decompress`);
  });

  it('names a component the script left out', async () => {
    const folder = fresh(makeLegacyBackup, { skip: ['blobs'] });
    const report = await verifyBackup(folder);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(['blobs.tar.gz is missing.']);
  });
});

/** The guide's "Automated Testing" script (Testing Backups section), verbatim. */
const GUIDE_TEST_SCRIPT = path.join(import.meta.dirname, '../helpers/test-backup.sh');

describe('verify, real backups made by runBackup', () => {
  let real: string;
  let copies = 0;
  /** A private copy of the real backup that a test may damage. */
  const copy = () => {
    const target = path.join(root, `real-copy-${++copies}`, path.basename(real));
    cpSync(real, target, { recursive: true });
    return target;
  };
  const guideScript = (folder: string) => spawnSync('bash', [GUIDE_TEST_SCRIPT, folder], { encoding: 'utf8' });

  beforeAll(async () => {
    real = (await runBackup({ dataDir, backupDir: path.join(root, 'real-backups'), env: {} })).path;
  });

  it('passes quick and deep verify', async () => {
    expect((await verifyBackup(real)).ok).toBe(true);
    const deep = await verifyBackup(real, { deep: true });
    expect(deep.problems).toEqual([]);
    expect(deep.files).toHaveLength(5);
  });

  it.each(STORED)('a byte flipped in %s makes verify fail and name that file', async (relative) => {
    const folder = copy();
    const file = path.join(folder, relative);
    flipByte(file, Math.floor(statSync(file).size / 3));
    const report = await verifyBackup(folder);
    expect(report.ok).toBe(false);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatch(new RegExp(`^${relative.replace(/\./g, '\\.')}: SHA-256 does not match`));
  });

  it('deep verify catches a corrupt database inside a valid gzip', async () => {
    const folder = copy();
    const relative = 'databases/account.sqlite.gz';
    const db = zlib.gunzipSync(readFileSync(path.join(folder, relative)));
    const pageSize = db.readUInt16BE(16);
    db.fill(0xaa, pageSize * 2 + 8, pageSize * 4);
    replaceAndReseal(folder, relative, zlib.gzipSync(db));
    expect((await verifyBackup(folder)).ok).toBe(true);
    const deep = await verifyBackup(folder, { deep: true });
    expect(deep.problems).toHaveLength(1);
    expect(deep.problems[0]).toMatch(/^databases\/account\.sqlite\.gz: integrity_check failed: /);
  });

  it('deep verify integrity-checks every actor store inside actors.tar.gz and names a corrupt one', async () => {
    const folder = copy();
    const unpacked = path.join(root, `unpacked-${copies}`);
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', path.join(folder, 'actors.tar.gz'), '-C', unpacked]);
    const stores = (readdirSync(unpacked, { recursive: true }) as string[]).filter((p) => p.endsWith('store.sqlite')).sort();
    expect(stores.length).toBe(3);
    const victim = path.join(unpacked, stores[1]!);
    const db = readFileSync(victim);
    db.fill(0x33, db.readUInt16BE(16) + 8, db.readUInt16BE(16) * 3);
    writeFileSync(victim, db);
    execFileSync('tar', ['-czf', path.join(unpacked, 'actors.tar.gz'), '-C', unpacked, 'actors']);
    replaceAndReseal(folder, 'actors.tar.gz', readFileSync(path.join(unpacked, 'actors.tar.gz')));

    const good = await verifyBackup(real, { deep: true });
    expect(good.files.find((f) => f.path === 'actors.tar.gz')?.detail).toMatch(/, 3 databases pass integrity_check$/);
    const deep = await verifyBackup(folder, { deep: true });
    expect(deep.problems).toHaveLength(1);
    expect(deep.problems[0]).toMatch(new RegExp(`^actors\\.tar\\.gz: ${stores[1]!.replace(/\./g, '\\.')}: integrity_check failed: `));
  });

  it('deep verify notices an archive that lost a file, against the counts in manifest.json', async () => {
    const folder = copy();
    const unpacked = path.join(root, `unpacked-${copies}`);
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', path.join(folder, 'blobs.tar.gz'), '-C', unpacked]);
    const blobs = (readdirSync(path.join(unpacked, 'blobs'), { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[]).filter((e) => e.isFile());
    unlinkSync(path.join(blobs[0]!.parentPath, blobs[0]!.name));
    execFileSync('tar', ['-czf', path.join(unpacked, 'blobs.tar.gz'), '-C', unpacked, 'blobs']);
    replaceAndReseal(folder, 'blobs.tar.gz', readFileSync(path.join(unpacked, 'blobs.tar.gz')));

    const deep = await verifyBackup(folder, { deep: true });
    expect(deep.problems[0]).toBe(`blobs.tar.gz: holds ${blobs.length - 1} blob files, manifest.json counts ${blobs.length}.`);
    // Every fixture blob is used by a post, so the lost one is also named with the record that uses it.
    const lost = `${path.basename(blobs[0]!.parentPath)}/${blobs[0]!.name}`;
    expect(deep.problems[1]).toMatch(new RegExp(`^blobs\\.tar\\.gz: 1 blob that a record uses is not in blobs\\.tar\\.gz: ${lost} \\(used by at://`));
    expect(deep.problems).toHaveLength(2);
  });

  it('stops when cancelled, with a clear message', async () => {
    const controller = new AbortController();
    const run = verifyBackup(real, { deep: true, signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toThrow(`Verification of ${real} was cancelled.`);
  });

  it('deep verify reads zstd backups and names a corrupt zstd stream', async () => {
    const zstd = (await runBackup({ dataDir, backupDir: path.join(root, 'zstd-backups'), compression: 'zstd', env: {} })).path;
    const good = await verifyBackup(zstd, { deep: true });
    expect(good.problems).toEqual([]);
    expect(good.files.map((f) => f.path)).toContain('databases/account.sqlite.zst');

    const stored = path.join(zstd, 'databases/account.sqlite.zst');
    flipByte(stored, Math.floor(statSync(stored).size / 2));
    replaceAndReseal(zstd, 'databases/account.sqlite.zst', readFileSync(stored));
    const bad = await verifyBackup(zstd, { deep: true });
    expect(bad.problems).toHaveLength(1);
    expect(bad.problems[0]).toMatch(/^databases\/account\.sqlite\.zst: corrupt zstd stream \(/);
  });

  it("the guide's automated test script passes on our backup and on the original script's", () => {
    for (const folder of [real, fresh(makeLegacyBackup)]) {
      const result = guideScript(folder);
      expect(result.stdout).toContain('✅ Backup verification passed');
      expect(result.status).toBe(0);
    }
  });

  it("the guide's script and verify agree on a truncated archive", async () => {
    const folder = copy();
    const actors = path.join(folder, 'actors.tar.gz');
    truncateSync(actors, Math.floor(statSync(actors).size / 2));
    expect(guideScript(folder).stdout).toContain('❌ Archive actors corrupted');
    expect((await verifyBackup(folder)).problems[0]).toMatch(/^actors\.tar\.gz: size is/);
  });
});
