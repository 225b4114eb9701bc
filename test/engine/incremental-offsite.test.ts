import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Component } from '../../shared/components.js';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { restoreBackup } from '../../electron/engine/restore.js';
import { listTargetBackups, pruneTarget } from '../../electron/engine/targets/catalog.js';
import { copyBackup } from '../../electron/engine/targets/copy.js';
import { downloadBackup } from '../../electron/engine/targets/download.js';
import { KnownHosts } from '../../electron/engine/targets/known-hosts.js';
import { openTarget } from '../../electron/engine/targets/open.js';
import type { Target } from '../../electron/engine/targets/target.js';
import { addBlob, writeToActors } from '../helpers/chain-changes.js';
import { objectFile, S3_KEYS, startS3, type RunningServer } from '../helpers/offsite-servers.js';
import { digests } from '../helpers/restore-setup.js';
import { makeTempDir } from '../helpers/tmp.js';

const BUCKET = 'aurora-chain';

describe('incremental backups on an S3 target', () => {
  let root: string;
  let s3: RunningServer;
  let target: Target;
  const chain: Array<{ name: string; path: string; expected: Record<Component, string> }> = [];

  beforeAll(async () => {
    root = makeTempDir('incremental-s3');
    const dataDir = path.join(root, 'data');
    const backupDir = path.join(root, 'backups');
    const dids = (await createFixture(dataDir, { accounts: 4, posts: 6, blobMB: 3, seed: 's3-chain' })).dids;
    // Settled files (a fingerprint taken within seconds of a write is never trusted).
    const then = new Date(Date.now() - 60_000);
    for (const e of readdirSync(dataDir, { recursive: true, withFileTypes: true })) utimesSync(path.join(e.parentPath, e.name), then, then);
    const backup = async (kind: 'full' | 'incremental') => {
      const expected = digests(dataDir);
      const result = await runBackup({ dataDir, backupDir, kind });
      chain.push({ name: result.name, path: result.path, expected });
    };
    await backup('full');
    addBlob(dataDir);
    writeToActors(dataDir, [dids[0]!]);
    await backup('incremental');
    addBlob(dataDir);
    writeToActors(dataDir, [dids[1]!]);
    await backup('incremental');
    s3 = await startS3(path.join(root, 's3'), BUCKET);
    target = openTarget(
      { name: 'bucket', type: 's3', bucket: BUCKET, prefix: 'pds/', endpoint: `http://127.0.0.1:${s3.port}`, region: 'us-east-1', forcePathStyle: true, partSizeMiB: 5, enabled: true },
      { knownHosts: new KnownHosts(path.join(root, 'known-hosts.json')), env: S3_KEYS },
    );
  }, 120_000);

  afterAll(async () => {
    await target?.close();
    await s3?.stop();
  });

  it('copies an incremental backup with the chain it needs, and then only the new backup\'s few objects', async () => {
    const first = await copyBackup({ backupPath: chain[1]!.path, target });
    expect((await listTargetBackups(target)).map((b) => b.name).sort()).toEqual([chain[0]!.name, chain[1]!.name]);
    expect(first.uploadedFiles).toBeLessThan(6);
    const second = await copyBackup({ backupPath: chain[2]!.path, target });
    const fullBytes = statSync(path.join(chain[0]!.path, 'blobs.tar.gz')).size;
    expect(second.uploadedBytes).toBeLessThan(fullBytes * 0.2);
    const listed = await listTargetBackups(target);
    expect(listed.find((b) => b.name === chain[2]!.name)).toMatchObject({ status: 'complete', backupKind: 'incremental', base: chain[0]!.name });
  }, 60_000);

  it('keeps the base on the target when retention would remove it, and restores the newest through its downloaded chain', async () => {
    const pruned = await pruneTarget(target, { retainDays: 1, keepLast: 1 }, new Date(Date.now() + 10 * 86_400_000));
    const left = (await listTargetBackups(target)).map((b) => b.name);
    expect(left).toContain(chain[0]!.name);
    expect(left).toContain(chain[2]!.name);
    expect(pruned.reasons[chain[0]!.name]).toMatch(/needed by/);
    const into = makeTempDir('incremental-s3-download');
    const local = await downloadBackup({ target, name: chain[2]!.name, intoDir: into });
    const restored = path.join(root, 'restored');
    await restoreBackup({ backupPath: local, dataDir: restored });
    expect(digests(restored)).toEqual(chain[2]!.expected);
  }, 60_000);

  it('refuses a bit-flip in the base on the target when fetching a later backup', async () => {
    const object = objectFile(path.join(root, 's3'), BUCKET, `pds/${chain[0]!.name}/actors.tar.gz`);
    const bytes = readFileSync(object);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(object, bytes);
    const into = makeTempDir('incremental-s3-flipped');
    await expect(downloadBackup({ target, name: chain[2]!.name, intoDir: into })).rejects.toThrow(
      new RegExp(`actors\\.tar\\.gz of ${chain[0]!.name} with a SHA-256 that does not match`),
    );
  }, 60_000);
});
