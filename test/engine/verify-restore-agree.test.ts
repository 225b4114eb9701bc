// "A backup that verifies deep is a backup that restores": each crafted blob archive, sealed into a real
// backup (its size and SHA-256 fixed in manifest.json, so only the contents can tell), must fail
// `verify --deep` with the very reason `restore` refuses it for.
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../shared/manifest.js';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { restoreBackup } from '../../electron/engine/restore.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { blobsBombOf, hostileBlobsArchives } from '../helpers/hostile-archives.js';
import { replaceAndReseal } from '../helpers/manifest-backup.js';
import { makeTempDir } from '../helpers/tmp.js';

let root: string;
let real: string;
let copies = 0;

beforeAll(async () => {
  root = makeTempDir('aurora-agree');
  const dataDir = path.join(root, 'data');
  await createFixture(dataDir, { accounts: 2, posts: 5, blobMB: 0.2, seed: 'agree' });
  real = (await runBackup({ dataDir, backupDir: path.join(root, 'backups'), env: {} })).path;
});

/** A copy of the real backup whose `relative` file is `bytes`, resealed in manifest.json (and `edit` applied to it). */
function backupWith(relative: string, bytes: Buffer, edit?: (manifest: Manifest) => void): string {
  const folder = path.join(root, `copy-${++copies}`, path.basename(real));
  cpSync(real, folder, { recursive: true });
  replaceAndReseal(folder, relative, bytes, edit);
  return folder;
}

const backupWithBlobs = (archive: Buffer) => backupWith('blobs.tar.gz', archive);

/** What verify --deep says of blobs.tar.gz, and what a restore into an empty folder says. */
async function verifyAndRestore(folder: string, platform?: NodeJS.Platform, file = 'blobs.tar.gz') {
  const report = await verifyBackup(folder, { deep: true, platform });
  const verified = report.problems.find((p) => p.startsWith(`${file}: `));
  const target = path.join(path.dirname(folder), 'restored');
  const restored = await restoreBackup({ backupPath: folder, dataDir: target, env: {}, cwd: root, platform }).then(
    () => null,
    (error: Error) => error.message,
  );
  return { report, verified, restored, target };
}

// The stream-level damage (truncated, bit-flipped, not tar) is worded by each side for its own reader;
// every entry rule must be worded the same.
const crafted = hostileBlobsArchives('/tmp/aurora-agree-outside').filter((a) => !/gzip/.test(a.name));

describe('verify --deep refuses what restore refuses, for the same reason', () => {
  it.each(crafted.map((a) => [a.name, a] as const))('%s', async (_name, { archive, problem, platform }) => {
    const { report, verified, restored, target } = await verifyAndRestore(backupWithBlobs(archive), platform);
    expect(report.ok).toBe(false);
    expect(verified).toMatch(problem);
    expect(restored).toMatch(problem);
    // The same sentence: `blobs.tar.gz: the entry "…" <reason>.` in verify, inside `Refused …: the entry "…" <reason>. Nothing …` in restore.
    const reason = verified!.replace(/^blobs\.tar\.gz: /, '').replace(/\.$/, '');
    expect(reason).toMatch(/^the entry "/);
    expect(restored).toContain(`: ${reason}. Nothing from it was restored.`);
    expect(existsSync(target)).toBe(false);
  });

  it('a 1 GiB decompression bomb: both stop at its header, past the unpacked size manifest.json records', async () => {
    const recorded = (JSON.parse(readFileSync(path.join(real, 'manifest.json'), 'utf8')) as Manifest).aurora_backup.files.find((f) => f.path === 'blobs.tar.gz')!.unpacked_size;
    expect(recorded).toBeGreaterThan(0);
    const { report, verified, restored, target } = await verifyAndRestore(backupWithBlobs(blobsBombOf(1024)));
    expect(report.ok).toBe(false);
    const reason = verified!.replace(/^blobs\.tar\.gz: /, '').replace(/\.$/, '');
    expect(reason).toBe(`the entry "blobs/did_plc_abc/bomb" takes the archive past the ${recorded} bytes manifest.json records it unpacks to (a damaged archive, or a decompression bomb)`);
    expect(restored).toContain(`: ${reason}. Nothing from it was restored.`);
    expect(existsSync(target)).toBe(false);
  });

  it('the real backup itself verifies deep and restores', async () => {
    const { report, restored, target } = await verifyAndRestore(backupWithBlobs(readFileSync(path.join(real, 'blobs.tar.gz'))));
    expect(report.problems).toEqual([]);
    expect(restored).toBeNull();
    expect(existsSync(path.join(target, 'blobs'))).toBe(true);
  });
});

describe('names Windows cannot store', () => {
  it('a blob named "x." backed up on Linux verifies and restores on Linux, with a warning from the backup; on Windows both refuse it, for the same reason', async () => {
    const dataDir = path.join(root, 'windows-names', 'data');
    await createFixture(dataDir, { accounts: 1, posts: 3, blobMB: 0.1, seed: 'windows-names' });
    const didFolder = readdirSync(path.join(dataDir, 'blobs'))[0]!;
    writeFileSync(path.join(dataDir, 'blobs', didFolder, 'x.'), 'a temp file the PDS left');
    writeFileSync(path.join(dataDir, 'blobs', didFolder, 'aux'), 'another');
    const backup = await runBackup({ dataDir, backupDir: path.join(root, 'windows-names', 'backups'), env: {} });
    expect((backup.warnings ?? []).join('\n')).toMatch(/2 names in this backup cannot be stored on Windows \(blobs\/.+\/aux uses "aux", a device name reserved on Windows; blobs\/.+\/x\. has a name ending in a dot or space/);

    const onLinux = await verifyAndRestore(backup.path, 'linux');
    expect(onLinux.report.problems).toEqual([]);
    expect(onLinux.restored).toBeNull();
    expect(readFileSync(path.join(onLinux.target, 'blobs', didFolder, 'x.'), 'utf8')).toBe('a temp file the PDS left');

    const copy = path.join(root, 'windows-names', 'copy', path.basename(backup.path));
    cpSync(backup.path, copy, { recursive: true });
    const onWindows = await verifyAndRestore(copy, 'win32');
    const reason = onWindows.verified!.replace(/^blobs\.tar\.gz: /, '').replace(/\.$/, '');
    expect(reason).toMatch(/^the entry "blobs\/did.+" has a ":", which Windows does not allow in file names$/); // the DID folder comes first
    expect(onWindows.restored).toContain(`: ${reason}. Nothing from it was restored.`);
  });
});

describe('an empty account database', () => {
  it('a 0-byte account.sqlite whose manifest counts accounts fails verify --deep, and restore refuses it for the same reason', async () => {
    const counted = (JSON.parse(readFileSync(path.join(real, 'manifest.json'), 'utf8')) as Manifest).aurora_backup.counts.accounts;
    expect(counted).toBeGreaterThan(0);
    // Resealed whole: the file's size and SHA-256, and the snapshot's recorded size, all say 0 bytes.
    const folder = backupWith('databases/account.sqlite.gz', gzipSync(Buffer.alloc(0)), (manifest) => {
      manifest.aurora_backup.database_snapshots.find((s) => s.name === 'account')!.snapshot_size = 0;
    });
    const { report, verified, restored, target } = await verifyAndRestore(folder, undefined, 'databases/account.sqlite.gz');
    expect(report.ok).toBe(false);
    const problem = `is an empty (0-byte) database, but manifest.json counts ${counted} accounts in it`;
    expect(verified).toBe(`databases/account.sqlite.gz: ${problem}.`);
    expect(restored).toContain(`databases/account.sqlite.gz ${problem}`);
    expect(existsSync(target)).toBe(false);
  });
});
