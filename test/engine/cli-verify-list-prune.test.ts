import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupSummary, VerifyReport } from '../../shared/api.js';
import { command as listCommand } from '../../electron/cli/commands/list.js';
import { command as verifyCommand } from '../../electron/cli/commands/verify.js';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { acquireBackupLock } from '../../electron/engine/lock.js';
import { makeLegacyBackup } from '../helpers/legacy-backup.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const tsx = path.join(repo, 'node_modules/.bin/tsx');
const main = path.join(repo, 'electron/cli/main.ts');

let root: string;
let backupDir: string;
let ours: string;
let legacy: string;

/** Runs the CLI as a user would, from an empty working directory (no .env), with only the given variables. */
function cli(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(tsx, [main, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: `${path.join(repo, 'node_modules/.bin')}:${process.env.PATH}`, HOME: root, ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'cli-vlp-test-'));
  const dataDir = path.join(root, 'data');
  backupDir = path.join(root, 'backups');
  await createFixture(dataDir, { accounts: 2, posts: 5, blobMB: 0.5, seed: 'cli' });
  ours = (await runBackup({ dataDir, backupDir, env: {} })).path;
  legacy = makeLegacyBackup(dataDir, backupDir, { at: new Date(2025, 0, 5, 3, 0, 0) });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('aurora-backup verify', () => {
  it('exits 0 for a good backup and 1 naming the damaged file', () => {
    const good = cli(['verify', ours, '--deep']);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('Backup is good.');
    expect(good.stdout).toMatch(/databases\/account\.sqlite\.gz\s+sha256 ok, decompresses, integrity_check ok/);

    const damaged = path.join(root, 'damaged', path.basename(ours));
    cpSync(ours, damaged, { recursive: true });
    const blobs = path.join(damaged, 'blobs.tar.gz');
    const bytes = readFileSync(blobs);
    bytes[1000] = bytes[1000]! ^ 1;
    writeFileSync(blobs, bytes);
    const bad = cli(['verify', damaged, '--json']);
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout) as VerifyReport;
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(['blobs.tar.gz: SHA-256 does not match manifest.json (the file is damaged or was changed after the backup).']);
  });

  it('says plainly that an original backup.sh backup has no checksums', () => {
    const result = cli(['verify', legacy]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('checksums not available (backup made by the original backup.sh)');
  });

  it('refuses a folder that is not a backup with one clear message', () => {
    const result = cli(['verify', root]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`aurora-backup: ${root} has no manifest.json, so it is not an Aurora Locus backup (or it was never finished).`);
  });
});

describe('aurora-backup list and prune', () => {
  it('lists the backup directory from BACKUP_DIR, newest first, as a table and as JSON', () => {
    const table = cli(['list'], { BACKUP_DIR: backupDir });
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines.findIndex((l) => l.startsWith(path.basename(ours)))).toBeLessThan(lines.findIndex((l) => l.startsWith('backup_20250105_030000')));
    expect(table.stdout).toMatch(/backup_20250105_030000\s+2025-01-05 03:00\s+\d+ d\s+full\s+[\d.]+ [KM]B\s+[\d.]+ [KM]B\s+-\s+complete \(original backup\.sh\)/);

    const json = cli(['list', '--out', backupDir, '--json'], { BACKUP_DIR: '/nonexistent' });
    const parsed = JSON.parse(json.stdout) as { backupDir: string; backups: BackupSummary[] };
    expect(parsed.backupDir).toBe(backupDir);
    expect(parsed.backups.map((b) => [b.name, b.status, b.legacy])).toEqual([
      [path.basename(ours), 'complete', false],
      ['backup_20250105_030000', 'complete', true],
    ]);
  });

  it('prune --dry-run shows what would go; prune removes it and keeps the newest', () => {
    const dir = path.join(root, 'prune-backups');
    cpSync(backupDir, dir, { recursive: true });
    const dry = cli(['prune', '--out', dir, '--retain-days', '30', '--keep-last', '1', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/Would remove backup_20250105_030000: \d+ days old, older than the 30-day retention/);
    expect(readdirSync(dir)).toContain('backup_20250105_030000');

    const real = cli(['prune', '--json', '--keep-last', '1'], { BACKUP_DIR: dir, BACKUP_RETAIN_DAYS: '30' });
    expect(real.code).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ backupDir: dir, dryRun: false, removed: ['backup_20250105_030000'], kept: [path.basename(ours)] });
    expect(readdirSync(dir).filter((n) => !n.endsWith('.log')).sort()).toEqual([path.basename(ours)]);
  });

  it('prune refuses while another process holds the backup lock, and rejects bad numbers', async () => {
    const lock = await acquireBackupLock(backupDir, 'backup');
    try {
      const result = cli(['prune', '--out', backupDir]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`Another backup is running on ${backupDir} (process ${process.pid}`);
    } finally {
      await lock.release();
    }
    const bad = cli(['prune', '--out', backupDir, '--keep-last', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--keep-last needs a whole number of at least 1, not "0".');
  });

  it('every command has --help', () => {
    const help = cli(['prune', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: aurora-backup prune /);
    // The other two go through the same path in main.ts; check their text without another process each.
    for (const [name, command] of [['verify', verifyCommand], ['list', listCommand]] as const) {
      expect(command.help).toMatch(new RegExp(`^Usage: aurora-backup ${name} `));
      expect(command.summary.length).toBeGreaterThan(10);
    }
  });
});
