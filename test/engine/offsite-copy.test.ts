import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TargetSpec } from '../../shared/targets.js';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { listTargetBackups } from '../../electron/engine/targets/catalog.js';
import { copyBackup } from '../../electron/engine/targets/copy.js';
import { downloadBackup } from '../../electron/engine/targets/download.js';
import { KnownHosts } from '../../electron/engine/targets/known-hosts.js';
import { openTarget } from '../../electron/engine/targets/open.js';
import type { Target } from '../../electron/engine/targets/target.js';
import { S3_KEYS, startS3, startSshd, type RunningServer, type Sshd } from '../helpers/offsite-servers.js';
import { makeTempDir } from '../helpers/tmp.js';

/** Every file of a folder with its SHA-256: what "the same backup" means. */
function folderDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    out[path.relative(dir, full)] = createHash('sha256').update(readFileSync(full)).digest('hex');
  }
  return out;
}

let root: string;
let backupPath: string;
/** Two later backups of the same data, for retention. */
let later: string[];
let s3: RunningServer;
let sshd: Sshd;
const BUCKET = 'aurora-offsite';

beforeAll(async () => {
  root = makeTempDir('offsite-copy');
  const dataDir = path.join(root, 'data');
  await createFixture(dataDir, { accounts: 3, posts: 10, blobMB: 12, seed: 'offsite' });
  backupPath = (await runBackup({ dataDir, backupDir: path.join(root, 'backups'), env: {} })).path;
  later = [];
  for (let i = 0; i < 2; i++) later.push((await runBackup({ dataDir, backupDir: path.join(root, 'backups'), env: {}, components: ['account', 'did_cache'] })).path);
  [s3, sshd] = await Promise.all([startS3(path.join(root, 's3'), BUCKET), startSshd(path.join(root, 'sshd'))]);
});

afterAll(async () => {
  await Promise.all([s3?.stop(), sshd?.stop()]);
});

const kinds: Record<string, () => { spec: TargetSpec; env?: NodeJS.ProcessEnv }> = {
  folder: () => ({ spec: { name: 'usb', type: 'folder', path: path.join(root, 'second-disk'), enabled: true } }),
  s3: () => ({
    spec: {
      name: 'bucket',
      type: 's3',
      bucket: BUCKET,
      prefix: 'pds/',
      endpoint: `http://127.0.0.1:${s3.port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      partSizeMiB: 5,
      enabled: true,
    },
    env: S3_KEYS,
  }),
  sftp: () => ({
    spec: {
      name: 'nas',
      type: 'sftp',
      host: '127.0.0.1',
      port: sshd.port,
      username: sshd.user,
      path: path.join(root, 'sftp-root'),
      privateKeyFile: sshd.userKey,
      enabled: true,
    },
  }),
};

describe.each(Object.keys(kinds))('copy to a %s target', (kind) => {
  let target: Target;
  beforeAll(() => {
    const { spec, env } = kinds[kind]!();
    target = openTarget(spec, { knownHosts: new KnownHosts(path.join(root, `${kind}-known-hosts.json`)), env });
  });
  afterAll(async () => {
    await target.close();
  });

  it('sends every file, reads each back, and publishes the folder under its own name', async () => {
    const phases = new Set<string>();
    const result = await copyBackup({ backupPath, target, onProgress: (p) => phases.add(p.phase) });
    expect(result.alreadyThere).toBe(false);
    expect(result.uploadedFiles).toBe(6); // 3 databases, 2 archives, the manifest
    const localBytes = Object.keys(folderDigest(backupPath)).reduce((sum, f) => sum + statSync(path.join(backupPath, f)).size, 0);
    expect(result.uploadedBytes).toBe(localBytes);
    expect(phases).toContain('uploading');

    const listed = await listTargetBackups(target);
    expect(listed.map((b) => [b.name, b.status])).toEqual([[path.basename(backupPath), 'complete']]);
    expect(await target.listFolders()).not.toContain(`.incomplete-${path.basename(backupPath)}`);
  });

  it('sends nothing for a backup the target already holds', async () => {
    const result = await copyBackup({ backupPath, target });
    expect(result).toMatchObject({ alreadyThere: true, uploadedFiles: 0, uploadedBytes: 0 });
  });

  it('downloads it back, every file identical to the local backup', async () => {
    const into = makeTempDir(`offsite-download-${kind}`);
    const local = await downloadBackup({ target, name: path.basename(backupPath), intoDir: into });
    expect(folderDigest(local)).toEqual(folderDigest(backupPath));
  });

  it('applies the target\'s retention after a copy: keep-last, never its newest complete copy, local backups untouched', async () => {
    const policy = { retainDays: 1, keepLast: 2 };
    const inThreeDays = new Date(Date.now() + 3 * 24 * 3600_000);
    await copyBackup({ backupPath: later[0]!, target, retention: policy, now: inThreeDays });
    const last = await copyBackup({ backupPath: later[1]!, target, retention: policy, now: inThreeDays });
    expect(last.pruned).toEqual([path.basename(backupPath)]);
    const names = (await listTargetBackups(target)).map((b) => b.name);
    expect(names).toEqual([path.basename(later[1]!), path.basename(later[0]!)]);
    for (const local of [backupPath, ...later]) expect(statSync(path.join(local, 'manifest.json')).isFile()).toBe(true);

    const keepOne = await copyBackup({ backupPath: later[1]!, target, retention: { retainDays: 1, keepLast: 1 }, now: inThreeDays });
    expect(keepOne).toMatchObject({ alreadyThere: true, pruned: [path.basename(later[0]!)] });
    expect((await listTargetBackups(target)).map((b) => b.name)).toEqual([path.basename(later[1]!)]);
  });
});
