// The app's off-site copies hash every byte they send (SHA-256 of a read-back, MD5 for S3's ETag): that
// work runs in the job worker, so that the tray and the window stay responsive during a large copy.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../../electron/engine/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { createHandlers } from '../../electron/app/handlers.js';
import { measureEventLoopDelay } from '../../electron/app/event-loop.js';
import { MemorySecretStore } from '../../electron/app/secret-store.js';
import { S3_KEYS, startS3, type RunningServer } from '../helpers/offsite-servers.js';
import { startController, statusWhere, tempDir } from './harness.js';

const BUCKET = 'aurora-main-loop';
const BLOB_MB = 48;
let root: { dir: string; cleanup(): Promise<void> };
let dataDir: string;
let s3: RunningServer;

beforeAll(async () => {
  root = await tempDir('offsite-main-loop');
  dataDir = path.join(root.dir, 'data');
  await createFixture(dataDir, { accounts: 2, posts: 5, blobMB: BLOB_MB, seed: 'offsite-main-loop' });
  s3 = await startS3(path.join(root.dir, 's3'), BUCKET);
});
afterAll(async () => {
  await s3?.stop();
  await root.cleanup();
});

/** CPU time of the calling thread (the app's main thread here), from /proc. */
function threadCpuMs(): number {
  const fields = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Runs `work`, measuring this thread's event loop delay and its share of the process's CPU time. */
async function onMainThread<T>(work: () => Promise<T>): Promise<{ result: T; share: number; summary: string }> {
  const before = { thread: threadCpuMs(), process: process.cpuUsage() };
  const { result, delay } = await measureEventLoopDelay(work);
  const processCpuMs = (({ user, system }) => (user + system) / 1000)(process.cpuUsage(before.process));
  const mainCpuMs = threadCpuMs() - before.thread;
  const summary = `p99 ${delay.p99Ms.toFixed(1)} ms, max ${delay.maxMs.toFixed(1)} ms; CPU: this thread ${mainCpuMs} ms of the process's ${processCpuMs.toFixed(0)} ms`;
  return { result, share: mainCpuMs / processCpuMs, summary };
}

const targets = {
  folder: () => ({ target: { type: 'folder', name: 'usb', path: path.join(root.dir, 'second-disk') } }),
  s3: () => ({
    target: { type: 's3', name: 'b2', bucket: BUCKET, prefix: 'pds/', endpoint: `http://127.0.0.1:${s3.port}`, forcePathStyle: true, accessKeyId: S3_KEYS.AWS_ACCESS_KEY_ID },
    secret: S3_KEYS.AWS_SECRET_ACCESS_KEY,
  }),
};

describe.runIf(process.platform === 'linux')('an off-site copy of a large backup in the app', () => {
  it.each(Object.keys(targets) as (keyof typeof targets)[])('to and from a %s target leaves the main thread free: it only relays progress', async (kind) => {
    const userData = path.join(root.dir, kind, 'user-data');
    const backupDir = path.join(root.dir, kind, 'backups');
    const app = await startController(userData, { secrets: new MemorySecretStore() });
    try {
      await app.controller.updateSettings({ ...app.controller.getSettings(), dataDir, backupDir });
      const handlers = createHandlers(app.controller);
      const backup = await runBackup({ dataDir, backupDir, compression: 'none' });
      const added = await handlers.addTarget(targets[kind]());
      expect(added).toMatchObject({ ok: true, test: { ok: true } });
      const name = added.ok ? added.target.spec.name : '';
      let progressEvents = 0;
      app.controller.on('offsiteProgress', () => progressEvents++);

      const copy = await onMainThread(async () => {
        expect(await handlers.copyBackup({ path: backup.path, target: name })).toEqual({ queued: true });
        return statusWhere(app.controller, (s) => s.offsite.copying === null && s.offsite.targets.find((t) => t.name === name)?.lastCopy?.backupName === backup.name);
      });
      console.log(`main event loop during the copy of a ${BLOB_MB} MB backup to a ${kind} target: ${copy.summary}`);
      const lastCopy = copy.result.offsite.targets.find((t) => t.name === name)?.lastCopy;
      expect(lastCopy).toMatchObject({ backupName: backup.name, ok: true });
      expect(lastCopy!.uploadedBytes).toBeGreaterThan(BLOB_MB * 1024 * 1024);
      expect(progressEvents).toBeGreaterThan(0);
      // Every byte was read, sent and hashed on other threads. CPU time, unlike delays, does not grow when
      // the machine is busy with other work.
      expect(copy.share).toBeLessThan(0.25);

      // Fetching it back (to restore from it) hashes every byte too.
      const download = await onMainThread(() => handlers.downloadFromTarget({ name, backupName: backup.name }));
      console.log(`main event loop during the download of it: ${download.summary}`);
      expect(download.result).toEqual({ ok: true, path: path.join(backupDir, '.offsite-download', backup.name) });
      expect(download.share).toBeLessThan(0.25);
    } finally {
      await app.controller.shutdown();
    }
  });
});
