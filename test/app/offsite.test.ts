// The desktop app's off-site copies through its API handlers, against real targets: a folder on another
// directory and s3rver on loopback. Secrets go through a SecretStore (here the in-memory one).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture } from '../../electron/engine/fixture.js';
import { createHandlers, type Handlers } from '../../electron/app/handlers.js';
import { MemorySecretStore, UnavailableSecretStore } from '../../electron/app/secret-store.js';
import type { Controller } from '../../electron/app/controller.js';
import { S3_KEYS, startS3, startSshd, type RunningServer } from '../helpers/offsite-servers.js';
import { startController, statusWhere, tempDir, type RecordingLog, type RecordingPlatform } from './harness.js';

const BUCKET = 'aurora-app';
let root: { dir: string; cleanup(): Promise<void> };
let dataDir: string;
let s3: RunningServer;

beforeAll(async () => {
  root = await tempDir('offsite-app');
  dataDir = path.join(root.dir, 'data');
  await createFixture(dataDir, { accounts: 3, posts: 10, blobMB: 1, seed: 'offsite-app' });
  s3 = await startS3(path.join(root.dir, 's3'), BUCKET);
});
afterAll(async () => {
  await s3?.stop();
  await root.cleanup();
});

interface App {
  controller: Controller;
  handlers: Handlers;
  platform: RecordingPlatform;
  log: RecordingLog;
  secrets: MemorySecretStore;
  userData: string;
}

async function appFor(name: string, secrets = new MemorySecretStore()): Promise<App> {
  const userData = path.join(root.dir, name, 'user-data');
  const app = await startController(userData, { secrets });
  await app.controller.updateSettings({ ...app.controller.getSettings(), dataDir, backupDir: path.join(root.dir, name, 'backups') });
  return { ...app, handlers: createHandlers(app.controller), secrets, userData };
}

async function backUp(app: App): Promise<string> {
  const started = await app.handlers.startBackup(undefined);
  if (!started.started) throw new Error(started.reason);
  await statusWhere(app.controller, (s) => s.job === null);
  return app.controller.getStatus().lastBackup!.name;
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const s3Target = (name: string, extra: Record<string, unknown> = {}) => ({
  type: 's3',
  name,
  bucket: BUCKET,
  prefix: `${name}/`,
  endpoint: `http://127.0.0.1:${s3.port}`,
  forcePathStyle: true,
  accessKeyId: S3_KEYS.AWS_ACCESS_KEY_ID,
  ...extra,
});

describe('off-site copies in the app', () => {
  let app: App;
  let offsiteDir: string;
  let firstBackup: string;

  beforeAll(async () => {
    app = await appFor('main');
    offsiteDir = path.join(root.dir, 'second-disk', 'aurora');
  });

  it('adds a folder and an S3 target: the S3 secret goes to the keychain only, and each is tested on adding', async () => {
    const folder = await app.handlers.addTarget({ target: { type: 'folder', name: 'usb', path: offsiteDir } });
    expect(folder).toMatchObject({ ok: true, target: { location: offsiteDir, hasSecret: false, hostKey: null, lastCopy: null }, test: { ok: true, message: expect.stringContaining('is writable') } });
    const bucket = await app.handlers.addTarget({ target: s3Target('b2'), secret: S3_KEYS.AWS_SECRET_ACCESS_KEY });
    expect(bucket).toMatchObject({ ok: true, target: { hasSecret: true, spec: { name: 'b2', accessKeyId: 'S3RVER' } }, test: { ok: true } });

    const targetsFile = readFileSync(path.join(app.userData, 'targets.json'), 'utf8');
    expect(JSON.parse(targetsFile).targets.map((t: { name: string }) => t.name)).toEqual(['usb', 'b2']);
    expect(targetsFile).not.toContain('secretAccessKey');
    expect(app.secrets.secrets.get('target:b2:secretAccessKey')).toBe(S3_KEYS.AWS_SECRET_ACCESS_KEY);
    // What the window gets never carries the secret (s3rver's key is "S3RVER", the same as its id: look for the field).
    const listed = await app.handlers.listTargets(undefined);
    expect(JSON.stringify(listed)).not.toContain('secretAccessKey');
    expect(listed.map((t) => t.spec.name)).toEqual(['usb', 'b2']);
  });

  it('refuses a second target of the same name, a relative folder, a secret in the target and an S3 key id without its secret', async () => {
    expect(await app.handlers.addTarget({ target: { type: 'folder', name: 'usb', path: offsiteDir } })).toEqual({ ok: false, errors: { name: 'There is already a target named "usb".' } });
    expect(await app.handlers.addTarget({ target: { type: 'folder', name: 'rel', path: 'backups' } })).toMatchObject({ ok: false, errors: { path: expect.stringContaining('is not a full path') } });
    expect(await app.handlers.addTarget({ target: s3Target('leaky', { secretAccessKey: 'in-the-open' }) })).toMatchObject({ ok: false, errors: { secretAccessKey: expect.any(String) } });
    expect(await app.handlers.addTarget({ target: s3Target('half') })).toMatchObject({ ok: false, errors: { secret: expect.stringContaining('secret access key') } });
    expect(await app.handlers.addTarget({ target: { type: 'sftp', name: 'nas', host: 'nas.local', username: 'me', path: 'backups' } })).toMatchObject({ ok: false, errors: { secret: 'Give a password or a private key file' } });
    expect((await app.handlers.listTargets(undefined)).map((t) => t.spec.name)).toEqual(['usb', 'b2']);
  });

  it('"Back up now" copies the new backup to both targets after it, with upload progress; the copy states say so, and survive a restart', async () => {
    const uploads: string[] = [];
    app.controller.on('offsiteProgress', (e) => e.progress.phase === 'uploading' && uploads.push(e.target));
    const copying = statusWhere(app.controller, (s) => s.offsite.copying !== null);
    firstBackup = await backUp(app);
    await copying;
    const done = await statusWhere(app.controller, (s) => s.offsite.copying === null && s.offsite.queued === 0);
    expect(new Set(uploads)).toEqual(new Set(['usb', 'b2']));
    expect(done.offsite.targets).toEqual([
      { name: 'usb', lastCopy: expect.objectContaining({ backupName: firstBackup, ok: true }), newestCopy: { backupName: firstBackup, createdAt: expect.any(String) } },
      { name: 'b2', lastCopy: expect.objectContaining({ backupName: firstBackup, ok: true }), newestCopy: expect.objectContaining({ backupName: firstBackup }) },
    ]);
    expect(await app.handlers.copyStates(undefined)).toEqual({ [firstBackup]: { usb: { state: 'copied', at: expect.any(String) }, b2: { state: 'copied', at: expect.any(String) } } });
    // The copy on the folder target is the backup, byte for byte.
    const local = path.join(app.controller.backupDir, firstBackup);
    for (const file of await readdir(local)) if (file.endsWith('.json')) expect(sha(path.join(offsiteDir, firstBackup, file))).toBe(sha(path.join(local, file)));
    expect(platform(app).notices.filter((n) => n.condition.startsWith('offsite'))).toEqual([]);
    expect(platform(app).trays.at(-1)!.menu).toContainEqual({ type: 'info', label: 'Off-site: copies up to date' });

    const again = await startController(app.userData, { secrets: app.secrets });
    expect(await createHandlers(again.controller).copyStates(undefined)).toEqual(await app.handlers.copyStates(undefined));
    await again.controller.shutdown();
  });

  it('lists the backups on a target and restores from it: downloaded, checked, restored, and the download removed', async () => {
    const listed = await app.handlers.listTargetBackups({ name: 'b2' });
    expect(listed).toMatchObject({ ok: true, backups: [{ name: firstBackup, status: 'complete' }] });
    const progress: string[] = [];
    app.controller.on('offsiteProgress', (e) => progress.push(e.progress.phase));
    const downloaded = await app.handlers.downloadFromTarget({ name: 'b2', backupName: firstBackup });
    expect(downloaded).toEqual({ ok: true, path: path.join(app.controller.backupDir, '.offsite-download', firstBackup) });
    expect(progress).toContain('downloading');
    const restored = await app.handlers.restore({ path: (downloaded as { path: string }).path, components: ['account'] });
    expect(restored).toMatchObject({ ok: true, result: { restored: ['account'] } });
    expect(existsSync((downloaded as { path: string }).path)).toBe(false);
  });

  it('a target that is down fails its copy with the reason, announced and shown as a warning, while the other target and the next backup go on', async () => {
    await app.handlers.addTarget({ target: s3Target('down', { endpoint: 'http://127.0.0.1:9' }), secret: 'wrong-but-long-secret' });
    const before = platform(app).notices.length;
    const name = await backUp(app);
    const status = await statusWhere(app.controller, (s) => s.offsite.copying === null && s.offsite.queued === 0 && s.offsite.targets.every((t) => t.lastCopy?.backupName === name));
    const down = status.offsite.targets.find((t) => t.name === 'down')!;
    expect(down.lastCopy).toMatchObject({ ok: false, error: expect.stringContaining('"down"') });
    expect(down.lastCopy!.error).not.toContain('wrong-but-long-secret');
    expect((await app.handlers.copyStates(undefined))[name]).toEqual({ usb: { state: 'copied', at: expect.any(String) }, b2: { state: 'copied', at: expect.any(String) }, down: { state: 'failed', at: expect.any(String), error: down.lastCopy!.error } });
    expect(platform(app).notices.slice(before)).toContainEqual(expect.objectContaining({ condition: 'offsite-failure', title: 'Off-site copy to "down" failed', backupName: name }));
    expect(platform(app).trays.at(-1)).toMatchObject({ icon: 'stale', tooltip: expect.stringContaining('off-site: copy to "down" failed') });
    expect(app.log.lines.map((l) => l.text).join('\n')).not.toContain('wrong-but-long-secret');

    // Removing it forgets its secret and its records; its copies (none here) would stay where they are.
    expect(await app.handlers.removeTarget({ name: 'down' })).toEqual({ removed: true });
    expect(app.secrets.secrets.has('target:down:secretAccessKey')).toBe(false);
    expect(app.controller.getStatus().offsite.targets.map((t) => t.name)).toEqual(['usb', 'b2']);
    expect(platform(app).trays.at(-1)!.icon).toBe('idle');
  });

  it('a copy in progress does not hold up the next local backup, and "Copy again" on request queues behind it', async () => {
    // A slow target: 32 KiB/s keeps the copy running while the next backup starts and ends.
    await app.handlers.addTarget({ target: { type: 'folder', name: 'slow', path: path.join(root.dir, 'slow-disk'), bandwidthLimitKiBps: 32 } });
    const copying = statusWhere(app.controller, (s) => s.offsite.copying?.target === 'slow');
    await backUp(app);
    await copying;
    const started = await app.handlers.startBackup(undefined);
    expect(started).toEqual({ started: true });
    const next = await statusWhere(app.controller, (s) => s.job === null);
    expect(next.offsite.copying?.target).toBe('slow');
    expect(next.offsite.queued).toBe(1); // the new backup waits for its copies
    const queued = await app.handlers.copyBackup({ path: path.join(app.controller.backupDir, firstBackup), target: 'usb' });
    expect(queued).toEqual({ queued: true });
    expect((await app.handlers.copyStates(undefined))[next.lastBackup!.name]).toMatchObject({ usb: { state: 'queued' }, slow: { state: 'queued' } });
    // Quitting cancels the running copy (continued next time) and drops the queue.
    await app.controller.shutdown();
    expect(app.controller.getStatus().offsite).toMatchObject({ copying: null, queued: 0 });
  });
});

it('without a keychain, a target with a secret is refused and nothing is saved', async () => {
  const app = await appFor('no-keychain', new UnavailableSecretStore('the keychain is locked.') as unknown as MemorySecretStore);
  const answer = await app.handlers.addTarget({ target: s3Target('b2'), secret: S3_KEYS.AWS_SECRET_ACCESS_KEY });
  expect(answer).toEqual({ ok: false, errors: { secret: 'Cannot save the secret: the keychain is locked.' } });
  expect(existsSync(path.join(app.userData, 'targets.json'))).toBe(false);
  await app.controller.shutdown();
});

it('a damaged targets.json is reported at start, by path, and makes no copies', async () => {
  const userData = path.join(root.dir, 'damaged', 'user-data');
  await writeFile(path.join(await import('node:fs/promises').then((fs) => fs.mkdir(userData, { recursive: true }).then(() => userData)), 'targets.json'), '{"targets": [{"type": "ftp"}]}');
  const app = await startController(userData, { secrets: new MemorySecretStore() });
  expect(app.platform.notices).toContainEqual(expect.objectContaining({ condition: 'targets', title: 'Off-site targets cannot be read', body: expect.stringContaining(path.join(userData, 'targets.json')) }));
  expect(app.controller.getStatus().offsite.targets).toEqual([]);
  await app.controller.shutdown();
});

it("an SFTP target: the server's host key is pinned when it is added and shown with it; a server showing another key is refused", async () => {
  const sshd = await startSshd(path.join(root.dir, 'sshd'));
  try {
    const app = await appFor('sftp');
    const remote = path.join(root.dir, 'sftp-remote');
    const added = await app.handlers.addTarget({ target: { type: 'sftp', name: 'nas', host: '127.0.0.1', port: sshd.port, username: sshd.user, path: remote, privateKeyFile: sshd.userKey } });
    expect(added).toMatchObject({ ok: true, target: { hostKey: sshd.hostFingerprint, hasSecret: false }, test: { ok: true, message: expect.stringContaining(`host key ${sshd.hostFingerprint}`) } });
    expect((await app.handlers.listTargets(undefined))[0]!.hostKey).toBe(sshd.hostFingerprint);
    // Pinned once: the next test says nothing more about it.
    expect(await app.handlers.testTarget({ name: 'nas' })).toEqual({ ok: true, message: expect.not.stringContaining('pinned') });
    await sshd.restart({ newHostKey: true });
    const pinned = (added as { target: { hostKey: string } }).target.hostKey;
    const refused = await app.handlers.testTarget({ name: 'nas' });
    expect(refused).toEqual({ ok: false, message: expect.stringContaining(pinned) });
    expect(refused.message).toContain('someone may be intercepting the connection');
    expect((await app.handlers.listTargets(undefined))[0]!.hostKey).toBe(pinned);
    // A key changed on purpose: the target is added again with the new fingerprint, checked on the server.
    await app.handlers.removeTarget({ name: 'nas' });
    const again = await app.handlers.addTarget({ target: { type: 'sftp', name: 'nas', host: '127.0.0.1', port: sshd.port, username: sshd.user, path: remote, privateKeyFile: sshd.userKey, hostKey: sshd.hostFingerprint } });
    expect(again).toMatchObject({ ok: true, target: { hostKey: sshd.hostFingerprint }, test: { ok: true } });
    await app.controller.shutdown();
  } finally {
    await sshd.stop();
  }
});

const platform = (app: App) => app.platform;
