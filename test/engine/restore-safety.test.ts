import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../shared/manifest.js';
import { runBackup } from '../../electron/engine/backup.js';
import { actorDirFor, createFixture } from '../../electron/engine/fixture.js';
import { planRestore, restoreBackup } from '../../electron/engine/restore.js';
import { STAGING_DIR_NAME } from '../../electron/engine/staging.js';
import { holdDatabase } from '../helpers/db-holder.js';
import { exactFiles } from '../helpers/digest.js';
import { listBackups } from '../../electron/engine/list.js';
import { copyDir, digests, startWriter } from '../helpers/restore-setup.js';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';

let root: string;
let source: string; // the PDS the backup was taken of
let backups: string;
let backupPath: string;
let dids: string[];
let n = 0;
const fresh = (name: string) => path.join(root, `${name}-${n++}`);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  root = makeTempDir('aurora-restore-safety');
  source = path.join(root, 'source');
  dids = (await createFixture(source, { accounts: 3, posts: 4, blobMB: 1.5, seed: 'safety' })).dids;
  backups = path.join(root, 'backups');
  backupPath = (await runBackup({ dataDir: source, backupDir: backups })).path;
});

/** The files of a tar.gz in a backup folder, by archive path, unpacked with the system's tar. */
function filesInArchive(archive: string): Record<string, Buffer> {
  const into = fresh('unpacked');
  mkdirSync(into);
  execFileSync('tar', ['-xzf', archive, '-C', into]);
  const files: Record<string, Buffer> = {};
  for (const e of readdirSync(into, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) files[path.relative(into, path.join(e.parentPath, e.name)).split(path.sep).join('/')] = readFileSync(path.join(e.parentPath, e.name));
  }
  return files;
}

describe('restore over a broken data directory', () => {
  it('goes through a junk actor store, a missing account database and no blobs folder, keeping the damaged files byte for byte', async () => {
    const target = copyDir(source, fresh('broken'));
    const storeDir = path.join(target, actorDirFor(dids[0]!));
    const junk = Buffer.from('this was overwritten by something that is not SQLite\n'.repeat(300));
    const junkWal = Buffer.from('a log that belongs to the junk\n'.repeat(40));
    writeFileSync(path.join(storeDir, 'store.sqlite'), junk);
    writeFileSync(path.join(storeDir, 'store.sqlite-wal'), junkWal);
    unlinkSync(path.join(target, 'account.sqlite'));
    rmSync(path.join(target, 'blobs'), { recursive: true });

    const plan = await planRestore({ backupPath, dataDir: target, backupDir: backups });
    const companions = ['store.sqlite', 'store.sqlite-wal', 'store.sqlite-shm'].filter((f) => existsSync(path.join(storeDir, f)));
    const before = Object.fromEntries(companions.map((f) => [f, sha256(readFileSync(path.join(storeDir, f)))]));
    expect(plan.keptRaw).toEqual([{ path: path.join(storeDir, 'store.sqlite'), files: companions, reason: expect.stringMatching(/SQLite header/) }]);
    expect(plan.warnings.join('\n')).toContain(`${path.join(actorDirFor(dids[0]!), 'store.sqlite')} is not a SQLite database`);
    expect(plan.preRestoreBackup?.components).toEqual(['sequencer', 'did_cache', 'actors']);

    const result = await restoreBackup({ backupPath, dataDir: target, backupDir: backups });
    expect(digests(target)).toEqual(digests(source));
    expect(result.keptRaw).toEqual([{ path: path.join(storeDir, 'store.sqlite'), files: companions, reason: expect.stringMatching(/SQLITE_NOTADB/) }]);

    const pre = result.preRestoreBackup!;
    const manifest = JSON.parse(readFileSync(path.join(pre, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.aurora_backup.kept_raw?.map((k) => k.path)).toEqual([path.join(storeDir, 'store.sqlite')]);
    expect(manifest.aurora_backup.files.map((f) => f.component).sort()).toEqual(['actors', 'did_cache', 'sequencer']);
    const kept = filesInArchive(path.join(pre, 'actors.tar.gz'));
    const storeInArchive = `actors/${actorDirFor(dids[0]!).replace(/^actors\//, '')}/store.sqlite`;
    expect(sha256(kept[storeInArchive]!)).toBe(sha256(junk));
    expect(sha256(kept[`${storeInArchive}-wal`]!)).toBe(sha256(junkWal));
    for (const f of companions) expect(sha256(kept[`${path.posix.dirname(storeInArchive)}/${f}`]!)).toBe(before[f]);
    // The other stores are consistent snapshots as in any backup: no -wal beside them.
    expect(Object.keys(kept).filter((f) => f.endsWith('-wal'))).toEqual([`${storeInArchive}-wal`]);
  });

  it('keeps an unreadable account database as it is, in the backup layout, with its -wal', async () => {
    const target = copyDir(source, fresh('junk-account'));
    const junk = Buffer.from('not a database at all '.repeat(500));
    writeFileSync(path.join(target, 'account.sqlite'), junk);
    writeFileSync(path.join(target, 'account.sqlite-wal'), 'wal bytes');

    const companions = ['account.sqlite', 'account.sqlite-wal', 'account.sqlite-shm'].filter((f) => existsSync(path.join(target, f)));
    const result = await restoreBackup({ backupPath, dataDir: target, backupDir: backups, components: ['account'] });
    expect(result.keptRaw.map((k) => [k.path, k.files])).toEqual([[path.join(target, 'account.sqlite'), companions]]);
    expect(digests(target).account).toBe(digests(source).account);
    const pre = result.preRestoreBackup!;
    expect(sha256(gunzipSync(readFileSync(path.join(pre, 'databases/account.sqlite.gz'))))).toBe(sha256(junk));
    expect(gunzipSync(readFileSync(path.join(pre, 'databases/account.sqlite-wal.gz'))).toString()).toBe('wal bytes');
  });

  it('restores into an empty data directory without a pre-restore backup', async () => {
    const target = fresh('empty');
    mkdirSync(target);
    const result = await restoreBackup({ backupPath, dataDir: target, backupDir: backups });
    expect(result.preRestoreBackup).toBeNull();
    expect(result.keptRaw).toEqual([]);
    expect(digests(target)).toEqual(digests(source));
    expect(existsSync(path.join(target, 'account.sqlite'))).toBe(true);
  });
});

describe('a running PDS, whatever is restored', () => {
  for (const held of ['account.sqlite', 'sequencer.sqlite']) {
    it(`refuses --only actors while a process holds ${held} open the way a PDS does, and changes nothing`, async () => {
      const target = copyDir(source, fresh(`held-${held}`));
      const holder = await holdDatabase(path.join(target, held), 'idle');
      const before = exactFiles(target, (rel) => /-(wal|shm)$/.test(rel));
      try {
        await expect(restoreBackup({ backupPath, dataDir: target, backupDir: backups, components: ['actors'] })).rejects.toThrow(
          new RegExp(`PDS seems to be running, so nothing was restored: .*${held.replace('.', '\\.')} is open in another process`),
        );
      } finally {
        await holder.stop();
      }
      expect(exactFiles(target, (rel) => /-(wal|shm)$/.test(rel))).toEqual(before);
      expect(readdirSync(target)).not.toContain(STAGING_DIR_NAME);
    });
  }
});

describe('permissions and ownership', () => {
  // As root (how restores on servers run) the data belongs to a service user; otherwise it is ours.
  const asRoot = process.getuid?.() === 0;
  const pdsUser = asRoot ? { uid: 1234, gid: 1234 } : { uid: process.getuid!(), gid: process.getgid!() };

  /** A data directory as a PDS leaves it: owned by its user, keys 0600, actor folders 0700. */
  async function privateData(name: string): Promise<{ dataDir: string; keys: string[] }> {
    const dataDir = fresh(name);
    const { dids: made } = await createFixture(dataDir, { accounts: 2, posts: 2, blobMB: 0.1, seed: name });
    const keys = made.map((did) => path.join(dataDir, actorDirFor(did), 'key'));
    for (const key of keys) {
      chmodSync(key, 0o600);
      chmodSync(path.dirname(key), 0o700);
    }
    for (const e of readdirSync(dataDir, { recursive: true, withFileTypes: true })) chownSync(path.join(e.parentPath, e.name), pdsUser.uid, pdsUser.gid);
    chownSync(dataDir, pdsUser.uid, pdsUser.gid);
    return { dataDir, keys };
  }

  it('writes backup folders 0700 and their files 0600 under umask 022', async () => {
    const { dataDir } = await privateData('umask');
    const previous = process.umask(0o022);
    try {
      const out = path.join(fresh('umask-backups'), 'backups');
      const made = await runBackup({ dataDir, backupDir: out, env: {} });
      expect(modeOf(out)).toBe(0o700);
      expect(modeOf(made.path)).toBe(0o700);
      for (const e of readdirSync(made.path, { recursive: true, withFileTypes: true })) {
        const full = path.join(e.parentPath, e.name);
        expect({ full, mode: modeOf(full) }).toEqual({ full, mode: e.isDirectory() ? 0o700 : 0o600 });
      }
    } finally {
      process.umask(previous);
    }
  });

  it('records modes and owners in its archives, which the system tar gives back as root', async () => {
    const { dataDir, keys } = await privateData('recorded');
    const made = await runBackup({ dataDir, backupDir: fresh('recorded-backups'), env: {} });
    const into = fresh('tar-extracted');
    mkdirSync(into);
    execFileSync('tar', ['-xzf', path.join(made.path, 'actors.tar.gz'), '-C', into]);
    for (const key of keys) {
      const extracted = path.join(into, path.relative(dataDir, key));
      expect(ownerOf(extracted)).toEqual({ ...pdsUser, mode: 0o600 });
      expect(ownerOf(path.dirname(extracted))).toEqual({ ...pdsUser, mode: 0o700 });
      expect(ownerOf(path.join(path.dirname(extracted), 'store.sqlite'))).toEqual({ ...pdsUser, mode: modeOf(path.join(path.dirname(key), 'store.sqlite')) });
    }
    expect(ownerOf(path.join(into, 'actors'))).toEqual({ ...pdsUser, mode: modeOf(path.join(dataDir, 'actors')) });
  });

  it('restores keys 0600 and actor folders 0700, owned by the user of the data directory it restores into', async () => {
    const { dataDir, keys } = await privateData('keys');
    const made = await runBackup({ dataDir, backupDir: fresh('keys-backups'), env: {} });
    for (const target of [fresh('keys-new-machine'), copyDir(dataDir, fresh('keys-over-old'))]) {
      mkdirSync(target, { recursive: true });
      chownSync(target, pdsUser.uid, pdsUser.gid);
      // Files a root-run restore.sh left root-owned and world-readable: they do not decide the owner.
      if (existsSync(path.join(target, 'actors'))) for (const e of readdirSync(path.join(target, 'actors'), { recursive: true })) chmodSync(path.join(target, 'actors', String(e)), 0o755);
      await restoreBackup({ backupPath: made.path, dataDir: target, backupDir: fresh('keys-pre') });
      for (const key of keys) {
        const restored = path.join(target, path.relative(dataDir, key));
        expect(ownerOf(restored)).toEqual({ ...pdsUser, mode: 0o600 });
        expect(ownerOf(path.dirname(restored))).toEqual({ ...pdsUser, mode: 0o700 });
      }
      expect(ownerOf(path.join(target, 'account.sqlite')).uid).toBe(pdsUser.uid);
      expect(modeOf(path.join(target, 'account.sqlite')) & 0o077 & ~modeOf(path.join(dataDir, 'account.sqlite'))).toBe(0);
    }
  });
});

function modeOf(file: string): number {
  return statSync(file).mode & 0o777;
}

function ownerOf(file: string): { uid: number; gid: number; mode: number } {
  const s = statSync(file);
  return { uid: s.uid, gid: s.gid, mode: s.mode & 0o777 };
}

describe('blobs', () => {
  /** Every blob by its path below blobs/, with its content hash. */
  const blobHashes = (dataDir: string) => exactFiles(path.join(dataDir, 'blobs'));

  /** A blob store that moved on since the backup: one upload more, one blob damaged, one lost. */
  function movedOn(name: string) {
    const target = copyDir(source, fresh(name));
    const before = blobHashes(target);
    const [damaged, lost] = Object.keys(before);
    const upload = `${dids[1]}/bafkreinewuploadsincethebackup`;
    mkdirSync(path.dirname(path.join(target, 'blobs', upload)), { recursive: true });
    writeFileSync(path.join(target, 'blobs', upload), 'an image uploaded after the backup');
    writeFileSync(path.join(target, 'blobs', damaged!), 'bit rot');
    unlinkSync(path.join(target, 'blobs', lost!));
    return { target, before, upload };
  }

  it('restore --only blobs merges: adds what is missing, repairs what differs, keeps newer blobs', async () => {
    const { target, before, upload } = movedOn('merge');
    const plan = await planRestore({ backupPath, dataDir: target, backupDir: backups, components: ['blobs'] });
    expect(plan.blobs?.mode).toBe('merge');
    const result = await restoreBackup({ backupPath, dataDir: target, backupDir: backups, components: ['blobs'] });
    expect(result.newerBlobsKept).toBe(1);
    expect(blobHashes(target)).toEqual({ ...before, [upload]: sha256(Buffer.from('an image uploaded after the backup')) });
    expect(readdirSync(target)).not.toContain(STAGING_DIR_NAME);
  });

  it('--replace-blobs and a full restore make the blob folder exactly the backup’s', async () => {
    const replaced = movedOn('replace');
    const plan = await planRestore({ backupPath, dataDir: replaced.target, backupDir: backups, components: ['blobs'], replaceBlobs: true });
    expect(plan.blobs?.mode).toBe('replace');
    const result = await restoreBackup({ backupPath, dataDir: replaced.target, backupDir: backups, components: ['blobs'], replaceBlobs: true });
    expect(result.newerBlobsKept).toBe(0);
    expect(blobHashes(replaced.target)).toEqual(replaced.before);

    const full = movedOn('full');
    expect((await planRestore({ backupPath, dataDir: full.target, backupDir: backups })).blobs?.mode).toBe('replace');
    await restoreBackup({ backupPath, dataDir: full.target, backupDir: backups });
    expect(blobHashes(full.target)).toEqual(full.before);
  });
});

describe('undo, and pre-restore backups you can see', () => {
  it('undoing a restore gives back the data as it was: database dumps and blob hashes identical', async () => {
    const target = fresh('undo');
    await createFixture(target, { accounts: 2, posts: 3, blobMB: 0.4, seed: 'before-the-restore' });
    const writer = await startWriter(target);
    await writer.crash(); // rows that live only in -wal files are part of "as it was"
    const before = digests(target);
    const out = fresh('undo-backups');

    const restored = await restoreBackup({ backupPath, dataDir: target, backupDir: out });
    expect(digests(target)).toEqual(digests(source));
    expect(path.dirname(restored.preRestoreBackup!)).toBe(out);

    const listed = await listBackups(out);
    expect(listed.map((b) => [b.name, b.kind, b.preRestoreOf])).toEqual([[path.basename(restored.preRestoreBackup!), 'pre-restore', { backupName: path.basename(backupPath), dataDir: target }]]);

    const undo = await runCli(['restore', '--undo', '--data', target, '--out', out, '--force', '--json']);
    expect(undo.code).toBe(0);
    expect(JSON.parse(undo.stdout)).toMatchObject({ ok: true, restored: ['account', 'sequencer', 'did_cache', 'blobs', 'actors'] });
    expect(digests(target)).toEqual(before);
    // The undo is undoable too: it kept what the restore had put in place.
    expect((await listBackups(out)).filter((b) => b.kind === 'pre-restore')).toHaveLength(2);
  });

  it('puts the pre-restore backup beside the restored backup when no backup folder is configured, never in the working directory', async () => {
    const target = copyDir(source, fresh('no-config'));
    const cwd = fresh('somewhere');
    mkdirSync(cwd);
    const result = await restoreBackup({ backupPath, dataDir: target, cwd, env: {} });
    expect(path.dirname(result.preRestoreBackup!)).toBe(path.dirname(backupPath));
    expect(readdirSync(cwd)).toEqual([]);
    rmSync(result.preRestoreBackup!, { recursive: true });
  });

  it('list marks pre-restore backups; verify and restore take a name as list prints it', async () => {
    const out = fresh('named');
    const target = copyDir(source, fresh('named-target'));
    const made = await runBackup({ dataDir: source, backupDir: out, env: {} });
    const restored = await restoreBackup({ backupPath: made.path, dataDir: target, backupDir: out, components: ['account'] });
    const pre = path.basename(restored.preRestoreBackup!);

    const listed = await runCli(['list', '--out', out]);
    expect(listed.stdout).toMatch(new RegExp(`${pre} .* complete \\(pre-restore\\)\\n    pre-restore backup: the data the restore of ${made.name} into ${target.replace(/[/\\\\]/g, '.')} replaced`));

    const elsewhere = fresh('elsewhere');
    mkdirSync(elsewhere);
    const verified = await runCli(['verify', pre, '--out', out], { cwd: elsewhere });
    expect(verified.stdout).toContain(`Quick check of ${path.join(out, pre)}`);
    expect(verified.code).toBe(0);
    const again = await runCli(['restore', made.name, '--out', out, '--data', target, '--only', 'account', '--force', '--json'], { cwd: elsewhere });
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, restored: ['account'] });
    expect(readdirSync(elsewhere)).toEqual([]);
  });
});
