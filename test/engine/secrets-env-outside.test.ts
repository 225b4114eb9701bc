import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { runBackup } from '../../electron/engine/backup.js';
import { generateKeyPair } from '../../electron/engine/crypto/index.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { verifyBackup } from '../../electron/engine/verify.js';
import { makeTempDir } from '../helpers/tmp.js';

it('an encrypted backup of a PDS whose .env lives outside its data directory is a readable backup (the manifest names it as the secrets component stores it)', async () => {
  const dir = makeTempDir('secrets-env-outside');
  await createFixture(path.join(dir, 'data'), { accounts: 1, posts: 1, blobMB: 0.05, seed: 'env-outside' });
  writeFileSync(path.join(dir, 'pds.env'), 'PDS_HOSTNAME=pds.example.com\n', { mode: 0o600 });
  const { recipient } = await generateKeyPair();
  const made = await runBackup({ dataDir: path.join(dir, 'data'), backupDir: path.join(dir, 'backups'), envFile: path.join(dir, 'pds.env'), env: {}, encryption: { kind: 'recipients', recipients: [recipient] } });
  expect(made.manifest.aurora_backup.encryption?.secrets).toEqual(['pds.env', expect.stringMatching(/^actors\/.+\/key$/)]);
  const report = await verifyBackup(made.path);
  expect(report.problems).toEqual([]);
}, 120_000);
