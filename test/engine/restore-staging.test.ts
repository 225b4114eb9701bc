import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commitSwap, journalPath, recoverInterruptedRestore, STAGING_DIR_NAME, swapItemFor } from '../../electron/engine/staging.js';
import { crashAfterWriting } from '../helpers/db-holder.js';

let data: string;
beforeEach(() => {
  data = mkdtempSync(path.join(os.tmpdir(), 'aurora-staging-'));
});
afterEach(() => {
  delete process.env.AURORA_FAULT_ERROR;
  rmSync(data, { recursive: true, force: true });
});

/** No PDS runs in these tests: recovery is told so (restore.ts and backup.ts check it for real). */
const pdsStopped = async () => undefined;

function rows(file: string): string[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT value FROM events ORDER BY value').all() as Array<{ value: string }>).map((r) => r.value);
  } finally {
    db.close();
  }
}

/** Old data: a database whose newest rows live only in its -wal, and a blobs folder. New data: staged. */
async function prepare() {
  const dbItem = swapItemFor('sequencer', 'database', path.join(data, 'sequencer.sqlite'));
  const dirItem = swapItemFor('blobs', 'directory', path.join(data, 'blobs'));
  await crashAfterWriting(dbItem.target, 'events', ['old-1', 'old-2']);
  expect(existsSync(`${dbItem.target}-wal`)).toBe(true);
  mkdirSync(path.join(dirItem.target, 'did:plc:a'), { recursive: true });
  writeFileSync(path.join(dirItem.target, 'did:plc:a', 'old-blob'), 'old');
  writeFileSync(path.join(dirItem.target, 'did:plc:a', 'uploaded-after-backup'), 'late');

  mkdirSync(path.dirname(dbItem.staged), { recursive: true });
  const fresh = new Database(dbItem.staged);
  fresh.exec("CREATE TABLE events (value TEXT); INSERT INTO events VALUES ('new-1')");
  fresh.close();
  mkdirSync(path.join(dirItem.staged, 'did:plc:a'), { recursive: true });
  writeFileSync(path.join(dirItem.staged, 'did:plc:a', 'new-blob'), 'new');
  const journal = { startedAt: new Date().toISOString(), pid: process.pid, backupPath: '/backups/backup_x', items: [dbItem, dirItem], stagingRoots: [path.join(data, STAGING_DIR_NAME)] };
  return { dbItem, dirItem, journal };
}

describe('journalled swap', () => {
  it('swaps a database and a folder in whole, leaving no old -wal and no file the backup lacks', async () => {
    const { dbItem, dirItem, journal } = await prepare();
    expect(rows(dbItem.target)).toEqual(['old-1', 'old-2']);
    await commitSwap(data, journal);

    expect(rows(dbItem.target)).toEqual(['new-1']);
    expect(readdirSync(data).sort()).toEqual(['blobs', 'sequencer.sqlite']);
    expect(readdirSync(path.join(dirItem.target, 'did:plc:a'))).toEqual(['new-blob']);
  });

  it('puts everything back, -wal included, when the swap fails half-way', async () => {
    const { dbItem, dirItem, journal } = await prepare();
    const walBefore = readFileSync(`${dbItem.target}-wal`);
    process.env.AURORA_FAULT_ERROR = 'swap:blobs:in';
    await expect(commitSwap(data, journal)).rejects.toThrow(/Replacing .*blobs failed \(injected failure at swap:blobs:in\); every component was put back as it was\./);

    expect(readFileSync(`${dbItem.target}-wal`)).toEqual(walBefore);
    expect(rows(dbItem.target)).toEqual(['old-1', 'old-2']);
    expect(readdirSync(path.join(dirItem.target, 'did:plc:a')).sort()).toEqual(['old-blob', 'uploaded-after-backup']);
    expect(existsSync(path.join(data, STAGING_DIR_NAME))).toBe(false);
  });

  it('recovery finishes a swap whose journal is still there and cleans leftovers without one', async () => {
    const { dbItem, journal } = await prepare();
    // As a kill right after writing the journal leaves it: nothing swapped yet.
    mkdirSync(path.dirname(journalPath(data)), { recursive: true });
    writeFileSync(journalPath(data), JSON.stringify({ version: 1, direction: 'forward', ...journal }));
    expect(await recoverInterruptedRestore(data, pdsStopped)).toEqual({ outcome: 'completed', components: ['sequencer', 'blobs'], backupPath: '/backups/backup_x' });
    expect(rows(dbItem.target)).toEqual(['new-1']);
    expect(existsSync(`${dbItem.target}-wal`)).toBe(false);
    expect(await recoverInterruptedRestore(data, pdsStopped)).toEqual({ outcome: 'nothing', components: [], backupPath: null });

    mkdirSync(path.join(data, STAGING_DIR_NAME, 'new', 'blobs'), { recursive: true });
    expect((await recoverInterruptedRestore(data, pdsStopped)).outcome).toBe('cleaned');
    expect(readdirSync(data).sort()).toEqual(['blobs', 'sequencer.sqlite']);
  });

  it('never deletes a staging folder holding put-aside data that no journal accounts for', async () => {
    const putAside = path.join(data, STAGING_DIR_NAME, 'old', 'blobs', 'blobs', 'did:plc:a');
    mkdirSync(putAside, { recursive: true });
    writeFileSync(path.join(putAside, 'only-copy'), 'live data');
    await expect(recoverInterruptedRestore(data, pdsStopped)).rejects.toThrow(
      `${path.join(data, STAGING_DIR_NAME, 'old', 'blobs')} holds data that an interrupted restore put aside, and no restore journal says where it belongs, so nothing was deleted.`,
    );
    expect(readFileSync(path.join(putAside, 'only-copy'), 'utf8')).toBe('live data');
  });

  it.each([
    ['not JSON', () => '{"version": 2, "direction": "forw', /it is not JSON/],
    ['an unknown direction', (j: object) => JSON.stringify({ version: 2, direction: 'sideways', ...j }), /direction: /],
    ['an item without its staged path', (j: { items: object[] }) => JSON.stringify({ version: 2, direction: 'forward', ...j, items: j.items.map((item) => ({ ...item, staged: undefined })) }), /items\.0\.staged: /],
    ['no items', (j: object) => JSON.stringify({ version: 2, direction: 'forward', ...j, items: [] }), /items: /],
  ])('refuses a damaged journal (%s), naming it and what to do, and changes nothing', async (_what, garble, why) => {
    const { dbItem, journal } = await prepare();
    mkdirSync(path.dirname(journalPath(data)), { recursive: true });
    const text = garble(journal as never);
    writeFileSync(journalPath(data), text);
    const before = readFileSync(dbItem.target);
    const error = await recoverInterruptedRestore(data, pdsStopped).catch((e: Error) => e);
    expect((error as Error).message).toMatch(why);
    expect((error as Error).message).toContain(`The restore journal ${journalPath(data)} is damaged (`);
    expect((error as Error).message).toContain('so nothing was changed');
    expect((error as Error).message).toContain('then remove the journal');
    expect(readFileSync(journalPath(data), 'utf8')).toBe(text);
    expect(readFileSync(dbItem.target)).toEqual(before);
    expect(existsSync(dbItem.staged)).toBe(true);
  });

  it('refuses a journal that was written for another directory (a copy of the data directory), changing nothing', async () => {
    const { journal } = await prepare();
    process.env.AURORA_FAULT_ERROR = 'journal:written'; // as if killed right after the journal was written
    await expect(commitSwap(data, journal)).rejects.toThrow('injected failure at journal:written');
    delete process.env.AURORA_FAULT_ERROR;
    const copy = mkdtempSync(path.join(os.tmpdir(), 'aurora-staging-copy-'));
    try {
      cpSync(data, copy, { recursive: true });
      await expect(recoverInterruptedRestore(copy, pdsStopped)).rejects.toThrow(/The restore journal .* was written for another folder than .*, so nothing was changed/);
      expect(rows(path.join(copy, 'sequencer.sqlite'))).toEqual(['old-1', 'old-2']);
      expect(existsSync(journalPath(copy))).toBe(true);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

const isRoot = process.getuid?.() === 0;

describe.runIf(isRoot)('a restore journal recovered through another path (root: bind mounts)', () => {
  it('finishes the swap through a bind mount of the data directory after the original path is gone, losing nothing', async () => {
    // The data directory as a container sees it: the restore ran through one mount, recovery runs through another.
    const parent = mkdtempSync(path.join(os.tmpdir(), 'aurora-bind-'));
    const first = path.join(parent, 'host-view');
    const second = path.join(parent, 'container-view');
    mkdirSync(first);
    mkdirSync(second);
    execFileSync('mount', ['--bind', data, first]);
    execFileSync('mount', ['--bind', data, second]);
    try {
      const dbItem = swapItemFor('sequencer', 'database', path.join(first, 'sequencer.sqlite'));
      const dirItem = swapItemFor('blobs', 'directory', path.join(first, 'blobs'));
      const { journal } = await prepare(); // the same files, seen through `data`
      const through = { ...journal, items: [dbItem, dirItem], stagingRoots: [path.join(first, STAGING_DIR_NAME)] };
      process.env.AURORA_FAULT_ERROR = 'journal:written'; // as if killed right after the journal was written
      await expect(commitSwap(first, through)).rejects.toThrow('injected failure at journal:written');
      delete process.env.AURORA_FAULT_ERROR;
    } finally {
      execFileSync('umount', [first]);
    }
    try {
      expect(existsSync(path.join(first, 'sequencer.sqlite'))).toBe(false); // the path the journal was written through is gone
      expect(await recoverInterruptedRestore(second, pdsStopped)).toMatchObject({ outcome: 'completed', components: ['sequencer', 'blobs'] });
      expect(rows(path.join(data, 'sequencer.sqlite'))).toEqual(['new-1']);
      expect(readdirSync(path.join(data, 'blobs', 'did:plc:a'))).toEqual(['new-blob']);
      expect(readdirSync(data).sort()).toEqual(['blobs', 'sequencer.sqlite']);
    } finally {
      execFileSync('umount', [second]);
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
