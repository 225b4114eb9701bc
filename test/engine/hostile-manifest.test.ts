import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { listBackups } from '../../electron/engine/list.js';
import { planRestore } from '../../electron/engine/restore.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';

let root: string;
let good: string;
beforeAll(async () => {
  root = makeTempDir('aurora-hostile-manifest');
  await createFixture(path.join(root, 'data'), { accounts: 2, posts: 3, blobMB: 0.1, seed: 'hostile-manifest' });
  good = (await runBackup({ dataDir: path.join(root, 'data'), backupDir: path.join(root, 'backups'), env: {} })).path;
});

function copyOf(name: string): string {
  const copy = path.join(root, 'copies', name);
  cpSync(good, copy, { recursive: true });
  return copy;
}

describe('a hostile manifest.json', () => {
  it('that is a named pipe is refused at once by verify, restore and list, instead of hanging', async () => {
    const backup = copyOf('backup_20250101_000000');
    rmSync(path.join(backup, 'manifest.json'));
    execFileSync('mkfifo', [path.join(backup, 'manifest.json')]);
    const refusal = `${path.join(backup, 'manifest.json')} is not a regular file (a named pipe, a device or a folder)`;
    await expect(verifyBackup(backup, { deep: true })).rejects.toThrow(refusal);
    await expect(planRestore({ backupPath: backup, dataDir: path.join(root, 'target'), env: {} })).rejects.toThrow(refusal);
    const cli = await runCli(['verify', backup]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain(refusal);
    const listed = (await listBackups(path.dirname(backup))).find((b) => b.name === path.basename(backup));
    expect(listed?.status).not.toBe('complete');
    rmSync(backup, { recursive: true });
  });

  it('cannot redraw the terminal: control characters in pds_version are printed escaped', async () => {
    const backup = copyOf('backup_20250102_000000');
    const manifestPath = path.join(backup, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    manifest.pds_version = '0.4.0\u001b[2J\u001b[1;1HRestore finished\r';
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const plan = await planRestore({ backupPath: backup, dataDir: path.join(root, 'target'), env: {}, expectedPdsVersion: '0.5.0' });
    expect(plan.pdsVersion).toBe('0.4.0\\u001b[2J\\u001b[1;1HRestore finished\\u000d');
    expect(plan.warnings.join(' ')).toContain('PDS 0.4.0\\u001b[2J');
    const cli = await runCli(['restore', backup, '--data', path.join(root, 'target'), '--pds-version', '0.5.0']);
    expect(cli.stdout + cli.stderr).toContain('0.4.0\\u001b[2J\\u001b[1;1HRestore finished');
    expect(cli.stdout + cli.stderr).not.toMatch(/[\u001b\r]/); // eslint-disable-line no-control-regex -- the escape character is what is looked for
    const listed = (await listBackups(path.dirname(backup))).find((b) => b.name === path.basename(backup));
    expect(listed?.pdsVersion).toBe('0.4.0\\u001b[2J\\u001b[1;1HRestore finished\\u000d');
  });
});
