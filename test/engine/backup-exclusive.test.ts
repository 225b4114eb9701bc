import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../electron/engine/backup.js';
import { EngineError } from '../../electron/engine/errors.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { lockDataDir } from '../../electron/engine/staging.js';
import { restoreBackup } from '../../electron/engine/restore.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { copyDir } from '../helpers/restore-setup.js';
import { ROOT, TSX_LOADER } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';

type Outcome = { ok: true; path: string } | { ok: false; code: string; message: string };

/**
 * A process that runs one backup per request ({"dataDir","backupDir"} on a line of stdin) and answers
 * with its outcome: two of them started on the same line race as two scheduled backups would.
 */
function startBackupProcess(): { child: ChildProcess; run(dataDir: string, backupDir: string): Promise<Outcome> } {
  const script = path.join(makeTempDir(), 'backup-process.mts');
  writeFileSync(
    script,
    `import { createInterface } from 'node:readline';\n` +
      `import { runBackup } from ${JSON.stringify(path.join(ROOT, 'electron/engine/backup.ts'))};\n` +
      `for await (const line of createInterface({ input: process.stdin })) {\n` +
      `  const { dataDir, backupDir } = JSON.parse(line);\n` +
      `  const outcome = await runBackup({ dataDir, backupDir, env: {} }).then((r) => ({ ok: true, path: r.path }), (e) => ({ ok: false, code: e.code, message: e.message }));\n` +
      `  console.log(JSON.stringify(outcome));\n` +
      `}\n`,
  );
  const child = spawn(process.execPath, ['--import', TSX_LOADER, script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting: Array<(o: Outcome) => void> = [];
  let buffer = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      waiting.shift()?.(JSON.parse(buffer.slice(0, i)) as Outcome);
      buffer = buffer.slice(i + 1);
    }
  });
  child.on('exit', () => waiting.splice(0).forEach((w) => w({ ok: false, code: 'EXITED', message: 'the backup process exited' })));
  return {
    child,
    run(dataDir, backupDir) {
      child.stdin!.write(`${JSON.stringify({ dataDir, backupDir })}\n`);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}

let root: string;
let data: string;
let otherData: string;
beforeAll(async () => {
  root = makeTempDir('aurora-exclusive');
  data = path.join(root, 'data');
  await createFixture(data, { accounts: 2, posts: 3, blobMB: 0.2, seed: 'exclusive' });
  otherData = copyDir(data, path.join(root, 'other-data'));
});

describe('backups never share a folder', () => {
  let processes: ReturnType<typeof startBackupProcess>[];
  beforeAll(() => {
    processes = [startBackupProcess(), startBackupProcess()];
  });
  afterAll(() => processes.forEach((p) => p.child.kill('SIGKILL')));

  it('of 100 pairs started at the same moment into one backup folder, every backup that reports success verifies', async () => {
    const tally = { succeeded: 0, locked: 0, verified: 0 };
    for (let pair = 0; pair < 100; pair++) {
      // Half the pairs back up one data directory, half two (so only the backup folder's lock is shared).
      const sources = pair % 2 === 0 ? [data, data] : [data, otherData];
      const backupDir = path.join(root, `pair-${pair}`); // each pair its own: backups into one folder within a second wait for the next

      const outcomes = await Promise.all(processes.map((p, i) => p.run(sources[i]!, backupDir)));
      for (const outcome of outcomes) {
        if (!outcome.ok) {
          expect(outcome.code, outcome.message).toBe('LOCKED');
          tally.locked++;
          continue;
        }
        tally.succeeded++;
        const report = await verifyBackup(outcome.path, { deep: true });
        expect(report.problems, outcome.path).toEqual([]);
        tally.verified++;
      }
      expect(readdirSync(backupDir).filter((name) => name.startsWith('.incomplete-'))).toEqual([]);
    }
    console.log(`100 pairs of concurrent backups: ${tally.succeeded} succeeded (${tally.verified} verified deep), ${tally.locked} refused as locked`);
    expect(tally.succeeded).toBeGreaterThanOrEqual(100);
    expect(tally.verified).toBe(tally.succeeded);
    // A guard, not a measure: 200 backups and their deep verifies took over 10 minutes on 2 cores beside
    // another test run on a busy machine.
  }, 1_800_000);
});

describe('a backup and a restore of one data directory exclude each other', () => {
  it('a backup is refused while a restore holds the data directory, whatever its backup folder', async () => {
    const lock = await lockDataDir(data, 'restore');
    try {
      const error = await runBackup({ dataDir: data, backupDir: path.join(root, 'elsewhere'), env: {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).code).toBe('LOCKED');
      expect((error as Error).message).toContain(`Another restore is running on ${data}`);
    } finally {
      await lock.release();
    }
    expect(readdirSync(path.join(root, 'elsewhere'))).toEqual([]);
  });

  it('a restore is refused while a backup of the data directory runs', async () => {
    const backup = (await runBackup({ dataDir: data, backupDir: path.join(root, 'for-restore'), env: {} })).path;
    const lock = await lockDataDir(data, 'backup');
    try {
      await expect(restoreBackup({ backupPath: backup, dataDir: data, backupDir: path.join(root, 'pre'), env: {} })).rejects.toThrow(`Another backup is running on ${data}`);
    } finally {
      await lock.release();
    }
  });

  it('a backup whose components are swapped while it runs (by a restore it could not see) fails instead of mixing old and new', async () => {
    const target = copyDir(data, path.join(root, 'swapped'));
    let swapped = false;
    const error = await runBackup({
      dataDir: target,
      backupDir: path.join(root, 'swapped-backups'),
      env: {},
      onProgress: (p) => {
        if (swapped || p.phase !== 'snapshotting') return;
        swapped = true; // as a restore's swap does: the live folder aside, another in its place
        renameSync(path.join(target, 'blobs'), path.join(target, 'blobs-old'));
        copyDir(path.join(target, 'blobs-old'), path.join(target, 'blobs'));
      },
    }).catch((e: unknown) => e);
    expect(swapped).toBe(true);
    expect((error as EngineError).code).toBe('DATA_DIR_CHANGED');
    expect((error as Error).message).toContain(`${path.join(target, 'blobs')} was replaced while this backup ran`);
    expect(readdirSync(path.join(root, 'swapped-backups')).filter((n) => !n.startsWith('.aurora'))).toEqual([]);
  });
});
