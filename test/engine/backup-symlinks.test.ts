import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { makeTempDir } from '../helpers/tmp.js';

it('fails, naming the link, when blobs/ or actors/ holds a symbolic link, instead of leaving out what it points to', async () => {
  const root = makeTempDir('aurora-symlinks');
  const data = path.join(root, 'data');
  await createFixture(data, { accounts: 2, posts: 3, blobMB: 0.1, seed: 'symlinks' });
  const elsewhere = path.join(root, 'elsewhere', 'did:plc:moved');
  mkdirSync(elsewhere, { recursive: true });
  writeFileSync(path.join(elsewhere, 'bafkreimoved'), 'an image');
  const link = path.join(data, 'blobs', 'did:plc:moved');
  symlinkSync(elsewhere, link);
  const error = await runBackup({ dataDir: data, backupDir: path.join(root, 'backups'), env: {} }).catch((e: Error) => e);
  expect((error as Error).message).toContain(`${link} is a symbolic link.`);
  expect(readdirSync(path.join(root, 'backups')).filter((n) => n.startsWith('backup_'))).toEqual([]);
});
