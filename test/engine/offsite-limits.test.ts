import { chmodSync, chownSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SftpTargetSpec, TargetSpec } from '../../shared/targets.js';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { copyBackup } from '../../electron/engine/targets/copy.js';
import { KnownHosts } from '../../electron/engine/targets/known-hosts.js';
import { openTarget } from '../../electron/engine/targets/open.js';
import type { Target } from '../../electron/engine/targets/target.js';
import { exactFiles } from '../helpers/digest.js';
import { createThrowawayUser, S3_KEYS, startFaultProxy, startS3, startSshd, type RunningServer, type Sshd, type ThrowawayUser } from '../helpers/offsite-servers.js';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';

const BUCKET = 'aurora-limits';
let root: string;
let backupPath: string;
let backupBytes: number;
let s3: RunningServer;
let sshd: Sshd;
let user: ThrowawayUser;
const opened: Target[] = [];

beforeAll(async () => {
  root = makeTempDir('offsite-limits');
  chmodSync(root, 0o755); // the throwaway user's SFTP session must reach its folder below
  const dataDir = path.join(root, 'data');
  await createFixture(dataDir, { accounts: 2, posts: 5, blobMB: 4, seed: 'limits' });
  backupPath = (await runBackup({ dataDir, backupDir: path.join(root, 'backups'), env: {} })).path;
  backupBytes = Object.keys(exactFiles(backupPath)).reduce((sum, f) => sum + statSync(path.join(backupPath, f)).size, 0);
  user = createThrowawayUser();
  [s3, sshd] = await Promise.all([startS3(path.join(root, 's3'), BUCKET), startSshd(path.join(root, 'sshd'), { passwordAuth: true })]);
});

afterAll(async () => {
  for (const target of opened) await target.close();
  await Promise.all([s3?.stop(), sshd?.stop()]);
  user?.remove();
});

function open(spec: TargetSpec, env: NodeJS.ProcessEnv = {}): Target {
  const target = openTarget(spec, { knownHosts: new KnownHosts(path.join(root, 'known-hosts.json')), env });
  opened.push(target);
  return target;
}

/** A folder on the SFTP server that only the throwaway user owns. */
function userFolder(label: string): string {
  const dir = path.join(root, label);
  mkdirSync(dir);
  chownSync(dir, Number(execFileSync('id', ['-u', user.name], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', user.name], { encoding: 'utf8' })));
  return dir;
}

const passwordSpec = (remote: string, password: string): SftpTargetSpec => ({
  name: 'nas',
  type: 'sftp',
  host: '127.0.0.1',
  port: sshd.port,
  username: user.name,
  path: remote,
  password,
  enabled: true,
});

describe('the upload bandwidth limit', () => {
  const LIMIT_KIB = 1024;
  const limit = LIMIT_KIB * 1024;

  // At most one second's worth goes at once, then the average since the start stays at the limit: sending
  // the backup takes at least (size - 1 s worth) / limit. Loopback without a limit takes well under a second.
  const expectWithinLimit = (sentBytes: number, seconds: number) => {
    expect(sentBytes).toBeGreaterThanOrEqual(backupBytes);
    expect(seconds).toBeGreaterThanOrEqual((backupBytes - limit) / limit - 0.1);
    expect(sentBytes / seconds).toBeLessThan((limit * backupBytes) / (backupBytes - limit) + 256 * 1024); // headers and protocol on top
  };

  it(`S3: a copy of a ${'~4'} MiB backup at ${LIMIT_KIB} KiB/s goes out no faster`, async () => {
    expect(backupBytes).toBeGreaterThan(4 * limit);
    const proxy = await startFaultProxy(s3.port);
    const target = open({ name: 'bucket', type: 's3', bucket: BUCKET, prefix: 'limited/', endpoint: `http://127.0.0.1:${proxy.port}`, region: 'us-east-1', forcePathStyle: true, partSizeMiB: 5, enabled: true }, S3_KEYS);
    const started = performance.now();
    const result = await copyBackup({ backupPath, target, bandwidthLimitKiBps: LIMIT_KIB });
    const seconds = (performance.now() - started) / 1000;
    expect(result.uploadedBytes).toBe(backupBytes);
    expectWithinLimit(proxy.sentBytes, seconds);
    await proxy.stop();
  });

  it(`SFTP: a copy at ${LIMIT_KIB} KiB/s goes out no faster`, async () => {
    const proxy = await startFaultProxy(sshd.port);
    const target = open({ name: 'nas', type: 'sftp', host: '127.0.0.1', port: proxy.port, username: sshd.user, path: path.join(root, 'limited'), privateKeyFile: sshd.userKey, enabled: true });
    await target.test(); // the handshake, not limited, before the clock starts
    const [sentBefore, started] = [proxy.sentBytes, performance.now()];
    await copyBackup({ backupPath, target, bandwidthLimitKiBps: LIMIT_KIB });
    const seconds = (performance.now() - started) / 1000;
    expectWithinLimit(proxy.sentBytes - sentBefore, seconds);
    expect(exactFiles(path.join(root, 'limited', path.basename(backupPath)))).toEqual(exactFiles(backupPath));
    await proxy.stop();
  });
});

describe('SFTP with a password instead of a key', () => {
  it('copies with the password; a wrong one is refused without being shown', async () => {
    const remote = userFolder('pw-engine');
    await copyBackup({ backupPath, target: open(passwordSpec(remote, user.password)) });
    const copy = path.join(remote, path.basename(backupPath));
    expect(exactFiles(copy)).toEqual(exactFiles(backupPath));
    expect(statSync(path.join(copy, 'manifest.json')).uid).not.toBe(0); // written by the user who logged in

    const wrong = 'not-the-password-51c2';
    const error = (await copyBackup({ backupPath, target: open(passwordSpec(userFolder('pw-wrong'), wrong)) }).catch((e: unknown) => e)) as Error & { code: string };
    expect(error.code).toBe('TARGET_AUTH');
    expect(error.message).toContain(`refused user "${user.name}"'s password`);
    expect(`${error.message}${error.stack}`).not.toContain(wrong);
  });

  it('CLI: the password comes from AURORA_SFTP_PASSWORD or --ssh-password-file, never the command line, and is never printed', async () => {
    const env = { HOME: root, XDG_CONFIG_HOME: path.join(root, 'config') };
    const url = (remote: string) => `sftp://${user.name}@127.0.0.1:${sshd.port}${remote}`;

    const fromEnv = userFolder('pw-cli-env');
    const viaEnv = await runCli(['copy', backupPath, '--to', url(fromEnv)], { cwd: root, env: { ...env, AURORA_SFTP_PASSWORD: user.password } });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.stdout).toContain(`Copied ${path.basename(backupPath)}`);
    expect(exactFiles(path.join(fromEnv, path.basename(backupPath)))).toEqual(exactFiles(backupPath));

    const fromFile = userFolder('pw-cli-file');
    const passwordFile = path.join(root, 'sftp-password');
    writeFileSync(passwordFile, `${user.password}\n`, { mode: 0o600 });
    const viaFile = await runCli(['copy', backupPath, '--to', url(fromFile), '--ssh-password-file', passwordFile, '--json'], { cwd: root, env });
    expect(viaFile.code).toBe(0);
    expect(JSON.parse(viaFile.stdout)).toMatchObject({ ok: true, copies: [{ ok: true, uploadedFiles: 6 }] });

    const none = await runCli(['copy', backupPath, '--to', url(userFolder('pw-cli-none'))], { cwd: root, env });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('neither a key file nor a password');

    for (const run of [viaEnv, viaFile, none]) expect(`${run.stdout}${run.stderr}`).not.toContain(user.password);
  });
});
