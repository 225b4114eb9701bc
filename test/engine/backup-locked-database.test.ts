import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { expect, it } from 'vitest';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { ROOT } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';

it('says a database held exclusively by another process is locked by it, not that it may be unreadable', async () => {
  const root = makeTempDir('aurora-locked-db');
  const data = path.join(root, 'data');
  await createFixture(data, { accounts: 2, posts: 3, blobMB: 0.1, seed: 'locked-db' });
  const sequencer = path.join(data, 'sequencer.sqlite');
  const script =
    `const Database = require(${JSON.stringify(path.join(ROOT, 'node_modules/better-sqlite3'))});` +
    `const db = new Database(${JSON.stringify(sequencer)}); db.pragma('locking_mode = EXCLUSIVE'); db.exec('BEGIN EXCLUSIVE');` +
    `console.log('held'); setInterval(() => {}, 1000);`;
  const holder = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let output = '';
    while (!output.includes('held')) output += String((await once(holder.stdout!, 'data'))[0]);
    const error = await runBackup({ dataDir: data, backupDir: path.join(root, 'backups'), env: {} }).catch((e: Error) => e);
    expect((error as Error).message).toContain(`Could not snapshot the database ${sequencer}`);
    expect((error as Error).message).toContain('It is locked by another process, which holds it exclusively');
    expect((error as Error).message).not.toContain('readable');
  } finally {
    holder.kill('SIGKILL');
  }
}, 120_000);
