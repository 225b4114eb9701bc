import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createFixture } from '../../electron/engine/fixture.js';
import { listBackups } from '../../electron/engine/list.js';
import { LOCK_FILE_NAME } from '../../electron/engine/lock.js';
import { CLI_COMMAND, collect, ROOT, runCli, startCli } from '../helpers/run-cli.js';
import { FaultPause } from '../helpers/fault-pause.js';
import { makeTempDir } from '../helpers/tmp.js';
import { createProgressBar, formatDuration } from '../../electron/cli/progress-bar.js';
import { threadsOf } from '../helpers/threads.js';

async function fixture(blobMB = 2) {
  const root = makeTempDir();
  const dataDir = path.join(root, 'data');
  await createFixture(dataDir, { accounts: 3, posts: 10, blobMB });
  return { root, dataDir, backupDir: path.join(root, 'backups') };
}

/**
 * A backup started and held mid-run, once its databases are archived (the fault point
 * `backup:archiving`), until `release()`: what the test does meanwhile happens while it runs.
 */
async function heldBackup(dataDir: string, backupDir: string, extra: string[] = []) {
  const pause = new FaultPause('backup:archiving', path.dirname(backupDir));
  pause.hold();
  const child = startCli(['backup', '--data', dataDir, '--out', backupDir, ...extra], { env: { ...process.env, ...pause.env } });
  const ended = collect(child);
  const { release } = await pause.reached(child);
  return { child, ended, release };
}

const MID_RUN_BLOB_MB = 2;

const backupsIn = (dir: string) => readdirSync(dir).filter((name) => name.startsWith('backup_'));

describe('aurora-backup fixture and backup', () => {
  it('explains every option in --help, including the retention floor', async () => {
    const backup = await runCli(['backup', '--help']);
    expect(backup.code).toBe(0);
    for (const text of ['--data DIR', '--out DIR', '--env-file FILE', '--compression', '--json', 'BACKUP_RETAIN_DAYS', 'never the newest 3 (--keep-last)', 'PDS_BLOBSTORE_DISK_LOCATION']) {
      expect(backup.stdout).toContain(text);
    }
    const fixtureHelp = await runCli(['fixture', '--help']);
    expect(fixtureHelp.stdout).toContain('--blob-mb N');
  });

  it('makes a sample PDS and backs it up, with a summary or JSON on stdout', async () => {
    const root = makeTempDir();
    const made = await runCli(['fixture', 'data', '--accounts', '3', '--posts', '5', '--blob-mb', '1', '--seed', 'cli', '--json'], { cwd: root });
    expect(made.code).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ dataDir: path.join(root, 'data'), accounts: 3 });

    const plain = await runCli(['backup'], { cwd: root }); // defaults: ./data → ./backups
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^Backup complete: .*\/backups\/backup_\d{8}_\d{6}\n {2}Full: 5 files, .*\n {2}Held: account\.sqlite 3 accounts; sequencer\.sqlite events up to 21; did_cache\.sqlite \d+ KB; blobs\/ \d+ blobs; actors\/ 3 actor stores\n {2}Warning: Secrets not backed up: turn on encryption .* The actors' signing keys ARE in this backup, unencrypted .*\n$/);
    expect(plain.stderr).toContain('Backup: copying databases safely');

    const json = await runCli(['backup', '--full', '--json', '--compression', 'zstd'], { cwd: root }); // the second would be incremental, storing no unchanged archive
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result).toMatchObject({ ok: true, manifest: { compression: 'zstd', aurora_backup: { counts: { accounts: 3, actors: 3 } } } });
    expect(existsSync(path.join(result.path, 'blobs.tar.zst'))).toBe(true);
    expect(json.stderr).toBe('');
  });

  it('reads settings from the .env file, with the environment and flags winning over it', async () => {
    const { root } = await fixture(0);
    writeFileSync(path.join(root, '.env'), 'PDS_DATA_DIRECTORY=./data\nBACKUP_DIR=./from-env-file\nPDS_VERSION=0.3.1\nBACKUP_COMPRESSION=none\n');
    const fromFile = JSON.parse((await runCli(['backup', '--json'], { cwd: root })).stdout);
    expect(path.dirname(fromFile.path)).toBe(path.join(root, 'from-env-file'));
    expect(fromFile.manifest).toMatchObject({ pds_version: '0.3.1', compression: 'none' });

    // The flag beats BACKUP_DIR in the environment; BACKUP_COMPRESSION in the environment beats the file's.
    const env = { BACKUP_DIR: path.join(root, 'from-env'), BACKUP_COMPRESSION: 'gzip' };
    const fromFlag = JSON.parse((await runCli(['backup', '--json', '--out', 'from-flag'], { cwd: root, env })).stdout);
    expect(path.dirname(fromFlag.path)).toBe(path.join(root, 'from-flag'));
    expect(fromFlag.manifest.compression).toBe('gzip');

    const elsewhere = makeTempDir();
    const explicit = JSON.parse((await runCli(['backup', '--json', '--env-file', path.join(root, '.env')], { cwd: elsewhere })).stdout);
    expect(path.dirname(explicit.path)).toBe(path.join(root, 'from-env-file'));
  });

  it('refuses a second backup while one runs, naming the running one', async () => {
    const { dataDir, backupDir } = await fixture(MID_RUN_BLOB_MB);
    const first = await heldBackup(dataDir, backupDir);
    try {
      const second = await runCli(['backup', '--data', dataDir, '--out', backupDir]);
      expect(second.code).toBe(1);
      // The data directory is locked first: a backup of it into any folder waits for this one.
      expect(second.stderr).toContain(`aurora-backup: Another backup is running on ${dataDir} (process ${first.child.pid} on `);
    } finally {
      await first.release();
    }
    expect((await first.ended).code).toBe(0);
    expect(backupsIn(backupDir)).toHaveLength(1);
  });

  it('yields the CPU to the PDS: every thread runs at a lower priority unless --full-priority', async () => {
    const { dataDir, backupDir } = await fixture(MID_RUN_BLOB_MB);
    /** The nice value of each thread of a running backup, read while it archives. */
    const threadNiceness = async (extra: string[]) => {
      const { child, ended, release } = await heldBackup(dataDir, backupDir, ['--no-prune', ...extra]);
      const threads = threadsOf(child.pid!);
      await release();
      expect((await ended).code).toBe(0);
      return { threads: threads.length, nice: [...new Set(threads.map((t) => t.nice))] };
    };
    // Relative to the priority the tests run at (a CI may run them under `nice`); never raised.
    const startNice = os.getPriority();
    const yielding = await threadNiceness([]);
    expect(yielding.threads).toBeGreaterThan(4); // main, thread pool, snapshot worker…
    expect(yielding.nice).toEqual([Math.max(startNice, 10)]);
    expect((await threadNiceness(['--full-priority'])).nice).toEqual([startNice]);
  });

  it('after kill -9 mid-run leaves nothing that looks complete, and the next run cleans up', async () => {
    const { dataDir, backupDir } = await fixture(MID_RUN_BLOB_MB);
    // Killed by the fault hook once the databases are archived: kill -9 with no chance to clean up.
    const victim = startCli(['backup', '--data', dataDir, '--out', backupDir], { env: { ...process.env, AURORA_FAULT_AT: 'backup:archiving' } });
    const ended = await collect(victim);
    expect(ended.signal, ended.stderr).toBe('SIGKILL');
    expect(ended.stderr).toContain('Backup: packing media and repositories');
    expect(backupsIn(backupDir)).toEqual([]);
    expect(readdirSync(backupDir).some((name) => name.startsWith('.incomplete-backup_'))).toBe(true);
    expect((await listBackups(backupDir)).filter((b) => b.status === 'complete')).toEqual([]);

    const next = await runCli(['backup', '--data', dataDir, '--out', backupDir]);
    expect(next.code).toBe(0);
    expect(readdirSync(backupDir)).toEqual(backupsIn(backupDir));
    expect(backupsIn(backupDir)).toHaveLength(1);
  });

  it('cancels on Ctrl+C with exit code 130 and removes the unfinished backup', async () => {
    const { dataDir, backupDir } = await fixture(MID_RUN_BLOB_MB);
    const { child, ended, release } = await heldBackup(dataDir, backupDir);
    child.kill('SIGINT'); // handled once it goes on, mid-run
    await release();
    const run = await ended;
    expect(run.code).toBe(130);
    expect(run.stderr).toContain('Backup cancelled');
    expect(readdirSync(backupDir)).toEqual([]);
  });

  it('fails with one clear message and a non-zero exit on bad input', async () => {
    const { root, dataDir } = await fixture(0);
    const missing = await runCli(['backup', '--json', '--data', path.join(root, 'nope'), '--out', path.join(root, 'b')]);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, code: 'NO_DATA_DIR' });
    expect(missing.stderr.trim()).toBe(
      `aurora-backup: The data directory ${path.join(root, 'nope')} does not exist. Pass --data with the PDS data directory (the folder holding account.sqlite, actors/ and blobs/), or set PDS_DATA_DIRECTORY.`,
    );
    const bzip2 = await runCli(['backup', '--data', dataDir, '--out', path.join(root, 'b'), '--compression', 'bzip2']);
    expect(bzip2.code).toBe(1);
    expect(bzip2.stderr).toContain('Compression "bzip2" is not supported: use gzip (the default) or zstd');
    const unknown = await runCli(['backup', '--compression', 'rar']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--compression must be one of gzip, zstd, bzip2, xz, none');
    expect(existsSync(path.join(root, 'b'))).toBe(false);
  });

  it('reports permission problems on the data and backup directories', async () => {
    const { root, dataDir } = await fixture(0);
    chmodSync(root, 0o755);
    const lockedOut = path.join(root, 'root-only');
    mkdirSync(lockedOut, { mode: 0o755 });
    const asOtherUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const env = { PATH: process.env.PATH, HOME: '/tmp' };

    chmodSync(dataDir, 0o000);
    const unreadable = await collect(startCli(['backup', '--data', dataDir, '--out', path.join(root, 'b')], { cwd: ROOT, env, ...asOtherUser }));
    chmodSync(dataDir, 0o755);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toContain(`The data directory ${dataDir} cannot be read (permission denied)`);

    chmodSync(lockedOut, 0o555);
    const unwritable = await collect(startCli(['backup', '--data', dataDir, '--out', path.join(lockedOut, 'backups')], { cwd: ROOT, env, ...asOtherUser }));
    chmodSync(lockedOut, 0o755);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toContain(`Cannot create the backup directory ${path.join(lockedOut, 'backups')} (permission denied)`);
  });

  it('stops with a clear message and removes the unfinished backup when the disk is full', async () => {
    const { root, dataDir } = await fixture(6);
    const mountPoint = path.join(root, 'small-disk');
    mkdirSync(mountPoint);
    // A 3 MB disk in a private mount namespace (unshare), so nothing outside this process tree sees it.
    const script = `mount -t tmpfs -o size=3m tmpfs "$1" && shift && "$@"; code=$?; echo "left:$(ls -A "$MNT/backups")"; exit $code`;
    const child = spawn('unshare', ['-rm', 'sh', '-c', script, 'sh', mountPoint, ...CLI_COMMAND, 'backup', '--data', dataDir, '--out', path.join(mountPoint, 'backups')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, MNT: mountPoint },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run = await collect(child);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`aurora-backup: No space left on the disk holding ${path.join(mountPoint, 'backups')}`);
    expect(run.stdout.trim()).toBe('left:');
  });
});

it('keeps the lock file out of the way once done', async () => {
  const { dataDir, backupDir } = await fixture(0);
  expect((await runCli(['backup', '--data', dataDir, '--out', backupDir])).code).toBe(0);
  expect(existsSync(path.join(backupDir, LOCK_FILE_NAME))).toBe(false);
});

describe('the terminal progress bar', () => {
  it('draws percent, sizes, files and an ETA on one line, and clears it at the end', () => {
    let output = '';
    const terminal = Object.assign(new Writable({ write: (chunk, _enc, done) => ((output += chunk), done()) }), { isTTY: true, columns: 120 });
    const bar = createProgressBar(terminal as unknown as NodeJS.WriteStream);
    const startedAt = new Date(Date.now() - 10_000).toISOString();
    bar.update({ operation: 'backup', phase: 'archiving', bytesDone: 512 * 1024 * 1024, bytesTotal: 1024 * 1024 * 1024, filesDone: 1000, filesTotal: 2000, startedAt });
    expect(output).toMatch(/^\r\[#{12}-{12}\] +50% 512 MB\/1 GB 1000\/2000 files ETA 0:1\d {2}Packing media and repositories/);
    bar.finish();
    expect(output.endsWith(`\r${' '.repeat(119)}\r`)).toBe(true);
    expect(formatDuration(3_725_000)).toBe('1:02:05');
  });
});
