import { spawn } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
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

  it('takes over a lock from another machine whose heartbeat is too old', async () => {
    const dir = makeTempDir();
    const old = new Date(Date.now() - STALE_AFTER_MS - 5000).toISOString();
    // pid 1 is always alive; a heartbeat this old means the holder is hung or on another machine and gone.
    writeFileSync(path.join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: 1, host: 'other-host', purpose: 'backup', since: old, heartbeat: old, token: 't' }));
    const lock = await acquireBackupLock(dir, 'backup');
    expect(JSON.parse(readFileSync(path.join(dir, LOCK_FILE_NAME), 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('never takes over a live holder on this machine, however long it has been silent (a laptop asleep mid-backup)', async () => {
    const dir = makeTempDir();
    const child = await holdLockInChild(dir);
    try {
      child.kill('SIGSTOP'); // paused: no heartbeat
      const lockPath = path.join(dir, LOCK_FILE_NAME);
      const held = JSON.parse(readFileSync(lockPath, 'utf8'));
      const old = new Date(Date.now() - 10 * STALE_AFTER_MS).toISOString();
      writeFileSync(lockPath, JSON.stringify({ ...held, heartbeat: old }));
      await expect(acquireBackupLock(dir, 'backup')).rejects.toThrow(`Another restore is running on ${dir} (process ${child.pid} on ${os.hostname()}`);
      expect(JSON.parse(readFileSync(lockPath, 'utf8')).token).toBe(held.token);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a lock whose pid now belongs to another process (reused after a reboot or a crash)', async () => {
    const dir = makeTempDir();
    const now = new Date().toISOString();
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    // Our own pid is alive, but it was not this process that wrote the lock: its start time differs.
    for (const identity of [{ bootId, processStart: '1' }, { bootId: 'another-boot', processStart: '1' }]) {
      writeFileSync(path.join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: process.pid, host: os.hostname(), purpose: 'backup', since: now, heartbeat: now, token: 't', ...identity }));
      const lock = await acquireBackupLock(dir, 'prune');
      expect((await readBackupLock(dir))?.purpose).toBe('prune');
      await lock.release();
    }
  });

  it('never takes a lock file that is still being written (empty), only one left empty for long', async () => {
    const dir = makeTempDir();
    const lockPath = path.join(dir, LOCK_FILE_NAME);
    writeFileSync(lockPath, '');
    await expect(acquireBackupLock(dir, 'backup')).rejects.toThrow(`Another process is taking the lock ${lockPath} right now`);
    const past = new Date(Date.now() - 2 * STALE_AFTER_MS);
    utimesSync(lockPath, past, past);
    const lock = await acquireBackupLock(dir, 'backup');
    expect((await readBackupLock(dir))?.pid).toBe(process.pid);
    await lock.release();
  });

  it.each([
    ['not JSON', '{"pid": 12', /it is not JSON/],
    ['a holder without its token', JSON.stringify({ pid: 12, host: 'h', purpose: 'backup', since: new Date().toISOString(), heartbeat: new Date().toISOString() }), /token: /],
    ['a pid that is not a number', JSON.stringify({ pid: 'x', host: 'h', purpose: 'backup', since: 'a', heartbeat: 'b', token: 't' }), /pid: /],
    ['a JSON array', '[1, 2, 3]', /its contents: /],
  ])('refuses a damaged lock file (%s) with a message naming it and what to do, and leaves it as it is', async (_what, contents, why) => {
    const dir = makeTempDir();
    const lockPath = path.join(dir, LOCK_FILE_NAME);
    writeFileSync(lockPath, contents);
    const past = new Date(Date.now() - 2 * STALE_AFTER_MS); // old: not one being written right now
    utimesSync(lockPath, past, past);
    const error = await acquireBackupLock(dir, 'backup').catch((e: EngineError) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe('LOCK_DAMAGED');
    expect((error as EngineError).message).toMatch(why);
    expect((error as EngineError).message).toContain(`The lock file ${lockPath} is damaged (`);
    expect((error as EngineError).message).toContain(`Make sure none is running, then delete ${lockPath} and try again.`);
    expect(readFileSync(lockPath, 'utf8')).toBe(contents);
    expect(await readBackupLock(dir)).toBeNull();
  });

  it('is whole from the moment it exists: of 100 pairs of processes taking it at once, exactly one of each pair holds it', async () => {
    const dir = makeTempDir();
    const script = path.join(makeTempDir(), 'racer.mts');
    // Each line on stdin is a folder: take its lock, say whether we got it, and keep it until told to let go.
    writeFileSync(
      script,
      `import { createInterface } from 'node:readline';\n` +
        `import { acquireBackupLock } from ${JSON.stringify(path.join(ROOT, 'electron/engine/lock.ts'))};\n` +
        `let held = null;\n` +
        `for await (const line of createInterface({ input: process.stdin })) {\n` +
        `  if (line === 'release') { await held?.release(); held = null; console.log('released'); continue; }\n` +
        `  held = await acquireBackupLock(line, 'backup').catch((e) => { if (e.code !== 'LOCKED') throw e; return null; });\n` +
        `  console.log(held ? 'got' : 'locked');\n` +
        `}\n`,
    );
    const racers = [0, 1].map(() => {
      const child = spawn(process.execPath, ['--import', TSX_LOADER, script], { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines: string[] = [];
      const waiting: Array<(line: string) => void> = [];
      let buffer = '';
      child.stdout!.on('data', (d: Buffer) => {
        buffer += d.toString();
        for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
          const line = buffer.slice(0, i);
          buffer = buffer.slice(i + 1);
          const waiter = waiting.shift();
          if (waiter) waiter(line);
          else lines.push(line);
        }
      });
      const ask = (line: string) => {
        child.stdin!.write(`${line}\n`);
        return new Promise<string>((resolve) => (lines.length ? resolve(lines.shift()!) : waiting.push(resolve)));
      };
      child.on('exit', () => waiting.splice(0).forEach((waiter) => waiter('exited')));
      return { child, ask };
    });
    try {
      const outcomes: string[] = [];
      for (let pair = 0; pair < 100; pair++) {
        const answers = await Promise.all(racers.map((r) => r.ask(dir)));
        outcomes.push(answers.sort().join('+'));
        await Promise.all(racers.map((r) => r.ask('release')));
        expect(existsSync(path.join(dir, LOCK_FILE_NAME))).toBe(false);
      }
      expect(outcomes).toEqual(Array(100).fill('got+locked'));
    } finally {
      for (const r of racers) r.child.kill('SIGKILL');
    }
  }, 120_000);

  it('tells a holder whose lock was taken, and leaves the new holder\'s lock alone', async () => {
    const dir = makeTempDir();
    const lock = await acquireBackupLock(dir, 'backup');
    await lock.assertHeld();
    const now = new Date().toISOString();
    const other = { pid: 4242, host: 'nas', purpose: 'backup', since: now, heartbeat: now, token: 'theirs' };
    writeFileSync(path.join(dir, LOCK_FILE_NAME), JSON.stringify(other));
    await expect(lock.assertHeld()).rejects.toThrow(`This backup lost its lock: ${path.join(dir, LOCK_FILE_NAME)} was taken by backup (process 4242 on nas) while it ran.`);
    expect(lock.signal.aborted).toBe(true);
    await lock.release();
    expect((await readBackupLock(dir))?.token).toBe('theirs');
  });

  it('says what to do when the lock cannot be created', async () => {
    const missing = path.join(makeTempDir(), 'not-there');
    await expect(acquireBackupLock(missing, 'backup')).rejects.toThrow(`Cannot create the lock file ${path.join(missing, LOCK_FILE_NAME)} (the folder does not exist)`);
  });
});
