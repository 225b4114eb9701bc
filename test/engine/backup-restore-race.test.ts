// A backup racing a real restore of the same data directory (both through the CLI, different backup
// folders): started while the restore is held mid-swap (the fault hook, at swap:blobs:in: the databases
// and blobs are in, the actor stores not yet), the backup must refuse, naming the restore; it must never
// capture the half-swapped directory. Once the restore is done, a backup captures the restored state whole.
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { FaultPause } from '../helpers/fault-pause.js';
import { digests, unpackWithSystemTools } from '../helpers/restore-setup.js';
import { collect, runCli, startCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';

describe('a backup racing a restore of the same data directory', () => {
  it('started while the restore is mid-swap, the backup refuses ("locked by" the restore) and keeps nothing; afterwards it captures the restored state whole', async () => {
    const root = makeTempDir('aurora-race');
    const data = path.join(root, 'data');
    await createFixture(data, { accounts: 3, posts: 8, blobMB: 1, seed: 'race-old' });
    const older = await runBackup({ dataDir: data, backupDir: path.join(root, 'restore-from'), env: {} });
    const restoredState = digests(unpackWithSystemTools(older.path, path.join(root, 'expected')));
    // The data moves on after that backup, so a half-swapped directory differs from both states.
    await createFixture(path.join(root, 'newer'), { accounts: 4, posts: 8, blobMB: 1, seed: 'race-new' });
    rmSync(data, { recursive: true });
    cpSync(path.join(root, 'newer'), data, { recursive: true });

    const pause = new FaultPause('swap:blobs:in', root);
    pause.hold();
    const restore = startCli(['restore', older.path, '--data', data, '--out', path.join(root, 'pre'), '--force', '--json'], { env: { ...process.env, ...pause.env } });
    const restoreEnded = collect(restore);
    const { release } = await pause.reached(restore);

    const racing = await runCli(['backup', '--data', data, '--out', path.join(root, 'racing'), '--json']);
    expect(racing.code).toBe(1);
    expect((JSON.parse(racing.stdout) as { error: string }).error).toMatch(new RegExp(`^Another restore is running on ${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(process ${restore.pid} on `));
    expect(existsSync(path.join(root, 'racing')) ? readdirSync(path.join(root, 'racing')).filter((n) => n.startsWith('backup_')) : []).toEqual([]);

    await release();
    const restored = await restoreEnded;
    expect(restored.code, restored.stderr).toBe(0);

    const after = await runCli(['backup', '--data', data, '--out', path.join(root, 'after'), '--json']);
    expect(after.code, after.stderr).toBe(0);
    const made = JSON.parse(after.stdout) as { path: string };
    expect((await verifyBackup(made.path, { deep: true })).problems).toEqual([]);
    expect(digests(unpackWithSystemTools(made.path, path.join(root, 'captured')))).toEqual(restoredState);
  });
});
