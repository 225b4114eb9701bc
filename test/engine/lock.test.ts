import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../electron/engine/errors.js';
import { acquireBackupLock, LOCK_FILE_NAME, readBackupLock, STALE_AFTER_MS } from '../../electron/engine/lock.js';
import { ROOT, TSX_LOADER } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';

/** Another process that takes the lock and keeps it until killed. */
async function holdLockInChild(backupDir: string) {
  const script = path.join(makeTempDir(), 'hold.mts');
  writeFileSync(
    script,
    `import { acquireBackupLock } from ${JSON.stringify(path.join(ROOT, 'electron/engine/lock.ts'))};\n` +
      `await acquireBackupLock(${JSON.stringify(backupDir)}, 'restore');\nconsole.log('held');\nsetInterval(() => {}, 1000);\n`,
  );
  const child = spawn(process.execPath, ['--import', TSX_LOADER, script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    child.on('exit', (code) => reject(new Error(`lock holder exited (${code})`)));
  });
  return child;
}

describe('acquireBackupLock', () => {
  it('refuses a second holder, naming the first, until it is released', async () => {
    const dir = makeTempDir();
    const lock = await acquireBackupLock(dir, 'backup');
    const error = await acquireBackupLock(dir, 'prune').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as Error).message).toContain(`Another backup is running on ${dir} (process ${process.pid} on ${os.hostname()}`);
    expect((error as EngineError).code).toBe('LOCKED');
    await lock.release();
    expect(existsSync(path.join(dir, LOCK_FILE_NAME))).toBe(false);
    const again = await acquireBackupLock(dir, 'prune');
    expect((await readBackupLock(dir))?.purpose).toBe('prune');
    await again.release();
  });

  it('refuses while another live process holds it', async () => {
    const dir = makeTempDir();
    const child = await holdLockInChild(dir);
    try {
      await expect(acquireBackupLock(dir, 'backup')).rejects.toThrow(`Another restore is running on ${dir} (process ${child.pid} on ${os.hostname()}`);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a lock whose holder died', async () => {
    const dir = makeTempDir();
    const child = await holdLockInChild(dir);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('exit', resolve));
    expect((await readBackupLock(dir))?.pid).toBe(child.pid); // left behind by the killed process
    const lock = await acquireBackupLock(dir, 'backup');
    expect((await readBackupLock(dir))?.pid).toBe(process.pid);
    await lock.release();
  });

  it('takes over a lock whose heartbeat is too old, even from a process that seems alive', async () => {
    const dir = makeTempDir();
    const old = new Date(Date.now() - STALE_AFTER_MS - 5000).toISOString();
    // pid 1 is always alive; a heartbeat this old means the holder is hung or on another machine and gone.
    writeFileSync(path.join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: 1, host: 'other-host', purpose: 'backup', since: old, heartbeat: old, token: 't' }));
    const lock = await acquireBackupLock(dir, 'backup');
    expect(JSON.parse(readFileSync(path.join(dir, LOCK_FILE_NAME), 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('says what to do when the lock cannot be created', async () => {
    const missing = path.join(makeTempDir(), 'not-there');
    await expect(acquireBackupLock(missing, 'backup')).rejects.toThrow(`Cannot create the lock file ${path.join(missing, LOCK_FILE_NAME)} (the folder does not exist)`);
  });
});
