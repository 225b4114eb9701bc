import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3TargetSpec, SftpTargetSpec, TargetSpec } from '../../shared/targets.js';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { listTargetBackups } from '../../electron/engine/targets/catalog.js';
import { copyBackup } from '../../electron/engine/targets/copy.js';
import { downloadBackup } from '../../electron/engine/targets/download.js';
import { fingerprint, KnownHosts } from '../../electron/engine/targets/known-hosts.js';
import { openTarget } from '../../electron/engine/targets/open.js';
import type { Target } from '../../electron/engine/targets/target.js';
import { exactFiles } from '../helpers/digest.js';
import { objectFile, S3_KEYS, startCorruptingProxy, startFaultProxy, startS3, startSshd, type RunningServer, type Sshd } from '../helpers/offsite-servers.js';
import { makeTempDir } from '../helpers/tmp.js';

const BUCKET = 'aurora-faults';
let root: string;
let backupPath: string;
let backupName: string;
let localBefore: Record<string, string>;
let blobBytes: number;
let s3: RunningServer;
let sshd: Sshd;
const opened: Target[] = [];

beforeAll(async () => {
  root = makeTempDir('offsite-faults');
  const dataDir = path.join(root, 'data');
  await createFixture(dataDir, { accounts: 2, posts: 5, blobMB: 30, seed: 'faults' });
  backupPath = (await runBackup({ dataDir, backupDir: path.join(root, 'backups'), env: {} })).path;
  backupName = path.basename(backupPath);
  localBefore = exactFiles(backupPath);
  blobBytes = statSync(path.join(backupPath, 'blobs.tar.gz')).size;
  [s3, sshd] = await Promise.all([startS3(path.join(root, 's3'), BUCKET), startSshd(path.join(root, 'sshd'))]);
});

afterAll(async () => {
  for (const target of opened) await target.close();
  await Promise.all([s3?.stop(), sshd?.stop()]);
});

function open(spec: TargetSpec, env: NodeJS.ProcessEnv = {}, knownHosts = path.join(root, 'known-hosts.json')): Target {
  const target = openTarget(spec, { knownHosts: new KnownHosts(knownHosts), env });
  opened.push(target);
  return target;
}

const s3Spec = (port: number, extra: Partial<S3TargetSpec> = {}): S3TargetSpec => ({
  name: 'bucket',
  type: 's3',
  bucket: BUCKET,
  prefix: `run-${opened.length}/`,
  endpoint: `http://127.0.0.1:${port}`,
  region: 'us-east-1',
  forcePathStyle: true,
  partSizeMiB: 5,
  enabled: true,
  ...extra,
});

const sftpSpec = (port: number, remote: string, extra: Partial<SftpTargetSpec> = {}): SftpTargetSpec => ({
  name: 'nas',
  type: 'sftp',
  host: '127.0.0.1',
  port,
  username: sshd.user,
  path: remote,
  privateKeyFile: sshd.userKey,
  enabled: true,
  ...extra,
});

/** What every fault must leave: the local backup as it was, and no copy on the target that looks complete. */
async function expectNothingComplete(target: Target) {
  expect(exactFiles(backupPath)).toEqual(localBefore);
  expect((await listTargetBackups(target)).filter((b) => b.status === 'complete')).toEqual([]);
}

const mounted: string[] = [];
afterAll(() => {
  for (const dir of mounted.splice(0)) execFileSync('umount', [dir]);
});

/** A mounted tmpfs of `size`, unmounted after the tests (the suite runs as root, as CI does). */
function smallDisk(label: string, size: string): string {
  const dir = path.join(root, label);
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounted.push(dir);
  return dir;
}

describe('a connection cut in the middle of a file', () => {
  it('S3: the copy fails with the reason, leaves nothing that looks complete, and the next one completes it', async () => {
    const proxy = await startFaultProxy(s3.port);
    const spec = s3Spec(proxy.port);
    const target = open(spec, S3_KEYS);
    const cut = proxy.cutAfter(27 * 1024 * 1024); // inside blobs.tar.gz (~31 MB, parts of 5 MiB, four at once): after its first four parts
    await expect(copyBackup({ backupPath, target })).rejects.toMatchObject({ code: 'TARGET_UNREACHABLE', message: expect.stringMatching(/dropped the connection|refused/) });
    await cut;
    await expectNothingComplete(open({ ...spec, endpoint: `http://127.0.0.1:${s3.port}` }, S3_KEYS));

    proxy.heal();
    const [sentBefore, receivedBefore] = [proxy.sentBytes, proxy.receivedBytes];
    const second = await copyBackup({ backupPath, target });
    expect(second.uploadedFiles).toBeGreaterThan(0);
    // The parts the server took before the cut are not sent again (at least one whole part), and nothing
    // is downloaded to check what was sent: the server's ETags are compared instead of a read-back.
    expect(second.uploadedBytes).toBeLessThan(blobBytes - 5 * 1024 * 1024);
    expect(proxy.sentBytes - sentBefore).toBeLessThan(blobBytes - 5 * 1024 * 1024);
    expect(proxy.receivedBytes - receivedBefore).toBeLessThan(256 * 1024);
    const into = makeTempDir('faults-download');
    expect(exactFiles(await downloadBackup({ target, name: backupName, intoDir: into }))).toEqual(localBefore);
    await proxy.stop();
  });

  it('SFTP: the copy fails with the reason, and the next one continues the file where it stopped', async () => {
    const proxy = await startFaultProxy(sshd.port);
    const remote = path.join(root, 'sftp-cut');
    const target = open(sftpSpec(proxy.port, remote));
    const cut = proxy.cutAfter(22 * 1024 * 1024);
    await expect(copyBackup({ backupPath, target })).rejects.toMatchObject({ code: 'TARGET_UNREACHABLE' });
    await cut;
    const partial = path.join(remote, `.incomplete-${backupName}`, 'blobs.tar.gz');
    expect(statSync(partial).size).toBeGreaterThan(0);
    expect(statSync(partial).size).toBeLessThan(blobBytes);
    expect(existsSync(path.join(remote, backupName))).toBe(false);
    expect(exactFiles(backupPath)).toEqual(localBefore);

    proxy.heal();
    const second = await copyBackup({ backupPath, target });
    expect(second.uploadedBytes).toBeLessThan(blobBytes - 8 * 1024 * 1024);
    expect(exactFiles(path.join(remote, backupName))).toEqual(localBefore);
    await proxy.stop();
  });

  it('folder: a file left half-written by an interrupted copy is continued, not sent again', async () => {
    const second = path.join(root, 'second-disk');
    const staging = path.join(second, `.incomplete-${backupName}`);
    mkdirSync(staging, { recursive: true });
    const half = readFileSync(path.join(backupPath, 'blobs.tar.gz')).subarray(0, Math.floor(blobBytes / 2));
    writeFileSync(path.join(staging, 'blobs.tar.gz'), half);
    const result = await copyBackup({ backupPath, target: open({ name: 'usb', type: 'folder', path: second, enabled: true }) });
    expect(result.uploadedBytes).toBeLessThan(blobBytes);
    expect(exactFiles(path.join(second, backupName))).toEqual(localBefore);
    expect(existsSync(staging)).toBe(false);
  });
});

describe('bad settings and a target that is down', () => {
  it('S3 with wrong keys: refused, and the secret appears in no message', async () => {
    const secret = 'wrong-secret-4f9a1c';
    const target = open(s3Spec(s3.port), { AWS_ACCESS_KEY_ID: 'NOT-A-KEY', AWS_SECRET_ACCESS_KEY: secret });
    const error = (await copyBackup({ backupPath, target }).catch((e: unknown) => e)) as Error & { code: string };
    expect(error.code).toBe('TARGET_AUTH');
    expect(error.message).toMatch(/refused the credentials/);
    expect(`${error.message}${error.stack}`).not.toContain(secret);
    expect(exactFiles(backupPath)).toEqual(localBefore);
  });

  it('S3 with a bucket that does not exist: says which', async () => {
    const target = open(s3Spec(s3.port, { bucket: 'no-such-bucket' }), S3_KEYS);
    await expect(copyBackup({ backupPath, target })).rejects.toMatchObject({ code: 'TARGET_NO_BUCKET', message: expect.stringContaining('"no-such-bucket" does not exist') });
  });

  it('S3 server down: the copy fails with the reason', async () => {
    const down = await startS3(path.join(root, 's3-down'), BUCKET);
    await down.stop();
    const target = open(s3Spec(down.port), S3_KEYS);
    await expect(copyBackup({ backupPath, target })).rejects.toMatchObject({ code: 'TARGET_UNREACHABLE', message: expect.stringContaining('refused') });
    expect(exactFiles(backupPath)).toEqual(localBefore);
  });

  it('SFTP with a key the server does not accept: refused', async () => {
    const otherKey = path.join(root, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const target = open(sftpSpec(sshd.port, path.join(root, 'sftp-badkey'), { privateKeyFile: otherKey }));
    await expect(copyBackup({ backupPath, target })).rejects.toMatchObject({ code: 'TARGET_AUTH', message: expect.stringContaining(`refused user "${sshd.user}"'s key`) });
    expect(existsSync(path.join(root, 'sftp-badkey'))).toBe(false);
  });
});

describe('a full disk on the target', () => {
  it('folder: fails naming the full disk, leaves no copy that looks complete', async () => {
    const disk = smallDisk('full-folder', '8m');
    const target = open({ name: 'usb', type: 'folder', path: disk, enabled: true });
    await expect(copyBackup({ backupPath, target })).rejects.toMatchObject({ code: 'TARGET_FULL', message: expect.stringContaining('disk is full') });
    await expectNothingComplete(target);
  });

  it('SFTP: fails naming the server\'s full disk, leaves no copy that looks complete', async () => {
    const disk = smallDisk('full-sftp', '8m');
    const target = open(sftpSpec(sshd.port, disk));
    const error = await copyBackup({ backupPath, target }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TARGET_FULL', message: expect.stringContaining("server's disk is full") });
    await expectNothingComplete(target);
  });
});

describe('a target that returns corrupted data', () => {
  it('S3: data altered on the way is caught (the server\'s checksum differs, and so does the read-back), the copy is not published', async () => {
    const proxy = await startCorruptingProxy(s3.port, 'blobs.tar.gz', 'upload');
    const target = open(s3Spec(proxy.port), S3_KEYS);
    await expect(copyBackup({ backupPath, target })).rejects.toMatchObject({ code: 'TARGET_CORRUPT', message: expect.stringContaining('returned different bytes for blobs.tar.gz') });
    await expectNothingComplete(target);
    await proxy.stop();
  });

  it('a damaged copy on the target is refused on download, nothing that looks complete is left', async () => {
    const target = open(s3Spec(s3.port), S3_KEYS);
    await copyBackup({ backupPath, target });
    const stored = objectFile(path.join(root, 's3'), BUCKET, `run-${opened.length - 1}/${backupName}/actors.tar.gz`);
    const bytes = readFileSync(stored);
    bytes[bytes.length >> 1]! ^= 0x01;
    writeFileSync(stored, bytes);
    const into = makeTempDir('faults-corrupt-download');
    await expect(downloadBackup({ target, name: backupName, intoDir: into })).rejects.toMatchObject({ code: 'TARGET_CORRUPT', message: expect.stringContaining('actors.tar.gz') });
    expect(existsSync(path.join(into, backupName))).toBe(false);
  });
});

describe('SFTP host keys', () => {
  it('pins the key on first use, then refuses a server that shows another one', async () => {
    const knownHosts = path.join(root, 'pins.json');
    const remote = path.join(root, 'sftp-pinned');
    const told: string[] = [];
    const first = openTarget(sftpSpec(sshd.port, remote), { knownHosts: new KnownHosts(knownHosts), onHostKeyPinned: (m) => told.push(m) });
    await first.test();
    await first.close();
    expect(told).toHaveLength(1);
    expect(told[0]).toContain(sshd.hostFingerprint);
    expect(JSON.parse(readFileSync(knownHosts, 'utf8'))).toEqual({ [`127.0.0.1:${sshd.port}`]: sshd.hostFingerprint });

    const pinned = sshd.hostFingerprint;
    await sshd.restart({ newHostKey: true });
    const second = open(sftpSpec(sshd.port, remote), {}, knownHosts);
    const error = (await copyBackup({ backupPath, target: second }).catch((e: unknown) => e)) as Error & { code: string };
    expect(error.code).toBe('TARGET_HOST_KEY_CHANGED');
    expect(error.message).toContain(pinned);
    expect(error.message).toContain(sshd.hostFingerprint);
    expect(existsSync(path.join(remote, `.incomplete-${backupName}`))).toBe(false);
    expect(told).toHaveLength(1);
  });

  it('computes fingerprints as ssh-keygen -lf does', () => {
    const pub = readFileSync(path.join(root, 'sshd', 'host_key.pub'), 'utf8').split(' ')[1]!;
    expect(fingerprint(Buffer.from(pub, 'base64'))).toBe(sshd.hostFingerprint);
  });
});

afterAll(() => {
  rmSync(path.join(root, 'second-disk'), { recursive: true, force: true });
});
