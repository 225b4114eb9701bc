import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture } from '../../electron/engine/fixture.js';
import { digests } from '../helpers/restore-setup.js';
import { S3_KEYS, startS3, startSshd, type RunningServer, type Sshd } from '../helpers/offsite-servers.js';
import { runCli, type CliRun } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';

const BUCKET = 'aurora-cli';
/** Known only to the targets file: must never be printed. */
const FILE_SECRET = 'file-secret-7d3e9b21';
let root: string;
let dataDir: string;
let backupDir: string;
let env: NodeJS.ProcessEnv;
let s3: RunningServer;
let sshd: Sshd;
let urls: Record<'folder' | 's3' | 'sftp', string>;
let backupName: string;
const outputs: string[] = [];

async function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const run = await runCli(args, { cwd: root, env: { ...env, ...extraEnv } });
  outputs.push(run.stdout, run.stderr);
  return run;
}

beforeAll(async () => {
  root = makeTempDir('cli-offsite');
  dataDir = path.join(root, 'data');
  backupDir = path.join(root, 'backups');
  await createFixture(dataDir, { accounts: 3, posts: 10, blobMB: 2, seed: 'cli-offsite' });
  [s3, sshd] = await Promise.all([startS3(path.join(root, 's3'), BUCKET), startSshd(path.join(root, 'sshd'))]);
  // The CLI's own files (pinned host keys, the default targets file) live under XDG_CONFIG_HOME.
  env = { HOME: root, XDG_CONFIG_HOME: path.join(root, 'config'), ...S3_KEYS };
  urls = {
    folder: path.join(root, 'usb'),
    s3: `s3://${BUCKET}/cli/pds?endpoint=http://127.0.0.1:${s3.port}&region=us-east-1`,
    sftp: `sftp://${sshd.user}@127.0.0.1:${sshd.port}${path.join(root, 'nas')}`,
  };
});

afterAll(async () => {
  await Promise.all([s3?.stop(), sshd?.stop()]);
});

describe('aurora-backup with off-site targets', () => {
  it('backup --to copies the new backup to a folder, S3 and SFTP, and pins the SFTP host key', async () => {
    const run = await cli(['backup', '--data', dataDir, '--out', backupDir, '--to', urls.folder, '--to', urls.s3, '--to', urls.sftp, '--ssh-key', sshd.userKey]);
    expect(run.stderr).not.toMatch(/failed/);
    expect(run.code).toBe(0);
    backupName = readdirSync(backupDir).find((n) => n.startsWith('backup_'))!;
    expect(run.stdout.match(/Copied backup_\d{8}_\d{6} to/g)).toHaveLength(3);
    expect(run.stderr).toContain(`has host key ${sshd.hostFingerprint}; it is now pinned`);
    expect(readFileSync(path.join(root, 'config', 'Aurora Locus Backup', 'sftp-known-hosts.json'), 'utf8')).toContain(sshd.hostFingerprint);
  });

  it('list --target shows the copy on each target, complete', async () => {
    for (const url of Object.values(urls)) {
      const run = await cli(['list', '--target', url, '--ssh-key', sshd.userKey, '--json']);
      expect(run.code).toBe(0);
      const listed = JSON.parse(run.stdout) as { backups: { name: string; status: string }[] };
      expect(listed.backups.map((b) => [b.name, b.status])).toEqual([[backupName, 'complete']]);
    }
  });

  it('copy sends nothing to a target that has the backup, and a backup that failed to copy exits 3 with the reason', async () => {
    const again = await cli(['copy', backupName, '--out', backupDir, '--to', urls.s3]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('is already on');

    const down = await cli(['backup', '--data', dataDir, '--out', backupDir, '--to', 's3://aurora-cli/x?endpoint=http://127.0.0.1:9&region=us-east-1']);
    expect(down.code).toBe(3);
    expect(down.stdout).toContain('Backup complete');
    expect(down.stderr).toMatch(/the copy to ".*" failed: .*connection was refused/);
  });

  it('targets --test reads a targets file and reports each target; the file\'s secret is never shown', async () => {
    const file = path.join(root, 'targets.json');
    writeFileSync(
      file,
      JSON.stringify({
        targets: [
          { name: 'usb', type: 'folder', path: urls.folder, retention: { retainDays: 30, keepLast: 2 } },
          { name: 'bucket', type: 's3', bucket: BUCKET, prefix: 'cli/pds', endpoint: `http://127.0.0.1:${s3.port}`, forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: FILE_SECRET },
          { name: 'nas', type: 'sftp', host: '127.0.0.1', port: sshd.port, username: sshd.user, path: path.join(root, 'nas'), privateKeyFile: sshd.userKey },
        ],
      }),
    );
    const run = await cli(['targets', '--targets', file, '--test'], { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });
    expect(run.code).toBe(0);
    expect(run.stdout.match(/ {2}ok: /g)).toHaveLength(3);
    expect(run.stdout).toContain('retention: 30 days, keep 2');

    const wrong = await cli(['list', '--targets', file, '--target', 'bucket'], { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });
    expect(wrong.code).toBe(0); // s3rver checks the key id only; the secret is the file's
    const refused = await cli(['copy', backupName, '--out', backupDir, '--to', urls.s3], { AWS_ACCESS_KEY_ID: 'NOT-A-KEY', AWS_SECRET_ACCESS_KEY: FILE_SECRET });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refused the credentials');
  });

  it.each(['folder', 's3', 'sftp'] as const)('restore --from %s downloads, verifies and restores data identical to the source', async (kind) => {
    const into = path.join(root, `restored-${kind}`);
    mkdirSync(into);
    const run = await cli(['restore', backupName, '--from', urls[kind], '--ssh-key', sshd.userKey, '--data', into, '--out', backupDir, '--force']);
    expect(run.stderr).not.toMatch(/aurora-backup:/);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`Downloading ${backupName}`);
    expect(digests(into)).toEqual(digests(dataDir));
    expect(readdirSync(path.join(backupDir, '.offsite-download'))).toEqual([]);
  });

  it('no credential appears in anything the CLI printed', () => {
    const printed = outputs.join('\n');
    expect(printed).not.toContain(FILE_SECRET);
    expect(printed).not.toContain(S3_KEYS.AWS_SECRET_ACCESS_KEY);
    expect(printed).not.toContain(readFileSync(sshd.userKey, 'utf8').split('\n')[1]);
  });
});
