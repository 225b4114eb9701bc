import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPONENTS, type Component } from '../../shared/components.js';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { recoverRestore, restoreBackup } from '../../electron/engine/restore.js';
import { journalPath, STAGING_DIR_NAME } from '../../electron/engine/staging.js';
import Database from 'better-sqlite3';
import { EngineError } from '../../electron/engine/errors.js';
import { copyDir, digests, startWriter } from '../helpers/restore-setup.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * Crash safety of the restore: the real CLI runs in a child process and kills itself (SIGKILL) at one
 * point of the restore, for every point a real run passes (see electron/engine/fault-injection.ts).
 * Then recovery runs, and every component must be exactly the old or exactly the new data — in fact,
 * because recovery rolls a started swap forward, all old before the journal exists and all new after.
 */

const REPO = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(REPO, 'electron/cli/main.ts');
const TSX = path.join(REPO, 'node_modules/tsx/dist/esm/index.mjs');

let root: string;
let oldData: string;
let backupPath: string;
let oldDigests: Record<Component, string>;
let newDigests: Record<Component, string>;
let n = 0;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'aurora-faults-'));
  oldData = path.join(root, 'old');
  await createFixture(oldData, { accounts: 2, posts: 3, blobMB: 0.2, seed: 'fault-old' });
  const newData = path.join(root, 'new');
  await createFixture(newData, { accounts: 3, posts: 4, blobMB: 0.2, seed: 'fault-new' });
  backupPath = (await runBackup({ dataDir: newData, backupDir: path.join(root, 'backups') })).path;
  oldDigests = digests(oldData);
  newDigests = digests(newData);
  expect(oldDigests).not.toEqual(newDigests);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  target: string;
  exit: { code: number | null; signal: NodeJS.Signals | null };
  stderr: string;
  trace: string[];
}

/** One CLI restore of the backup over a fresh copy of the old data, with fault variables set. */
async function runRestore(env: Record<string, string>): Promise<Run> {
  const id = n++;
  const target = copyDir(oldData, path.join(root, `target-${id}`));
  const traceFile = path.join(root, `trace-${id}.txt`);
  const child = spawn(
    process.execPath,
    ['--import', TSX, CLI, 'restore', backupPath, '--data', target, '--out', path.join(root, `pre-${id}`), '--force', '--json'],
    { cwd: REPO, env: { ...process.env, ...env, AURORA_FAULT_TRACE: traceFile }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  const trace = existsSync(traceFile) ? readFileSync(traceFile, 'utf8').trim().split('\n') : [];
  return { target, exit: { code, signal }, stderr, trace };
}

/** Runs `fn` over `items`, two at a time (the machine has two cores). */
async function twoAtATime<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

function countRows(file: string, table: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function expectSettled(target: string, expected: 'old' | 'new') {
  const now = digests(target);
  for (const c of COMPONENTS) expect([oldDigests[c], newDigests[c]], `${c} is neither old nor new`).toContain(now[c]);
  expect(now).toEqual(expected === 'old' ? oldDigests : newDigests);
  const names = readdirSync(target);
  expect(names).not.toContain(STAGING_DIR_NAME);
  expect(names.filter((f) => f.includes('lock'))).toEqual([]);
}

describe('restore killed at any point', () => {
  it('leaves every component entirely old or entirely new, at each of the 20+ points a restore passes', async () => {
    const clean = await runRestore({});
    expect(clean.exit).toEqual({ code: 0, signal: null });
    expectSettled(clean.target, 'new');
    const journalAt = clean.trace.indexOf('journal:written');
    expect(journalAt).toBeGreaterThan(0);
    // Every point: the swap's, where the data directory changes, and those before it, except that
    // account stands for the other two databases while unpacking (the same code).
    const before = clean.trace.slice(0, journalAt).filter((p) => !/^(unpacking|staged):(sequencer|did_cache)$/.test(p));
    const points = [...before, ...clean.trace.slice(journalAt)];
    expect(points.length).toBeGreaterThanOrEqual(20);

    const runs = await twoAtATime(points, (point) => runRestore({ AURORA_FAULT_AT: point }));
    for (const [i, point] of points.entries()) {
      const run = runs[i]!;
      expect(run.exit.signal, `killed at ${point}: ${run.stderr}`).toBe('SIGKILL');
      expect(run.trace.at(-1)).toBe(point);
      await recoverRestore({ dataDir: run.target, env: {} });
      expectSettled(run.target, i < before.length ? 'old' : 'new');
    }
  }, 900_000);

  it('is finished by the next backup before it copies anything', async () => {
    const killed = await runRestore({ AURORA_FAULT_AT: 'journal:written' });
    expect(killed.exit.signal).toBe('SIGKILL');
    expect(readdirSync(killed.target)).toContain(STAGING_DIR_NAME);
    const backup = await runBackup({ dataDir: killed.target, backupDir: path.join(root, 'after-kill') });
    expectSettled(killed.target, 'new');
    expect(backup.manifest.aurora_backup.counts.accounts).toBe(3);
  });

  it('is never finished under a running PDS, by --recover or by the next backup; --recover with a stop command finishes it', async () => {
    const killed = await runRestore({ AURORA_FAULT_AT: 'swap:account:in' }); // account is new, the rest still old
    expect(killed.exit.signal).toBe('SIGKILL');
    const writer = await startWriter(killed.target, 100); // the operator started the PDS again
    let stopped = false;
    try {
      const sequencer = path.join(killed.target, 'sequencer.sqlite');
      const eventsBefore = countRows(sequencer, 'repo_seq');

      const recover = await runCli(['restore', '--recover', '--data', killed.target]);
      expect(recover.code, recover.stdout).toBe(1);
      expect(recover.stderr).toContain('The PDS seems to be running, so the interrupted restore was left as it is');
      const backupError = await runBackup({ dataDir: killed.target, backupDir: path.join(root, 'under-pds'), env: {} }).catch((e: unknown) => e);
      expect((backupError as EngineError).code).toBe('INTERRUPTED_RESTORE');
      expect((backupError as Error).message).toContain(`A restore into ${killed.target} was interrupted half-way, and the PDS is running on it`);

      // Nothing was moved: the journal waits, and what the PDS writes stays in place.
      expect(existsSync(journalPath(killed.target))).toBe(true);
      expect(countRows(sequencer, 'repo_seq')).toBeGreaterThan(eventsBefore);

      const finished = await runCli(['restore', '--recover', '--data', killed.target, '--stop-command', `kill ${writer.pid}`, '--json']);
      stopped = true;
      expect(finished.code, finished.stderr).toBe(0);
      expect(JSON.parse(finished.stdout)).toMatchObject({ ok: true, outcome: 'completed' });
      const now = digests(killed.target);
      for (const c of ['sequencer', 'did_cache', 'actors', 'blobs'] as const) expect(now[c], c).toBe(newDigests[c]);
      expect(readdirSync(killed.target)).not.toContain(STAGING_DIR_NAME);
    } finally {
      if (!stopped) await writer.stop();
    }
  }, 120_000);

  it('stops the PDS before it finishes a swap that was cut off, then restores as usual', async () => {
    const killed = await runRestore({ AURORA_FAULT_AT: 'journal:written' });
    expect(killed.exit.signal).toBe('SIGKILL');
    const log = path.join(root, `stop-${n}.log`);
    const result = await restoreBackup({
      backupPath,
      dataDir: killed.target,
      backupDir: path.join(root, `pre-again-${n}`),
      stopCommand: `if [ -e "${journalPath(killed.target)}" ]; then echo journal >> "${log}"; else echo no-journal >> "${log}"; fi`,
    });
    expect(readFileSync(log, 'utf8')).toBe('journal\n'); // stopped once, before the interrupted swap was touched
    expect(result.warnings.join(' ')).toMatch(/An earlier restore \(from .*\) had been interrupted; it was finished first\./);
    expectSettled(killed.target, 'new');
  });

  it('puts the old data back when the swap fails, and when it is killed while doing so', async () => {
    const failing = await runRestore({ AURORA_FAULT_ERROR: 'swap:actors:in' });
    expect(failing.exit.code).toBe(1);
    expect(failing.stderr).toMatch(/injected failure at swap:actors:in/);
    expectSettled(failing.target, 'old');
    // The rollback of a folder and of a database with its -wal/-shm, and the ends of the journal.
    const rollbackPoints = failing.trace
      .slice(failing.trace.indexOf('journal:reversed'))
      .filter((p) => /^journal:|^rollback:actors:|^rollback:account:(out|back:account\.sqlite(-wal)?)$/.test(p));
    expect(rollbackPoints).toEqual(expect.arrayContaining(['journal:reversed', 'rollback:actors:out', 'rollback:account:back:account.sqlite', 'journal:removed']));

    const runs = await twoAtATime(rollbackPoints, (point) => runRestore({ AURORA_FAULT_ERROR: 'swap:actors:in', AURORA_FAULT_AT: point }));
    for (const [i, point] of rollbackPoints.entries()) {
      expect(runs[i]!.exit.signal, `killed at ${point}`).toBe('SIGKILL');
      await recoverRestore({ dataDir: runs[i]!.target, env: {} });
      expectSettled(runs[i]!.target, 'old');
    }
  }, 600_000);
});
