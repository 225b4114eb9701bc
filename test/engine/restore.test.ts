import { createHash } from 'node:crypto';
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { gunzipSync, gzipSync } from 'node:zlib';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../shared/manifest.js';
import { COMPONENTS, type Component } from '../../shared/components.js';
import { runBackup } from '../../electron/engine/backup.js';
import { actorDirFor, createFixture } from '../../electron/engine/fixture.js';
import { planRestore, restoreBackup } from '../../electron/engine/restore.js';
import { STAGING_DIR_NAME } from '../../electron/engine/staging.js';
import { holdDatabase } from '../helpers/db-holder.js';
import { onSmallDisk } from '../helpers/small-disk.js';
import { exactFiles } from '../helpers/digest.js';
import { goodBlobsEntries, tarGzOf } from '../helpers/hostile-archives.js';
import { makeLegacyBackup } from '../helpers/legacy-backup.js';
import { copyDir, digests, startWriter, unpackWithSystemTools } from '../helpers/restore-setup.js';

let root: string;
let oldData: string; // what the target holds before the restore
let backups: string;
let backupPath: string; // taken from a second PDS while it was being written to
let newDids: string[];
let expected: Record<Component, string>; // what that backup holds, unpacked with gunzip and tar
let oldDigests: Record<Component, string>;
let n = 0;
const fresh = (name: string) => path.join(root, `${name}-${n++}`);

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'aurora-restore-'));
  oldData = path.join(root, 'old-data');
  await createFixture(oldData, { accounts: 3, posts: 6, blobMB: 0.5, seed: 'old' });
  oldDigests = digests(oldData);

  const liveData = path.join(root, 'live-data');
  newDids = (await createFixture(liveData, { accounts: 4, posts: 8, blobMB: 0.6, seed: 'new' })).dids;
  backups = path.join(root, 'backups');
  const writer = await startWriter(liveData);
  try {
    backupPath = (await runBackup({ dataDir: liveData, backupDir: backups, env: { PDS_VERSION: '0.3.1' } })).path;
  } finally {
    await writer.stop();
  }
  expected = digests(unpackWithSystemTools(backupPath, path.join(root, 'expected')));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** No staging folder, no lock file, no -wal/-shm beside a restored database. */
function expectClean(dataDir: string, restored: readonly Component[] = COMPONENTS) {
  const names = readdirSync(dataDir);
  expect(names).not.toContain(STAGING_DIR_NAME);
  expect(names.filter((f) => f.includes('lock'))).toEqual([]);
  for (const c of restored.filter((c) => c !== 'blobs' && c !== 'actors')) {
    expect(names.filter((f) => f.startsWith(`${c}.sqlite-`))).toEqual([]);
  }
  if (restored.includes('actors')) {
    const stray = readdirSync(path.join(dataDir, 'actors'), { recursive: true }).filter((f) => /-(wal|shm|journal)$/.test(String(f)));
    expect(stray).toEqual([]);
  }
}

describe('restore', () => {
  it('round trip: a backup taken while the PDS wrote restores into a missing directory, identical to what it holds', async () => {
    const target = path.join(fresh('new-machine'), 'data');
    const result = await restoreBackup({ backupPath, dataDir: target, backupDir: backups });

    expect(result.restored).toEqual([...COMPONENTS]);
    expect(result.preRestoreBackup).toBeNull();
    expectClean(target);
    expect(digests(target)).toEqual(expected);
    const db = new Database(path.join(target, 'account.sqlite'), { readonly: true });
    const dids = (db.prepare('SELECT did FROM account ORDER BY did').all() as Array<{ did: string }>).map((r) => r.did);
    db.close();
    expect(dids).toEqual([...newDids].sort());
    for (const did of newDids) expect(existsSync(path.join(target, actorDirFor(did), 'store.sqlite'))).toBe(true);
  });

  it('replaces old data left by a crashed PDS whole, with no old -wal kept, and keeps it in a restorable pre-restore backup', async () => {
    const target = copyDir(oldData, fresh('crashed'));
    const writer = await startWriter(target);
    await writer.crash();
    expect(readdirSync(target)).toContain('account.sqlite-wal');
    const before = digests(target); // rows in the -wal included

    const result = await restoreBackup({ backupPath, dataDir: target, backupDir: backups });
    expectClean(target);
    expect(digests(target)).toEqual(expected);

    expect(result.preRestoreBackup).toMatch(/pre-restore_\d{8}_\d{6}$/);
    const back = path.join(fresh('from-pre-restore'), 'data');
    await restoreBackup({ backupPath: result.preRestoreBackup!, dataDir: back, backupDir: backups });
    expect(digests(back)).toEqual(before);
  });

  for (const component of COMPONENTS) {
    it(`partial restore of ${component} alone leaves every other file byte-identical`, async () => {
      const target = copyDir(oldData, fresh(`only-${component}`));
      // Every restore probes account.sqlite and sequencer.sqlite (which a running PDS always holds) for a lock, and
      // SQLite then drops their empty -wal/-shm: the only files outside the component that may change, rows unchanged.
      const probed = (rel: string) => /^(account|sequencer)\.sqlite-(wal|shm)$/.test(rel);
      const inComponent = (rel: string) => rel === component || rel.startsWith(`${component}.sqlite`) || rel.startsWith(`${component}/`) || probed(rel);
      const others = exactFiles(target, inComponent);

      // Blobs replaced exactly (a blobs-only restore otherwise merges: restore-safety.test.ts).
      const result = await restoreBackup({ backupPath, dataDir: target, backupDir: backups, components: [component], replaceBlobs: true });
      expect(result.restored).toEqual([component]);
      expect(result.warnings.join(' ')).toMatch(/Partial restore/);
      expectClean(target, [component]);
      expect(exactFiles(target, inComponent)).toEqual(others);
      expect(digests(target)).toEqual({ ...oldDigests, [component]: expected[component] });
    });
  }

  it('restores a component kept elsewhere through a symlink where it really lives, keeping the link', async () => {
    const target = copyDir(oldData, fresh('linked'));
    const elsewhere = path.join(fresh('big-disk'), 'blobs');
    mkdirSync(path.dirname(elsewhere));
    renameSync(path.join(target, 'blobs'), elsewhere);
    symlinkSync(elsewhere, path.join(target, 'blobs'));

    await restoreBackup({ backupPath, dataDir: target, backupDir: backups, components: ['blobs'], replaceBlobs: true });
    expect(lstatSync(path.join(target, 'blobs')).isSymbolicLink()).toBe(true);
    expect(digests(target).blobs).toBe(expected.blobs);
    expect(readdirSync(path.dirname(elsewhere))).toEqual(['blobs']);
  });

  it('gives restored files to the owner of what they replace, so the PDS user can write them', async () => {
    const target = copyDir(oldData, fresh('owned'));
    // As root (how restores on servers run), hand the data to a service user first; otherwise it is ours.
    const owner = process.getuid?.() === 0 ? { uid: 4321, gid: 4321 } : { uid: statSync(target).uid, gid: statSync(target).gid };
    for (const rel of ['', 'account.sqlite', 'blobs']) chownSync(path.join(target, rel), owner.uid, owner.gid);

    await restoreBackup({ backupPath, dataDir: target, backupDir: backups, components: ['account', 'blobs'], replaceBlobs: true });
    const restored = ['account.sqlite', 'blobs', ...readdirSync(path.join(target, 'blobs'), { recursive: true }).map((f) => path.join('blobs', String(f)))];
    for (const rel of restored) expect({ rel, uid: statSync(path.join(target, rel)).uid, gid: statSync(path.join(target, rel)).gid }).toEqual({ rel, ...owner });
  });

  it('refuses while another process holds a database open for writing, and changes nothing', async () => {
    const target = copyDir(oldData, fresh('running'));
    const holder = await holdDatabase(path.join(target, 'account.sqlite'), 'writing');
    const preRestores = readdirSync(backups).filter((f) => f.startsWith('pre-restore_')).length;
    try {
      await expect(restoreBackup({ backupPath, dataDir: target, backupDir: backups })).rejects.toThrow(
        /PDS seems to be running, so nothing was restored: .*account\.sqlite is open in another process/,
      );
    } finally {
      await holder.stop();
    }
    expect(digests(target)).toEqual(oldDigests);
    expect(readdirSync(target)).not.toContain(STAGING_DIR_NAME);
    expect(readdirSync(backups).filter((f) => f.startsWith('pre-restore_')).length).toBe(preRestores);
  });

  it('refuses a backup whose archive is hostile even when its checksums match, writing nothing anywhere', async () => {
    const hostile = copyDir(backupPath, path.join(fresh('hostile-backups'), path.basename(backupPath)));
    const archive = tarGzOf([...goodBlobsEntries(), { name: 'blobs/escape', type: '2', linkname: '../../../..' }, { name: 'blobs/escape/pwned', type: '0', body: 'x' }]);
    writeFileSync(path.join(hostile, 'blobs.tar.gz'), archive);
    const manifest = JSON.parse(readFileSync(path.join(hostile, 'manifest.json'), 'utf8')) as Manifest;
    const entry = manifest.aurora_backup.files.find((f) => f.component === 'blobs')!;
    Object.assign(entry, { size: archive.length, sha256: createHash('sha256').update(archive).digest('hex') });
    writeFileSync(path.join(hostile, 'manifest.json'), JSON.stringify(manifest));

    const target = copyDir(oldData, fresh('hostile-target'));
    // The running-PDS probe opens the databases to be replaced, which lets SQLite drop their empty -wal/-shm.
    const sqliteScratch = (rel: string) => /-(wal|shm)$/.test(rel);
    const before = exactFiles(path.dirname(target), sqliteScratch);
    const preRestores = readdirSync(backups).filter((f) => f.startsWith('pre-restore_')).length;
    await expect(restoreBackup({ backupPath: hostile, dataDir: target, backupDir: backups })).rejects.toThrow(/blobs\.tar\.gz: the entry "blobs\/escape" is a symbolic link/);
    expect(exactFiles(path.dirname(target), sqliteScratch)).toEqual(before);
    expect(readdirSync(target)).not.toContain(STAGING_DIR_NAME);
    expect(readdirSync(backups).filter((f) => f.startsWith('pre-restore_')).length).toBe(preRestores);
  });

  it('refuses a folder that is not a backup, and one from a newer app version, before anything is written', async () => {
    const target = fresh('refused-target');
    await expect(restoreBackup({ backupPath: oldData, dataDir: target, backupDir: backups })).rejects.toThrow(`${oldData} has no manifest.json`);
    const newer = copyDir(backupPath, path.join(fresh('newer-backups'), path.basename(backupPath)));
    const manifest = JSON.parse(readFileSync(path.join(newer, 'manifest.json'), 'utf8')) as Manifest;
    manifest.aurora_backup.format_version = 99;
    writeFileSync(path.join(newer, 'manifest.json'), JSON.stringify(manifest));
    await expect(restoreBackup({ backupPath: newer, dataDir: target, backupDir: backups })).rejects.toThrow(/manifest\.json.*format.*99|99.*newer/i);
    expect(existsSync(target)).toBe(false);
  });

  it('refuses a backup whose checksums match but whose contents do not hold up: a bad database, a missing blob', async () => {
    const forged = copyDir(backupPath, path.join(fresh('forged-backups'), path.basename(backupPath)));
    const manifest = JSON.parse(readFileSync(path.join(forged, 'manifest.json'), 'utf8')) as Manifest;
    const replace = (rel: string, bytes: Buffer) => {
      writeFileSync(path.join(forged, rel), bytes);
      Object.assign(manifest.aurora_backup.files.find((f) => f.path === rel)!, { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    };
    replace('databases/did_cache.sqlite.gz', gzipSync(Buffer.alloc(8192, 'not a database ')));
    manifest.aurora_backup.counts.blobs = 7;
    replace('blobs.tar.gz', tarGzOf(goodBlobsEntries()));
    writeFileSync(path.join(forged, 'manifest.json'), JSON.stringify(manifest));

    const target = copyDir(oldData, fresh('forged-target'));
    const error = await restoreBackup({ backupPath: forged, dataDir: target, backupDir: backups }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/cannot be restored; nothing was changed/);
    expect((error as Error).message).toMatch(/databases\/did_cache\.sqlite\.gz unpacks to 8192 bytes, but manifest\.json records \d+/);
    expect((error as Error).message).toMatch(/blobs\.tar\.gz holds 3 blobs, but manifest\.json records 7/);
    expect((error as Error).message).toMatch(/databases\/did_cache\.sqlite\.gz is not a sound database/);
    expect(digests(target)).toEqual(oldDigests);
    expect(readdirSync(target)).not.toContain(STAGING_DIR_NAME);
  });

  it('refuses a database cut short (as a byte copy of a live file can be) with checksums that match, and changes nothing', async () => {
    const forged = copyDir(backupPath, path.join(fresh('cut-backups'), path.basename(backupPath)));
    const manifest = JSON.parse(readFileSync(path.join(forged, 'manifest.json'), 'utf8')) as Manifest;
    const rel = 'databases/account.sqlite.gz';
    const whole = gunzipSync(readFileSync(path.join(forged, rel)));
    const pageSize = whole.readUInt16BE(16);
    expect(whole.length / pageSize).toBeGreaterThan(4);
    const cut = whole.subarray(0, Math.floor(whole.length / pageSize / 2) * pageSize + 100);
    const packed = gzipSync(cut);
    writeFileSync(path.join(forged, rel), packed);
    Object.assign(manifest.aurora_backup.files.find((f) => f.path === rel)!, { size: packed.length, sha256: createHash('sha256').update(packed).digest('hex') });
    manifest.aurora_backup.database_snapshots.find((s) => s.name === 'account')!.snapshot_size = cut.length;
    writeFileSync(path.join(forged, 'manifest.json'), JSON.stringify(manifest));

    const target = copyDir(oldData, fresh('cut-target'));
    const error = await restoreBackup({ backupPath: forged, dataDir: target, backupDir: backups }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/databases\/account\.sqlite\.gz is not a sound database \(integrity_check: .*malformed/);
    expect(digests(target)).toEqual(oldDigests);
    expect(readdirSync(target)).not.toContain(STAGING_DIR_NAME);
  });

  it('refuses a backup with a flipped byte before anything is written', async () => {
    const damaged = copyDir(backupPath, path.join(fresh('damaged-backups'), path.basename(backupPath)));
    const file = path.join(damaged, 'actors.tar.gz');
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(file, bytes);
    const target = fresh('damaged-target');
    await expect(restoreBackup({ backupPath: damaged, dataDir: target, backupDir: backups })).rejects.toThrow(/failed verification.*\n.*actors\.tar\.gz: SHA-256 does not match/);
    expect(existsSync(target)).toBe(false);
  });

  it('refuses an uncompressed backup with one byte of a blob changed, which only its SHA-256 shows, and writes nothing', async () => {
    // No gzip CRC to trip over and a tar whose headers are intact: every other check passes.
    const plain = (await runBackup({ dataDir: oldData, backupDir: fresh('plain-backups'), env: {}, compression: 'none' })).path;
    const archive = path.join(plain, 'blobs.tar');
    const bytes = readFileSync(archive);
    bytes[firstFileContentOffset(bytes) + 100]! ^= 0x01;
    writeFileSync(archive, bytes);
    const target = fresh('plain-target');
    const marker = path.join(root, `plain-stop-${n}`);
    await expect(restoreBackup({ backupPath: plain, dataDir: target, backupDir: backups, stopCommand: `touch "${marker}"` })).rejects.toThrow(/blobs\.tar: SHA-256 does not match/);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(target) ? readdirSync(target) : []).toEqual([]);
  });

  it('refuses a backup with a file cut short before stopping the PDS or writing anything', async () => {
    const cut = copyDir(backupPath, path.join(fresh('cut-backups'), path.basename(backupPath)));
    const file = path.join(cut, 'blobs.tar.gz');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    const target = fresh('cut-target');
    const marker = path.join(root, 'stop-ran');
    const error = await restoreBackup({ backupPath: cut, dataDir: target, backupDir: backups, stopCommand: `touch ${marker}` }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(new RegExp(`failed verification.*\\n.*blobs\\.tar\\.gz: size is ${bytes.length - 100} bytes, manifest\\.json records ${bytes.length}`));
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(target)).toBe(false);
  });

  it('unpacks and checks everything beside the running PDS before it stops it; a damaged backup never stops it', async () => {
    const target = copyDir(oldData, fresh('stop-late'));
    const log = path.join(root, `stop-late-${n}.log`);
    await restoreBackup({ backupPath, dataDir: target, backupDir: backups, stopCommand: `find "${path.join(target, STAGING_DIR_NAME)}" -type f | wc -l > "${log}"` });
    // Every file the backup holds was staged when the stop command ran (the reference copy also has -wal and -shm files: it was read with SQLite).
    const inBackup = readdirSync(path.join(root, 'expected'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !/-(wal|shm)$/.test(e.name));
    expect(Number(readFileSync(log, 'utf8'))).toBe(inBackup.length);
    expect(digests(target)).toEqual(expected);

    const damaged = copyDir(backupPath, path.join(fresh('damaged-blobs'), path.basename(backupPath)));
    const blobs = readFileSync(path.join(damaged, 'blobs.tar.gz'));
    blobs[Math.floor(blobs.length * 0.7)]! ^= 0x10;
    writeFileSync(path.join(damaged, 'blobs.tar.gz'), blobs);
    const untouched = copyDir(oldData, fresh('stop-never'));
    const marker = path.join(root, `stop-never-${n}`);
    await expect(restoreBackup({ backupPath: damaged, dataDir: untouched, backupDir: backups, stopCommand: `touch "${marker}"` })).rejects.toThrow(/blobs\.tar\.gz: SHA-256 does not match/);
    expect(existsSync(marker)).toBe(false);
    expect(exactFiles(untouched)).toEqual(exactFiles(oldData));
  });

  it('stops unpacking, and changes nothing, when it would leave the running PDS too little free space', async () => {
    const source = copyDir(oldData, fresh('roomy-source'));
    writeFileSync(path.join(source, 'actors', 'padding.bin'), Buffer.alloc(48 << 20)); // unpacks to far more than it takes in the backup
    const roomy = (await runBackup({ dataDir: source, backupDir: fresh('roomy-backups'), env: {} })).path;
    const compressed = (JSON.parse(readFileSync(path.join(roomy, 'manifest.json'), 'utf8')) as Manifest).aurora_backup.files.reduce((sum, f) => sum + f.size, 0);
    const marker = path.join(root, `roomy-stop-${n}`);
    // The target on a disk of its own, whose free space only this restore changes (the system's temporary
    // folder is filled and emptied by other tests); large enough that it never actually runs full.
    const found = await onSmallDisk<{ first: string; second: string; changedByFirst: boolean; changedBySecond: boolean }>(
      96,
      fresh('small-disk'),
      `import { cpSync, statfsSync } from 'node:fs';
       import path from 'node:path';
       import { restoreBackup } from ${JSON.stringify(path.resolve('electron/engine/restore.ts'))};
       import { exactFiles } from ${JSON.stringify(path.resolve('test/helpers/digest.ts'))};
       const [disk, oldData, backupPath, backupDir, marker, compressed] = process.argv.slice(1);
       const target = path.join(disk, 'roomy-target');
       cpSync(oldData, target, { recursive: true });
       const free = () => statfsSync(target).bavail * statfsSync(target).bsize;
       const before = JSON.stringify(exactFiles(oldData));
       const attempt = (keepFreeBytes) => restoreBackup({ backupPath, dataDir: target, backupDir, stopCommand: 'touch "' + marker + '"', keepFreeBytes }).then(() => 'restored', (e) => e.message);
       // Room for the backup's files as they are, but not for what they unpack to.
       const first = await attempt(free() - Number(compressed) - (16 << 20));
       const changedByFirst = JSON.stringify(exactFiles(target)) !== before;
       const second = await attempt(free());
       const changedBySecond = JSON.stringify(exactFiles(target)) !== before;
       console.log(JSON.stringify({ first, second, changedByFirst, changedBySecond }));`,
      [oldData, roomy, backups, marker, String(compressed)],
    );
    expect(found.first).toMatch(/^There is not enough free space beside .*roomy-target.* to unpack the backup \(.*keeping .* free for the running PDS\)\. Free some space and try again; nothing was changed\.$/);
    expect(found.changedByFirst).toBe(false);
    expect(existsSync(marker)).toBe(false);
    expect(found.second).toMatch(/not enough free space/);
    expect(found.changedBySecond).toBe(false);
  });

  it('restores a backup made by the original backup.sh, saying that checksums were not available', async () => {
    const legacy = makeLegacyBackup(oldData, path.join(root, 'legacy-backups'));
    const target = fresh('from-legacy');
    const result = await restoreBackup({ backupPath: legacy, dataDir: target, backupDir: backups });
    expect(result.warnings.join(' ')).toMatch(/original backup\.sh: checksums were not available/);
    expectClean(target);
    expect(digests(target)).toEqual(oldDigests);
  });

  it('can be cancelled while unpacking, leaving nothing changed', async () => {
    const target = copyDir(oldData, fresh('cancelled'));
    const abort = new AbortController();
    const phases: string[] = [];
    const restoring = restoreBackup({
      backupPath,
      dataDir: target,
      backupDir: backups,
      signal: abort.signal,
      onProgress: (p) => {
        phases.push(p.phase);
        if (p.phase === 'unpacking') abort.abort();
      },
    });
    await expect(restoring).rejects.toThrow('The restore was cancelled; nothing was changed.');
    expect(phases).toContain('unpacking');
    expect(phases).not.toContain('swapping');
    expect(readdirSync(target)).not.toContain(STAGING_DIR_NAME);
    expect(digests(target)).toEqual(oldDigests);
  });

  it('runs the stop command before and the start command after the restore', async () => {
    const target = copyDir(oldData, fresh('service'));
    const log = path.join(root, `service-${n}.log`);
    const result = await restoreBackup({
      backupPath,
      dataDir: target,
      backupDir: backups,
      components: ['did_cache'],
      stopCommand: `echo stop >> "${log}"`,
      startCommand: `echo "start after $(ls "${target}" | grep -c aurora-restore) staging folders" >> "${log}"`,
    });
    expect(result.restored).toEqual(['did_cache']);
    expect(readFileSync(log, 'utf8')).toBe('stop\nstart after 0 staging folders\n');

    const again = await restoreBackup({ backupPath, dataDir: target, backupDir: backups, components: ['did_cache'], stopCommand: 'true', startCommand: 'exit 5' });
    expect(again.warnings).toContain('The start command "exit 5" failed (exit code 5). Start the PDS by hand.');

    // The pre-restore backup holds just the component that was replaced, and restoring it says so.
    const plan = await planRestore({ backupPath: again.preRestoreBackup!, dataDir: target });
    expect(plan.components.map((c) => c.component)).toEqual(['did_cache']);
    expect(plan.warnings.join(' ')).toContain('Partial restore (the backup holds only did_cache): account, sequencer, blobs, actors stay as they are now');
  });

  it('refuses when the PDS answers on its health URL, and says which command failed when stopping fails', async () => {
    const target = copyDir(oldData, fresh('health'));
    const server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const healthUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/xrpc/_health`;
    try {
      await expect(restoreBackup({ backupPath, dataDir: target, backupDir: backups, healthUrl })).rejects.toThrow(`the PDS answers at ${healthUrl} (HTTP 200)`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    await expect(restoreBackup({ backupPath, dataDir: target, backupDir: backups, stopCommand: 'echo permission denied >&2; exit 4', startCommand: 'exit 0' })).rejects.toThrow(
      /The stop command "echo permission denied >&2; exit 4" failed \(exit code 4\)\.\npermission denied/,
    );
    expect(digests(target)).toEqual(oldDigests);
  });

  it('warns when the backup comes from another PDS version, and plans without changing anything', async () => {
    const target = copyDir(oldData, fresh('planned'));
    const before = exactFiles(target);
    const plan = await planRestore({ backupPath, dataDir: target, backupDir: backups, expectedPdsVersion: '0.4.0' });
    expect(plan.pdsVersion).toBe('0.3.1');
    expect(plan.warnings.join(' ')).toMatch(/Version mismatch: the backup was made by PDS 0\.3\.1, the target is configured for PDS 0\.4\.0/);
    expect(plan.preRestoreBackup).toEqual({ backupDir: backups, components: [...COMPONENTS] });
    expect(plan.components.map((c) => c.component)).toEqual([...COMPONENTS]);
    expect(exactFiles(target)).toEqual(before);

    const samePlan = await planRestore({ backupPath, dataDir: target, env: { PDS_VERSION: '0.3.1' } });
    expect(samePlan.warnings).toEqual([]);
  });
});

/** Where the contents of the first regular file of at least 200 bytes start in a tar archive. */
function firstFileContentOffset(tar: Buffer): number {
  for (let at = 0; at + 512 <= tar.length; ) {
    const size = parseInt(tar.subarray(at + 124, at + 136).toString('ascii').replace(/\0/g, '').trim() || '0', 8);
    const type = String.fromCharCode(tar[at + 156]!);
    if ((type === '0' || type === '\0') && size >= 200) return at + 512;
    if (tar.subarray(at, at + 512).every((b) => b === 0)) break;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error('no regular file of 200 bytes or more in the archive');
}
