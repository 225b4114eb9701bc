// The tar comparison (verify-restore-agree.test.ts) for backup.ps1's zip backups: the same EntryRules
// apply, so each crafted blobs.zip fails `verify --deep` with the very sentence `restore` refuses it with,
// and nothing is written.
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createFixture } from '../../electron/engine/fixture.js';
import { restoreBackup } from '../../electron/engine/restore.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { zipOf, type RawZipEntry } from '../helpers/hostile-archives.js';
import { makePs1Backup } from '../helpers/ps1-backup.js';
import { makeTempDir } from '../helpers/tmp.js';

const OUTSIDE = '/tmp/aurora-zip-agree-outside';
let root: string;
let real: string;
/** The fixture's blob files as zip entries, `blobs/<did>/<cid>`, the way Compress-Archive stores the folder. */
let blobEntries: RawZipEntry[];
let copies = 0;

beforeAll(async () => {
  root = makeTempDir('aurora-zip-agree');
  const dataDir = path.join(root, 'data');
  await createFixture(dataDir, { accounts: 2, posts: 5, blobMB: 0.2, seed: 'zip-agree' });
  real = makePs1Backup(dataDir, path.join(root, 'backups'));
  const blobs = path.join(dataDir, 'blobs');
  blobEntries = [{ name: 'blobs/' }];
  for (const did of readdirSync(blobs)) {
    blobEntries.push({ name: `blobs/${did}/` });
    for (const cid of readdirSync(path.join(blobs, did))) blobEntries.push({ name: `blobs/${did}/${cid}`, body: readFileSync(path.join(blobs, did, cid)) });
  }
});

/** A copy of the backup.ps1 backup whose blobs.zip is `archive` (its manifest records no checksums). */
function backupWithBlobs(archive: Buffer): string {
  const folder = path.join(root, `copy-${++copies}`, path.basename(real));
  cpSync(real, folder, { recursive: true });
  writeFileSync(path.join(folder, 'blobs.zip'), archive);
  return folder;
}

const SYMLINK = 0o120777;
/** Every real blob, then the hostile entry: a restore has written the good ones when it meets it. */
const after = (entry: RawZipEntry) => zipOf([...blobEntries, entry]);
/** On Windows the DID folders' ":" is refused first: there the hostile entry comes before them. */
const before = (entry: RawZipEntry) => zipOf([{ name: 'blobs/' }, entry, ...blobEntries.slice(1)]);

const crafted: Array<{ name: string; archive: () => Buffer; problem: RegExp; platform?: NodeJS.Platform }> = [
  { name: 'path traversal', archive: () => after({ name: 'blobs/../../escaped.txt', body: 'x' }), problem: /"\.\."/ },
  { name: 'absolute path', archive: () => after({ name: `${OUTSIDE}/absolute.txt`, body: 'x' }), problem: /absolute path/ },
  { name: 'backslashes climbing out', archive: () => after({ name: 'blobs\\..\\..\\escaped.txt', body: 'x' }), problem: /"\.\."/ },
  { name: 'symbolic link', archive: () => after({ name: 'blobs/link', body: OUTSIDE, mode: SYMLINK }), problem: /symbolic link/ },
  { name: 'control character', archive: () => after({ name: 'blobs/bad\u0007name', body: 'x' }), problem: /control character/ },
  { name: 'duplicate entry', archive: () => zipOf([...blobEntries, blobEntries.at(-1)!]), problem: /appears twice/ },
  { name: 'outside the component folder', archive: () => after({ name: 'actors/sneaky', body: 'x' }), problem: /not inside blobs\// },
  { name: 'Windows device name', archive: () => before({ name: 'blobs/CON.txt', body: 'x' }), problem: /reserved on Windows/, platform: 'win32' },
  { name: 'trailing dot', archive: () => before({ name: 'blobs/file.', body: 'x' }), problem: /dot or space/, platform: 'win32' },
  { name: 'the DID folders\' ":" (the real blobs.zip)', archive: () => zipOf(blobEntries), problem: /has a ":", which Windows does not allow/, platform: 'win32' },
  {
    name: 'decompression bomb (64 MiB recorded as 1 000 bytes)',
    archive: () => after({ name: 'blobs/bomb', body: Buffer.alloc(64 * 1024 * 1024), recordedSize: 1000 }),
    problem: /^the entry "blobs\/bomb" unpacks to more than the 1000 bytes the zip records for it \(a damaged archive, or a decompression bomb\)$/,
  },
];

describe('crafted zip backups: verify --deep refuses what restore refuses, for the same reason, writing nothing', () => {
  it.each(crafted.map((c) => [c.name, c] as const))('%s', async (_name, { archive, problem, platform }) => {
    const folder = backupWithBlobs(archive());
    const report = await verifyBackup(folder, { deep: true, platform });
    expect(report.ok).toBe(false);
    const verified = report.problems.find((p) => p.startsWith('blobs.zip: '));
    const reason = verified!.replace(/^blobs\.zip: /, '').replace(/\.$/, '');
    expect(reason).toMatch(/^the entry "/);
    expect(reason).toMatch(problem);

    const target = path.join(path.dirname(folder), 'restored');
    const restored = await restoreBackup({ backupPath: folder, dataDir: target, env: {}, cwd: root, platform }).then(
      () => null,
      (error: Error) => error.message,
    );
    expect(restored).toBe(`Refused ${path.join(folder, 'blobs.zip')}: ${reason}. Nothing from it was restored.`);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(OUTSIDE)).toBe(false);
    expect(readdirSync(path.dirname(folder))).toEqual([path.basename(real)]);
  });

  it('the real backup, zipped again by hand, verifies deep and restores (the crafted ones differ only in their entry)', async () => {
    const folder = backupWithBlobs(zipOf(blobEntries));
    expect((await verifyBackup(folder, { deep: true })).problems).toEqual([]);
    const target = path.join(path.dirname(folder), 'restored');
    await restoreBackup({ backupPath: folder, dataDir: target, env: {}, cwd: root });
    expect(readdirSync(path.join(target, 'blobs')).sort()).toEqual(blobEntries.filter((e) => /^blobs\/[^/]+\/$/.test(e.name)).map((e) => e.name.slice(6, -1)).sort());
  });
});
