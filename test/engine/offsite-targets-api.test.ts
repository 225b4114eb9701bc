import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TargetSpec } from '../../shared/targets.js';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { KnownHosts } from '../../electron/engine/targets/known-hosts.js';
import { catalogTargets, copyStates, copyToTargets } from '../../electron/engine/targets/offsite.js';
import type { TargetContext } from '../../electron/engine/targets/open.js';
import { exactFiles } from '../helpers/digest.js';
import { S3_KEYS, startS3, type RunningServer } from '../helpers/offsite-servers.js';
import { makeTempDir } from '../helpers/tmp.js';

const BUCKET = 'aurora-api';
let root: string;
let backups: string[];
let s3: RunningServer;
let context: TargetContext;

beforeAll(async () => {
  root = makeTempDir('offsite-api');
  const dataDir = path.join(root, 'data');
  await createFixture(dataDir, { accounts: 2, posts: 5, blobMB: 2, seed: 'offsite-api' });
  backups = [];
  for (let i = 0; i < 2; i++) backups.push((await runBackup({ dataDir, backupDir: path.join(root, 'backups'), env: {} })).path);
  s3 = await startS3(path.join(root, 's3'), BUCKET);
  context = { knownHosts: new KnownHosts(path.join(root, 'known-hosts.json')), env: S3_KEYS };
});

afterAll(async () => {
  await s3?.stop();
});

const folder = (): TargetSpec => ({ name: 'usb', type: 'folder', path: path.join(root, 'usb'), enabled: true });
const bucket = (port = s3.port, name = 'bucket'): TargetSpec => ({
  name,
  type: 's3',
  bucket: BUCKET,
  prefix: 'api/',
  endpoint: `http://127.0.0.1:${port}`,
  region: 'us-east-1',
  forcePathStyle: true,
  partSizeMiB: 5,
  enabled: true,
});

describe('copyToTargets and the copy state of each backup per target', () => {
  it('copies to every target, reports the one that is down with its reason and still copies to the others', async () => {
    const down = await startS3(path.join(root, 's3-down'), BUCKET);
    await down.stop();
    const progress = new Map<string, number>();
    const done: string[] = [];
    const results = await copyToTargets(backups[0]!, [bucket(down.port, 'offline'), folder(), bucket()], {
      context,
      onProgress: (target, p) => progress.set(target, p.bytesDone),
      onTargetDone: (result) => done.push(result.target),
    });
    expect(results.map((r) => [r.target, r.ok])).toEqual([
      ['offline', false],
      ['usb', true],
      ['bucket', true],
    ]);
    expect(results[0]).toMatchObject({ code: 'TARGET_UNREACHABLE', error: expect.stringContaining('refused'), location: expect.stringContaining(`127.0.0.1:${down.port}`) });
    expect(results[1]).toMatchObject({ uploadedFiles: 6, alreadyThere: false, pruned: [], pruneFailures: [] });
    expect(done).toEqual(['offline', 'usb', 'bucket']);
    expect(progress.get('usb')).toBeGreaterThan(0);
    expect(progress.get('bucket')).toBeGreaterThan(0);
    expect(exactFiles(path.join(root, 'usb', path.basename(backups[0]!)))).toEqual(exactFiles(backups[0]!));

    const names = backups.map((b) => path.basename(b));
    const catalogs = await catalogTargets([folder(), bucket(), bucket(down.port, 'offline')], context);
    expect(catalogs.map((c) => [c.target, c.ok, c.backups.map((b) => b.name)])).toEqual([
      ['usb', true, [names[0]]],
      ['bucket', true, [names[0]]],
      ['offline', false, []],
    ]);
    expect(copyStates(catalogs, names)).toEqual({
      [names[0]!]: { usb: 'complete', bucket: 'complete', offline: 'unknown' },
      [names[1]!]: { usb: 'missing', bucket: 'missing', offline: 'unknown' },
    });
  });

  it('does not try the other targets when the local backup itself is damaged', async () => {
    const spec = folder();
    const missing = path.join(root, 'backups', 'backup_20000101_000000');
    await expect(copyToTargets(missing, [spec, bucket()], { context })).rejects.toMatchObject({ code: expect.stringMatching(/NOT_A_FOLDER|NO_MANIFEST/) });
  });
});
