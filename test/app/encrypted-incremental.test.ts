// The app's scheduled backups with encryption on: the first is full, the next ones incremental (encrypted
// like their chain), and the window restores the newest through its chain with the identity file.
import { mkdirSync, readFileSync, utimesSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../shared/manifest.js';
import { createHandlers, type Handlers } from '../../electron/app/handlers.js';
import { stopJobWorker } from '../../electron/app/job-runner.js';
import { MemorySecretStore } from '../../electron/app/secret-store.js';
import type { Controller } from '../../electron/app/controller.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { addBlob, writeToActors } from '../helpers/chain-changes.js';
import { digests } from '../helpers/restore-setup.js';
import { makeTempDir } from '../helpers/tmp.js';
import { type RecordingLog, startController, until } from './harness.js';
import { ManualClock } from './manual-clock.js';

const HOUR = 3_600_000;

let dir: string;
let dataDir: string;
let dids: string[];
let controller: Controller;
let handlers: Handlers;
let log: RecordingLog;
const clock = new ManualClock(new Date());

beforeAll(async () => {
  dir = makeTempDir('aurora-app-enc-incremental');
  dataDir = path.join(dir, 'data');
  dids = (await createFixture(dataDir, { accounts: 3, posts: 5, blobMB: 1, seed: 'app-enc-incremental' })).dids;
  // Settled files: a fingerprint taken within seconds of a write never counts as unchanged.
  const then = new Date(Date.now() - 60_000);
  for (const entry of readdirSync(dataDir, { recursive: true, withFileTypes: true })) utimesSync(path.join(entry.parentPath, entry.name), then, then);
  ({ controller, log } = await startController(path.join(dir, 'user-data'), { secrets: new MemorySecretStore(), clock }));
  await controller.updateSettings({ ...controller.getSettings(), dataDir, backupDir: path.join(dir, 'backups'), schedule: { enabled: true, mode: 'interval', intervalHours: 1, dailyAt: '02:00' } });
  handlers = createHandlers(controller);
});
afterAll(() => stopJobWorker());

/** The next hour's scheduled backup, run to its end; its manifest. */
async function scheduledBackup(): Promise<{ path: string; manifest: Manifest }> {
  const runs = controller.history.list().length;
  await clock.advance(HOUR);
  await until(() => controller.history.list().length > runs && controller.history.list()[0]!.result !== 'running', 'the scheduled backup');
  const [entry] = controller.history.list();
  expect(entry).toMatchObject({ kind: 'backup', trigger: 'schedule', result: 'success' });
  const backupPath = path.join(dir, 'backups', entry!.backupName!);
  return { path: backupPath, manifest: JSON.parse(readFileSync(path.join(backupPath, 'manifest.json'), 'utf8')) as Manifest };
}

describe('scheduled backups with encryption on', () => {
  it('are incremental after the first, encrypted like their chain, and the newest restores with the identity', { timeout: 300_000 }, async () => {
    const identityPath = path.join(dir, 'identity.txt');
    const made = await handlers.generateEncryptionKey({ identityPath, keepCopy: false });
    if (!made.ok) throw new Error(made.error);

    const first = await scheduledBackup();
    expect(first.manifest.aurora_backup).toMatchObject({ kind: 'full', encryption: { mode: 'recipients', recipients: [made.recipient] } });

    addBlob(dataDir);
    writeToActors(dataDir, [dids[0]!]);
    const expected = digests(dataDir);
    const second = await scheduledBackup();
    expect(second.manifest.aurora_backup).toMatchObject({ kind: 'incremental', base: path.basename(first.path), encryption: { mode: 'recipients', recipients: [made.recipient] } });
    // Only what changed: the new blob (not the whole blob store again), every file encrypted.
    expect(second.manifest.aurora_backup.contents!.blobs.filter((b) => b[1] === 0)).toHaveLength(1);
    expect(second.manifest.aurora_backup.total_size).toBeLessThan(first.manifest.aurora_backup.total_size * 0.5);
    expect(second.manifest.aurora_backup.files.every((f) => f.encrypted === true && f.path.endsWith('.age'))).toBe(true);

    const listed = (await controller.listBackups()).find((b) => b.path === second.path);
    expect(listed).toMatchObject({ backupKind: 'incremental', encrypted: true, status: 'complete' });

    // New keys start a new chain: the next scheduled backup is full, and the log says why.
    const rekeyed = await handlers.generateEncryptionKey({ identityPath: path.join(dir, 'new-identity.txt'), keepCopy: false });
    if (!rekeyed.ok) throw new Error(rekeyed.error);
    const third = await scheduledBackup();
    expect(third.manifest.aurora_backup).toMatchObject({ kind: 'full', encryption: { recipients: [rekeyed.recipient] } });
    expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.text)).toContain(
      `backup ${path.basename(third.path)}: This backup is full, not incremental: the newest backup, ${path.basename(second.path)}, is encrypted to other age public keys (${made.recipient}) than this backup (${rekeyed.recipient}).`,
    );

    const target = path.join(dir, 'new-machine');
    mkdirSync(target, { recursive: true });
    await controller.updateSettings({ ...controller.getSettings(), dataDir: target, schedule: { ...controller.getSettings().schedule, enabled: false } });
    const answer = await handlers.restore({ path: second.path, components: ['account', 'sequencer', 'did_cache', 'blobs', 'actors'], decryption: { identityPath }, secrets: true });
    if (!answer.ok) throw new Error(answer.error);
    expect(digests(target)).toEqual(expected);
  });
});
