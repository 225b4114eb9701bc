import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import type { Progress } from '../../shared/progress.js';
import type { Manifest } from '../../shared/manifest.js';
import { packTar, writeCompressed, type TarSource } from '../../electron/engine/archive.js';
import { formatTimestamp, runBackup } from '../../electron/engine/backup.js';
import { generateKeyPair, identityFileText } from '../../electron/engine/crypto/keys.js';
import { restoreBackup } from '../../electron/engine/restore.js';
import { safeExtract } from '../../electron/engine/safe-extract.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { EngineError } from '../../electron/engine/errors.js';
import { actorDirFor, createFixture } from '../../electron/engine/fixture.js';
import { LOCK_FILE_NAME } from '../../electron/engine/lock.js';
import { snapshotDatabases } from '../../electron/engine/snapshot.js';
import { ROOT } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';
import { startWriter } from '../helpers/writer.js';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
const integrity = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true });
  } finally {
    db.close();
  }
};

async function fixture(opts: { accounts?: number; posts?: number; blobMB?: number } = {}) {
  const root = makeTempDir();
  const dataDir = path.join(root, 'data');
  const info = await createFixture(dataDir, { accounts: 5, posts: 30, blobMB: 3, ...opts });
  return { root, dataDir, backupDir: path.join(root, 'backups'), info };
}

describe('runBackup on a live PDS', () => {
  it('snapshots every database while another process writes, in the guide’s layout, with a complete manifest', async () => {
    const { root, dataDir, backupDir, info } = await fixture({ accounts: 6, posts: 40, blobMB: 4 });
    const writer = await startWriter(dataDir, 300);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const events: Progress[] = [];
    let result;
    try {
      result = await runBackup({ dataDir, backupDir, env: {}, onProgress: (p) => events.push(p) });
    } finally {
      const stats = await writer.stop();
      expect(stats.writes).toBeGreaterThan(20);
    }

    // The folder: final name only, no leftovers, lock released.
    expect(result.name).toMatch(/^backup_\d{8}_\d{6}$/);
    expect(readdirSync(backupDir)).toEqual([result.name]);
    expect(existsSync(path.join(backupDir, LOCK_FILE_NAME))).toBe(false);
    const folder = result.path;
    expect(readdirSync(folder).sort()).toEqual(['actors.tar.gz', 'blobs.tar.gz', 'databases', 'manifest.json']);
    expect(readdirSync(path.join(folder, 'databases')).sort()).toEqual(['account.sqlite.gz', 'did_cache.sqlite.gz', 'sequencer.sqlite.gz']);

    // The manifest keeps backup.sh's fields and records every file's size and checksum.
    const manifest = JSON.parse(readFileSync(path.join(folder, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest).toMatchObject({
      compression: 'gzip',
      databases: { account: 'account.sqlite', sequencer: 'sequencer.sqlite', did_cache: 'did_cache.sqlite' },
      data_directories: { actor_store: 'actors', blob_store: 'blobs' },
    });
    // backup.sh writes the time in UTC; the folder name is the same moment in local time.
    expect(manifest.backup_timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(formatTimestamp(new Date(manifest.backup_timestamp))).toBe(result.name.slice('backup_'.length));
    for (const key of ['backup_version', 'pds_version', 'hostname', 'service_did', 'backup_size']) expect(typeof manifest[key as keyof Manifest]).toBe('string');
    const ours = manifest.aurora_backup;
    expect(ours.files.map((f) => f.path).sort()).toEqual(['actors.tar.gz', 'blobs.tar.gz', 'databases/account.sqlite.gz', 'databases/did_cache.sqlite.gz', 'databases/sequencer.sqlite.gz']);
    for (const file of ours.files) {
      expect(file.size).toBe(statSync(path.join(folder, file.path)).size);
      expect(file.sha256).toBe(sha256(path.join(folder, file.path)));
    }
    expect(ours.total_size).toBe(ours.files.reduce((sum, f) => sum + f.size, 0));
    expect(ours.counts.accounts).toBe(6);
    expect(ours.counts.actors).toBe(6);
    expect(ours.counts.blobs).toBeGreaterThanOrEqual(info.blobs);
    expect(ours.sequencer_last_seq).toBeGreaterThan(6 * (40 + 2)); // the fixture's events plus the writer's
    expect(ours.duration_ms).toBeGreaterThan(0);

    // The guide's own verification script, and its `gunzip -c … | sqlite3` recipe.
    const script = spawnSync('bash', [path.join(ROOT, 'test/helpers/test-backup.sh'), folder], { encoding: 'utf8' });
    expect(script.stdout).toContain('Backup verification passed');
    expect(script.status).toBe(0);
    const snapshots = path.join(root, 'snapshots');
    mkdirSync(snapshots);
    for (const snapshot of ours.database_snapshots) {
      const file = path.join(snapshots, `${snapshot.name}.sqlite`);
      execFileSync('sh', ['-c', `gunzip -c "$1" > "$2"`, 'sh', path.join(folder, 'databases', `${snapshot.name}.sqlite.gz`), file]);
      expect(statSync(file).size).toBe(snapshot.snapshot_size);
      expect(run('sqlite3', [file, 'PRAGMA integrity_check;']).trim()).toBe('ok');
      expect(Number(run('sqlite3', [file, 'PRAGMA page_count;']))).toBe(snapshot.page_count);
    }
    expect(run('sqlite3', [path.join(snapshots, 'account.sqlite'), 'SELECT count(*) FROM account;']).trim()).toBe('6');
    expect(Number(run('sqlite3', [path.join(snapshots, 'sequencer.sqlite'), 'SELECT max(seq) FROM repo_seq;']))).toBe(ours.sequencer_last_seq);

    // Archives: no -wal/-shm anywhere; restoring them as the guide says gives the PDS layout back.
    const listing = run('tar', ['-tzf', path.join(folder, 'actors.tar.gz')]) + run('tar', ['-tzf', path.join(folder, 'blobs.tar.gz')]);
    expect(listing).not.toMatch(/-(wal|shm|journal)$/m);
    const restored = path.join(root, 'restored');
    mkdirSync(restored);
    run('tar', ['-xzf', path.join(folder, 'actors.tar.gz'), '-C', restored]);
    run('tar', ['-xzf', path.join(folder, 'blobs.tar.gz'), '-C', restored]);
    for (const did of info.dids) {
      const actorDir = path.join(restored, actorDirFor(did));
      expect(readFileSync(path.join(actorDir, 'key'))).toEqual(readFileSync(path.join(dataDir, actorDirFor(did), 'key')));
      const store = path.join(actorDir, 'store.sqlite');
      expect(integrity(store)).toBe('ok');
      const db = new Database(store, { readonly: true });
      expect(db.prepare('SELECT count(*) FROM record').pluck().get()).toBeGreaterThanOrEqual(41); // 40 posts + profile, plus what the writer added
      db.close();
    }
    for (const did of info.dids) {
      for (const blob of readdirSync(path.join(dataDir, 'blobs', did)).filter((name) => !name.startsWith('bafkreiwriter'))) {
        expect(sha256(path.join(restored, 'blobs', did, blob))).toBe(sha256(path.join(dataDir, 'blobs', did, blob)));
      }
    }

    // Progress: phases in order, totals known up front, never going backwards.
    const phases = events.map((e) => e.phase).filter((phase, i, all) => phase !== all[i - 1]);
    expect(phases).toEqual(['preparing', 'snapshotting', 'archiving', 'finalizing', 'done']);
    const working = events.filter((e) => e.phase === 'snapshotting' || e.phase === 'archiving');
    expect(new Set(working.map((e) => e.bytesTotal)).size).toBe(1);
    expect(working[0]!.bytesTotal).toBeGreaterThan(4 * 1024 * 1024);
    for (let i = 1; i < working.length; i++) expect(working[i]!.bytesDone).toBeGreaterThanOrEqual(working[i - 1]!.bytesDone);
    expect(events.at(-1)).toMatchObject({ phase: 'done', current: result.name, bytesDone: working[0]!.bytesTotal, filesDone: working[0]!.filesTotal });
  });

  it('writes zstd and uncompressed backups with their own extensions', async () => {
    const { dataDir, backupDir } = await fixture({ accounts: 2, posts: 5, blobMB: 1 });
    const zstd = await runBackup({ dataDir, backupDir, env: {}, compression: 'zstd' });
    expect(zstd.manifest.aurora_backup.files.map((f) => f.path).sort()).toEqual(['actors.tar.zst', 'blobs.tar.zst', 'databases/account.sqlite.zst', 'databases/did_cache.sqlite.zst', 'databases/sequencer.sqlite.zst']);
    for (const f of zstd.manifest.aurora_backup.files) run('zstd', ['-tq', path.join(zstd.path, f.path)]);
    expect(run('sh', ['-c', `zstd -dc "$1" | tar -tf -`, 'sh', path.join(zstd.path, 'actors.tar.zst')])).toMatch(/^actors\/[0-9a-f]{2}\/did_plc_[a-z2-7]{24}\/store\.sqlite$/m);

    const none = await runBackup({ dataDir, backupDir, env: {}, compression: 'none' });
    expect(none.manifest.compression).toBe('none');
    expect(integrity(path.join(none.path, 'databases/account.sqlite'))).toBe('ok');
    expect(run('tar', ['-tf', path.join(none.path, 'blobs.tar')])).toMatch(/^blobs\/did:plc:/m);
  });

  it('archives blobs and actors under blobs/ and actors/ wherever the PDS location variables put them', async () => {
    const { root, dataDir } = await fixture({ accounts: 2, posts: 3, blobMB: 1 });
    renameSync(path.join(dataDir, 'blobs'), path.join(root, 'blobstore'));
    renameSync(path.join(dataDir, 'actors'), path.join(root, 'repos'));
    const env = { PDS_DATA_DIRECTORY: dataDir, PDS_BLOBSTORE_DISK_LOCATION: path.join(root, 'blobstore'), PDS_ACTOR_STORE_DIRECTORY: path.join(root, 'repos'), BACKUP_DIR: path.join(root, 'out') };
    const result = await runBackup({ env, cwd: root });
    expect(path.dirname(result.path)).toBe(path.join(root, 'out'));
    expect(run('tar', ['-tzf', path.join(result.path, 'blobs.tar.gz')])).toMatch(/^blobs\/did:plc:[a-z2-7]{24}\/bafkrei/m);
    expect(run('tar', ['-tzf', path.join(result.path, 'actors.tar.gz')])).toMatch(/^actors\/[0-9a-f]{2}\/did_plc_[a-z2-7]{24}\/key$/m);
  });
});

describe('runBackup on a new PDS', () => {
  it('backs up a PDS without any media yet into archives that tar, verify and restore all accept', async () => {
    const { root, dataDir, backupDir } = await fixture({ accounts: 2, posts: 2, blobMB: 0 });
    for (const entry of readdirSync(path.join(dataDir, 'blobs'))) rmSync(path.join(dataDir, 'blobs', entry), { recursive: true });
    const result = await runBackup({ dataDir, backupDir, env: {} });
    expect(execFileSync('tar', ['-tzf', path.join(result.path, 'blobs.tar.gz')], { encoding: 'utf8' })).toBe('blobs/\n');
    const report = await verifyBackup(result.path, { deep: true });
    expect(report.problems).toEqual([]);
    const target = path.join(root, 'restored');
    await restoreBackup({ backupPath: result.path, dataDir: target, backupDir: path.join(root, 'pre'), env: {} });
    expect(readdirSync(path.join(target, 'blobs'))).toEqual([]);
  });
});

describe('runBackup refuses bad input', () => {
  it('names the path and what to do, and leaves no backup behind', async () => {
    const { root, dataDir, backupDir } = await fixture({ accounts: 1, posts: 1, blobMB: 0 });
    const empty = makeTempDir();
    const file = path.join(root, 'a-file');
    writeFileSync(file, 'x');
    const cases: Array<[Parameters<typeof runBackup>[0], string, string]> = [
      [{ dataDir: path.join(root, 'missing') }, 'NO_DATA_DIR', `The data directory ${path.join(root, 'missing')} does not exist. Pass --data`],
      [{ dataDir: empty }, 'NOT_A_PDS', `${empty} does not look like a PDS data directory`],
      [{ dataDir: file }, 'NOT_A_DIRECTORY', `${file} is a file, not a directory`],
      [{ dataDir, backupDir: path.join(dataDir, 'backups') }, 'BACKUP_INSIDE_DATA', `The backup directory ${path.join(dataDir, 'backups')} is inside the data directory ${dataDir}`],
      [{ dataDir, compression: 'bzip2' }, 'UNSUPPORTED_COMPRESSION', 'Compression "bzip2" is not supported: use gzip'],
      [{ dataDir, compression: 'xz' }, 'UNSUPPORTED_COMPRESSION', 'Compression "xz" is not supported'],
      [{ dataDir, backupDir: path.join(file, 'backups') }, 'ENOTDIR', `Cannot create the backup directory ${path.join(file, 'backups')}`],
    ];
    for (const [opts, code, message] of cases) {
      const error = await runBackup({ backupDir, env: {}, ...opts }).catch((e: unknown) => e);
      expect(error, message).toBeInstanceOf(EngineError);
      expect((error as EngineError).code).toBe(code);
      expect((error as Error).message).toContain(message);
    }
    expect(existsSync(backupDir)).toBe(false);
    expect(existsSync(path.join(dataDir, 'backups'))).toBe(false);
  });

  it('names a damaged live database and removes the unfinished backup', async () => {
    const { dataDir, backupDir } = await fixture({ accounts: 1, posts: 1, blobMB: 0 });
    const damaged = path.join(dataDir, 'did_cache.sqlite');
    writeFileSync(damaged, Buffer.alloc(8192, 'not a database'));
    const error = await runBackup({ dataDir, backupDir, env: {} }).catch((e: unknown) => e);
    expect((error as Error).message).toContain(`Could not snapshot the database ${damaged}: file is not a database. The live database is damaged`);
    expect(readdirSync(backupDir)).toEqual([]);
  });
});

describe('runBackup folder handling', () => {
  it('removes leftovers of a crashed run, keeps what is not ours, and never reuses a name', async () => {
    const { dataDir, backupDir } = await fixture({ accounts: 1, posts: 2, blobMB: 0 });
    const leftover = path.join(backupDir, '.incomplete-backup_20240101_020000');
    mkdirSync(path.join(leftover, 'databases'), { recursive: true });
    writeFileSync(path.join(leftover, 'databases', 'account.sqlite.gz'), 'half');
    mkdirSync(path.join(backupDir, 'holiday-photos'));
    const first = await runBackup({ dataDir, backupDir, env: {} });
    const second = await runBackup({ dataDir, backupDir, env: {} });
    expect(second.name).not.toBe(first.name);
    expect(readdirSync(backupDir).sort()).toEqual([first.name, second.name, 'holiday-photos'].sort());
  });

  it('prunes old backups after a successful one when retention is given', async () => {
    const { dataDir, backupDir } = await fixture({ accounts: 1, posts: 2, blobMB: 0 });
    const old = await runBackup({ dataDir, backupDir, env: {} });
    const manifestPath = path.join(old.path, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    manifest.backup_timestamp = '2020-01-01T02:00:00Z';
    manifest.aurora_backup.created_at = '2020-01-01T02:00:00.000Z';
    writeFileSync(manifestPath, JSON.stringify(manifest));
    renameSync(old.path, path.join(backupDir, 'backup_20200101_020000'));
    const phases: string[] = [];
    const fresh = await runBackup({ dataDir, backupDir, env: {}, retention: { retainDays: 30, keepLast: 1 }, onProgress: (p) => phases.push(p.phase) });
    expect(fresh.pruned).toEqual(['backup_20200101_020000']);
    expect(phases.slice(-2)).toEqual(['pruning', 'done']);
    expect(readdirSync(backupDir)).toEqual([fresh.name]);
  });

  it('cancels cleanly in any phase, leaving nothing that looks like a backup', async () => {
    const { dataDir, backupDir } = await fixture({ accounts: 4, posts: 20, blobMB: 6 });
    for (const phase of ['snapshotting', 'archiving'] as const) {
      const controller = new AbortController();
      const error = await runBackup({ dataDir, backupDir, env: {}, signal: controller.signal, onProgress: (p) => p.phase === phase && controller.abort() }).catch((e: unknown) => e);
      expect((error as EngineError).code, phase).toBe('ABORTED');
      expect((error as Error).message).toContain('Backup cancelled');
      expect(readdirSync(backupDir)).toEqual([]);
    }
  });
});

describe('packTar', () => {
  it('skips a file that vanished since listing and stores one that grew at its size when opened', async () => {
    const dir = makeTempDir();
    for (const name of ['a', 'b', 'c']) writeFileSync(path.join(dir, name), Buffer.alloc(1000, name));
    const longName = `blobs/did:plc:${'x'.repeat(24)}/${'bafkrei'.padEnd(140, 'q')}`;
    async function* files(): AsyncGenerator<TarSource> {
      yield { archivePath: 'blobs/a', source: path.join(dir, 'a') };
      unlinkSync(path.join(dir, 'b')); // deleted by the PDS between listing and reading
      yield { archivePath: 'blobs/b', source: path.join(dir, 'b') };
      appendFileSync(path.join(dir, 'c'), Buffer.alloc(500, 'c')); // grew since listing
      yield { archivePath: longName, source: path.join(dir, 'c') };
    }
    const outcomes: string[] = [];
    const target = path.join(dir, 'out.tar.gz');
    await writeCompressed(packTar(files(), { onFile: (entry, stored) => outcomes.push(`${entry.archivePath.slice(0, 7)}:${stored}`) }), target, 'gzip');
    expect(outcomes).toEqual(['blobs/a:true', 'blobs/b:false', 'blobs/d:true']);
    const listing = run('tar', ['-tvzf', target]);
    expect(listing).toContain(longName);
    expect(listing).not.toContain('blobs/b');
    const extracted = makeTempDir();
    run('tar', ['-xzf', target, '-C', extracted]);
    expect(statSync(path.join(extracted, longName)).size).toBe(1500);
  });
});

describe('packTar and writeCompressed', () => {
  it.each([false, true])('reuse their buffers without mixing up contents: 40 MB of media, text and in-memory files come back byte for byte (encrypted: %s)', async (encrypted) => {
    const dir = makeTempDir();
    const sizes = [0, 1, 511, 512, 70_000, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 2_500_000];
    const files: TarSource[] = [];
    const expected = new Map<string, string>();
    for (let i = 0; i < 45; i++) {
      const size = sizes[i % sizes.length]!;
      // Media does not compress and is stored as it is; text is deflated: both paths hand blocks back.
      const content = i % 2 === 0 ? randomBytes(size) : Buffer.from(`row ${i} `.repeat(size).slice(0, size));
      const archivePath = `blobs/did:plc:${i % 3}/file-${i}`;
      expected.set(archivePath, createHash('sha256').update(content).digest('hex'));
      if (i % 5 === 4) files.push({ archivePath, source: '', data: content });
      else {
        writeFileSync(path.join(dir, `file-${i}`), content);
        files.push({ archivePath, source: path.join(dir, `file-${i}`) });
      }
    }
    async function* list(): AsyncGenerator<TarSource> {
      yield* files;
    }
    if (!encrypted) {
      const target = path.join(dir, 'out.tar.gz');
      const stored = await writeCompressed(packTar(list(), {}, { topDir: 'blobs' }), target, 'gzip');
      expect(stored).toEqual({ size: statSync(target).size, sha256: sha256(target), unpacked_size: gunzipSync(readFileSync(target)).length });
      const extracted = makeTempDir();
      run('tar', ['-xzf', target, '-C', extracted]);
      for (const [archivePath, digest] of expected) expect(sha256(path.join(extracted, archivePath)), archivePath).toBe(digest);
      return;
    }
    // Encrypted, the batches sealed on the cipher worker reuse their buffers once written, and the blocks opened into once decompressed.
    const pair = await generateKeyPair();
    writeFileSync(path.join(dir, 'key.txt'), identityFileText(pair), { mode: 0o600 });
    const target = path.join(dir, 'out.tar.gz.age');
    const stored = await writeCompressed(packTar(list(), {}, { topDir: 'blobs' }), target, 'gzip', { encryption: { kind: 'recipients', recipients: [pair.recipient] } });
    expect(stored).toMatchObject({ size: statSync(target).size, sha256: sha256(target), encrypted: true });
    const byAge = makeTempDir();
    execFileSync('bash', ['-c', 'age -d -i "$1" "$2" | tar -xz -C "$3"', 'age', path.join(dir, 'key.txt'), target, byAge]);
    const byUs = path.join(makeTempDir(), 'blobs');
    await safeExtract({ archive: target, compression: 'gzip', encrypted: true, decryption: { identities: [pair.identity] }, topDir: 'blobs', dest: byUs });
    for (const [archivePath, digest] of expected) {
      expect(sha256(path.join(byAge, archivePath)), archivePath).toBe(digest);
      expect(sha256(path.join(byUs, archivePath.slice('blobs/'.length))), archivePath).toBe(digest);
    }
  });

  it("record each encrypted file's own SHA-256 when several are sealed at once by the shared cipher worker, one of them cancelled half-way", async () => {
    const dir = makeTempDir();
    const pair = await generateKeyPair();
    writeFileSync(path.join(dir, 'key.txt'), identityFileText(pair), { mode: 0o600 });
    const encryption = { kind: 'recipients' as const, recipients: [pair.recipient] };
    async function* pieces(bytes: number): AsyncGenerator<Buffer> {
      for (let left = bytes; left > 0; left -= 300_000) yield randomBytes(Math.min(left, 300_000));
    }
    const write = (name: string, bytes: number, opts: { signal?: AbortSignal; onSourceBytes?: (bytes: number) => void } = {}) =>
      writeCompressed(Readable.from(pieces(bytes)), path.join(dir, name), 'none', { ...opts, encryption });
    const cancel = new AbortController();
    let read = 0;
    const cancelled = write('cancelled.age', 12_000_000, { signal: cancel.signal, onSourceBytes: (bytes) => (read += bytes) >= 3_000_000 && cancel.abort() }).then(
      () => null,
      (error: Error) => error,
    );
    const sizes = { 'empty.age': 0, 'one-batch.age': 1 << 20, 'five.age': 5_000_000, 'nine.age': 9_000_000 };
    const stored = await Promise.all(Object.entries(sizes).map(([name, bytes]) => write(name, bytes)));
    expect(await cancelled).toMatchObject({ name: 'AbortError' });
    stored.push(await write('after.age', 2_500_000)); // the worker that was sealing the cancelled file goes on with the next
    for (const [i, name] of [...Object.keys(sizes), 'after.age'].entries()) {
      const target = path.join(dir, name);
      expect(stored[i]!.sha256, name).toBe(sha256(target));
      expect(execFileSync('age', ['-d', '-i', path.join(dir, 'key.txt'), target], { maxBuffer: 16 << 20 }).length, name).toBe(stored[i]!.unpacked_size);
    }
  });

  it('stop reading when cancelled half-way, with no file left open, neither the blobs being read nor the archive', async () => {
    const dir = makeTempDir();
    const files: TarSource[] = Array.from({ length: 60 }, (_, i) => {
      writeFileSync(path.join(dir, `blob-${i}`), randomBytes(300_000));
      return { archivePath: `blobs/blob-${i}`, source: path.join(dir, `blob-${i}`) };
    });
    async function* list(): AsyncGenerator<TarSource> {
      yield* files;
    }
    const openBelow = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
        } catch {
          return false;
        }
      });
    for (const cancelAfter of [1, 3 << 20, 9 << 20]) {
      const cancel = new AbortController();
      let read = 0;
      const onBytes = (bytes: number) => {
        read += bytes;
        if (read >= cancelAfter) cancel.abort();
      };
      const target = path.join(dir, `cancelled-${cancelAfter}.tar.gz`);
      await expect(writeCompressed(packTar(list(), { onBytes }), target, 'gzip', { signal: cancel.signal })).rejects.toMatchObject({ name: 'AbortError' });
      expect(read).toBeLessThan(18_000_000); // stopped, not read to the end
      await vi.waitFor(() => expect(openBelow()).toEqual([]));
    }
  });
});

describe('snapshotDatabases', () => {
  it('reports a database deleted before its turn as vanished and copies the others, to a file when large', async () => {
    const { root, dataDir } = await fixture({ accounts: 1, posts: 3, blobMB: 0 });
    const seen: number[] = [];
    const results = await snapshotDatabases(
      [
        { source: path.join(dataDir, 'gone.sqlite'), target: path.join(root, 'snap', 'gone.sqlite') },
        { source: path.join(dataDir, 'account.sqlite'), target: path.join(root, 'snap', 'account.sqlite'), queries: { accounts: 'SELECT count(*) FROM account', missing: 'SELECT count(*) FROM no_such_table' } },
      ],
      { onSnapshot: (index) => seen.push(index), inMemoryMax: 0 },
    );
    expect(seen).toEqual([0, 1]);
    expect(results[0]).toEqual({ vanished: true });
    expect(results[1]).toMatchObject({ answers: { accounts: 1, missing: null } });
    expect(integrity(path.join(root, 'snap', 'account.sqlite'))).toBe('ok');
    expect(existsSync(path.join(root, 'snap', 'gone.sqlite'))).toBe(false);
  });

  it('copies a small database into memory, -wal content included, and waits for memory to be released', async () => {
    const { root, dataDir } = await fixture({ accounts: 2, posts: 3, blobMB: 0 });
    const source = path.join(dataDir, 'account.sqlite');
    const live = new Database(source);
    live.pragma('journal_mode = WAL');
    live.pragma('wal_autocheckpoint = 0');
    const before = live.prepare('SELECT count(*) FROM account').pluck().get() as number;
    live.prepare("INSERT INTO account (did, email, passwordScrypt) VALUES ('did:plc:only-in-the-wal', 'wal@example.com', 'x')").run();
    expect(statSync(`${source}-wal`).size).toBeGreaterThan(0);
    const jobs = [0, 1, 2].map((i) => ({ source, target: path.join(root, 'snap', `${i}.sqlite`), queries: { accounts: 'SELECT count(*) FROM account' } }));
    const order: string[] = [];
    const copies: Buffer[] = [];
    const results = await snapshotDatabases(jobs, {
      inMemoryBudget: 1, // room for one at a time: each waits for the one before to be released
      onSnapshot: (index, result) => {
        order.push(`snapshot ${index}`);
        if (result.vanished || result.unreadable) return;
        copies[index] = Buffer.from(result.data!);
        setTimeout(() => (order.push(`release ${index}`), result.release()), 50);
      },
    });
    live.close();
    expect(order).toEqual(['snapshot 0', 'release 0', 'snapshot 1', 'release 1', 'snapshot 2']);
    const first = results[0]!;
    if (first.vanished || first.unreadable) throw new Error('no snapshot');
    expect(first.answers).toEqual({ accounts: before + 1 });
    expect(existsSync(jobs[0]!.target)).toBe(false);
    const copy = path.join(root, 'copy.sqlite');
    expect(first.data).toBeUndefined(); // released: the results no longer hold the bytes
    writeFileSync(copy, copies[0]!);
    expect(integrity(copy)).toBe('ok');
    const db = new Database(copy, { readonly: true });
    expect(db.prepare("SELECT email FROM account WHERE did = 'did:plc:only-in-the-wal'").pluck().get()).toBe('wal@example.com');
    db.close();
  });
});
