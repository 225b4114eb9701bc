import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { digests } from '../helpers/restore-setup.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const TSX = path.join(REPO, 'node_modules/tsx/dist/esm/index.mjs');

let root: string;
let source: string;
let backupPath: string;
beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'aurora-restore-cli-'));
  source = path.join(root, 'source');
  await createFixture(source, { accounts: 2, posts: 2, blobMB: 0.1, seed: 'cli' });
  backupPath = (await runBackup({ dataDir: source, backupDir: path.join(root, 'backups') })).path;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The CLI with stdin not a terminal, as in scripts and CI. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', TSX, path.join(REPO, 'electron/cli/main.ts'), ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.stdin!.end();
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number, string | null];
  return { code, signal, stdout, stderr };
}

describe('aurora-backup restore', () => {
  it('shows the plan and refuses without --force when it cannot ask', async () => {
    const target = path.join(root, 'asked');
    const run = await cli(['restore', backupPath, '--data', target]);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain(`Restore ${backupPath}`);
    expect(run.stdout).toMatch(/account .*→ .*account\.sqlite \(nothing there now\)/);
    expect(run.stdout).toContain('No pre-restore backup is needed');
    expect(run.stderr).toContain('Pass --force to restore without asking');
    expect(existsSync(target)).toBe(false);
  });

  it('restores with --force and prints the result as JSON', async () => {
    const target = path.join(root, 'forced');
    const run = await cli(['restore', backupPath, '--data', target, '--only', 'account,blobs', '--force', '--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { ok: boolean; restored: string[]; preRestoreBackup: string | null };
    expect(result).toMatchObject({ ok: true, restored: ['account', 'blobs'], preRestoreBackup: null });
    const [now, was] = [digests(target), digests(source)];
    expect([now.account, now.blobs]).toEqual([was.account, was.blobs]);
    expect(now.actors).toBe('absent');
  });

  it('--recover finishes a restore that was killed half-way through the swap', async () => {
    const target = path.join(root, 'killed');
    const killed = await cli(['restore', backupPath, '--data', target, '--force'], { AURORA_FAULT_AT: 'swap:blobs:in' });
    expect(killed.signal).toBe('SIGKILL');

    const recovered = await cli(['restore', '--recover', '--data', target]);
    expect(recovered.code).toBe(0);
    expect(recovered.stdout).toContain(`Finished the interrupted restore of account, sequencer, did_cache, blobs, actors (from ${backupPath}) in ${target}.`);
    expect(digests(target)).toEqual(digests(source));
    expect((await cli(['restore', '--recover', '--data', target])).stdout).toContain(`Nothing to recover in ${target}.`);
  });

  it('rejects an unknown component with usage help', async () => {
    const run = await cli(['restore', backupPath, '--only', 'account,photos']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--only takes a comma-separated list of account, sequencer, did_cache, blobs, actors; unknown: photos/);
  });
});
