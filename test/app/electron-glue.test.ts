// The Electron glue (electron/main.ts, ipc.ts, tray.ts, notifications.ts) run as the app runs it: bundled
// by scripts/build.ts, beside a preload built the same way, with a recording stand-in for the `electron`
// module (test/app/electron-glue/stand-in.ts) in its node_modules. The test asks a driver in that process
// what was registered and calls Electron's callbacks the way Electron would, a foreign page's IPC included.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_NAMES, EVENT_CHANNEL, requestChannel } from '../../shared/api.js';
import { CONTENT_SECURITY_POLICY } from '../../electron/app/http-bridge.js';
import { buildAll } from '../../scripts/build.js';
import { makeTempDir } from '../helpers/tmp.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const OUR_PAGE = 'app://renderer/index.html';

let work: string;
let bundleDir: string;

beforeAll(async () => {
  work = makeTempDir('aurora-glue');
  bundleDir = path.join(work, 'dist');
  await buildAll({ outDir: bundleDir, renderer: false, quiet: true });
  const standIn = path.join(bundleDir, 'node_modules', 'electron');
  await build({ entryPoints: [path.join(import.meta.dirname, 'electron-glue', 'stand-in.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: path.join(standIn, 'index.js'), logLevel: 'error' });
  writeFileSync(path.join(standIn, 'package.json'), JSON.stringify({ name: 'electron', main: 'index.js' }));
  await build({ entryPoints: [path.join(import.meta.dirname, 'electron-glue', 'driver.ts')], bundle: true, platform: 'node', format: 'esm', external: ['electron'], outfile: path.join(bundleDir, 'driver.mjs'), logLevel: 'error' });
  await build({ entryPoints: [path.join(ROOT, 'electron', 'keychain.ts')], bundle: true, platform: 'node', format: 'esm', external: ['electron'], outfile: path.join(bundleDir, 'keychain.mjs'), logLevel: 'error' });
  // The one package the bundles load from node_modules, as in the packaged app.
  symlinkSync(path.join(ROOT, 'node_modules', 'better-sqlite3'), path.join(bundleDir, 'node_modules', 'better-sqlite3'));
});

/** The bundled main process on the stand-in, with its own app folder (window files, icons) and home. */
class GlueApp {
  readonly child: ChildProcess;
  readonly appPath: string;
  readonly home: string;
  private nextId = 1;
  private readonly ready: Promise<unknown>;

  constructor(opts: { env?: Record<string, string>; args?: string[]; corruptSettings?: boolean; /** Another run's home: the same user, the same keychain. */ home?: string } = {}) {
    const dir = makeTempDir('aurora-glue-run');
    this.appPath = path.join(dir, 'app');
    mkdirSync(path.join(this.appPath, 'dist', 'renderer'), { recursive: true });
    writeFileSync(path.join(this.appPath, 'dist', 'renderer', 'index.html'), '<!doctype html><title>window</title>');
    writeFileSync(path.join(this.appPath, 'dist', 'secret.txt'), 'not for the window');
    cpSync(path.join(ROOT, 'build'), path.join(this.appPath, 'build'), { recursive: true });
    this.home = opts.home ?? path.join(dir, 'home');
    const home = this.home;
    if (opts.corruptSettings) {
      mkdirSync(path.join(home, 'userData'), { recursive: true });
      writeFileSync(path.join(home, 'userData', 'settings.json'), '{ not json');
    }
    this.child = fork(path.join(bundleDir, 'driver.mjs'), opts.args ?? [], {
      cwd: dir,
      env: { ...process.env, STAND_IN_HOME: home, STAND_IN_APP_PATH: this.appPath, ...opts.env },
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let output = '';
    this.child.stdout!.on('data', (d: Buffer) => (output += d));
    this.child.stderr!.on('data', (d: Buffer) => (output += d));
    this.ready = new Promise((resolve, reject) => {
      this.child.on('message', (m: { ready?: boolean }) => m.ready && resolve(null));
      this.child.once('exit', (code) => reject(new Error(`the main process exited (${code}):\n${output}`)));
    });
  }

  async ask<T = unknown>(command: string, args: Record<string, unknown> = {}): Promise<T> {
    await this.ready;
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      const onMessage = (m: { id?: number; result?: T; error?: string }) => {
        if (m.id !== id) return;
        this.child.off('message', onMessage);
        if (m.error) reject(new Error(m.error));
        else resolve(m.result as T);
      };
      this.child.on('message', onMessage);
    });
    this.child.send({ id, command, ...args });
    return answer;
  }

  state() {
    return this.ask<GlueState>('state');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }
}

interface GlueState {
  startup: { failed: string | null };
  lockRefused: boolean;
  quitCalls: number;
  privilegedSchemes: unknown[];
  protocolSchemes: string[];
  ipcChannels: string[];
  windows: Array<{ options: Record<string, unknown> & { webPreferences: Record<string, unknown> }; preload: string | null; preloadExists: boolean; loadedUrl: string | null; visible: boolean; destroyed: boolean; sent: Array<{ channel: string; message: { event: string; payload: unknown } }> }>;
  trays: Array<{ image: string; imageExists: boolean; tooltip: string; menu: Array<{ label?: string; type?: string; enabled?: boolean; clickable: boolean }> | null }>;
  notifications: Array<{ options: { title: string; body: string; icon: string }; shown: boolean }>;
  appEvents: string[];
  powerMonitorEvents: string[];
  session: { permission: boolean; beforeRequest: { urls: string[] } | null; headersReceived: boolean };
}

describe('the Electron main process, on a recording stand-in for Electron', () => {
  let glue: GlueApp;
  beforeAll(() => void (glue = new GlueApp({ corruptSettings: true })));
  afterAll(() => glue?.stop());

  it('starts: app:// registered as privileged before ready, one IPC handler per API request, the session locked down', async () => {
    const state = await glue.state();
    expect(state.startup.failed).toBeNull();
    expect(state.privilegedSchemes).toEqual([{ scheme: 'app', privileges: expect.objectContaining({ standard: true, secure: true }) }]);
    expect(state.protocolSchemes).toEqual(['app']);
    expect([...state.ipcChannels].sort()).toEqual(API_NAMES.map(requestChannel).sort());
    expect(state.session.beforeRequest?.urls).toEqual(expect.arrayContaining(['http://*/*', 'https://*/*', 'ws://*/*', 'wss://*/*']));
    expect(await glue.ask('permission', { permission: 'media' })).toBe(false);
    expect(await glue.ask('permission', { permission: 'notifications' })).toBe(false);
    expect(await glue.ask('beforeRequest', { url: 'https://example.com/tracker.js' })).toEqual({ cancel: true });
    expect(await glue.ask('headers', { url: OUR_PAGE })).toEqual({ responseHeaders: { 'X-Old': ['kept'], 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
    expect(state.powerMonitorEvents).toContain('resume');
  });

  it('answers IPC from its own page only: another origin, a file:// page or a frame that is gone is refused', async () => {
    const ours = await glue.ask<{ ok: boolean; value: { state: string } }>('invoke', { channel: requestChannel('getStatus'), senderUrl: OUR_PAGE });
    expect(ours).toMatchObject({ ok: true, value: { state: expect.any(String) } });
    for (const senderUrl of ['https://evil.example/index.html', 'app://renderer.evil.example/index.html', `file://${glue.appPath}/dist/renderer/index.html`, null]) {
      expect(await glue.ask('invoke', { channel: requestChannel('getStatus'), senderUrl }), `from ${senderUrl}`).toEqual({ ok: false, error: 'Refused: the request did not come from the app window.' });
    }
    // Our page, but input the API does not accept.
    expect(await glue.ask('invoke', { channel: requestChannel('setSettings'), senderUrl: OUR_PAGE, input: { retainDays: 'forever' } })).toMatchObject({ ok: true, value: { ok: false, errors: { retainDays: expect.any(String) } } });
  });

  it('opens one isolated, sandboxed window with the built preload, at app://renderer/, that cannot navigate or open windows', async () => {
    const [window, ...more] = (await glue.state()).windows;
    expect(more).toEqual([]);
    expect(window!.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false });
    expect(window!.preloadExists, `preload ${window!.preload}`).toBe(true);
    const preload = readFileSync(window!.preload!, 'utf8');
    expect(preload).toContain('exposeInMainWorld');
    for (const name of API_NAMES) expect(preload).toContain(`"${name}"`);
    expect(window!.loadedUrl).toBe(OUR_PAGE);
    expect(await glue.ask('windowOpen', { url: 'https://example.com/' })).toEqual({ action: 'deny' });
    for (const event of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      expect(await glue.ask('contentsEvent', { event, url: 'https://example.com/' }), event).toEqual({ prevented: true });
    }
  });

  it('serves the window\'s files over app:// from dist/renderer only, with the CSP', async () => {
    const page = await glue.ask<{ status: number; headers: Record<string, string>; body: string }>('fetch', { url: OUR_PAGE });
    expect(page).toMatchObject({ status: 200, body: '<!doctype html><title>window</title>' });
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    for (const url of ['app://renderer/%2e%2e/secret.txt', 'app://renderer/..%2fsecret.txt', 'app://other/index.html']) {
      expect(await glue.ask('fetch', { url }), url).toMatchObject({ status: 404 });
    }
  });

  it('shows the tray with its icon and menu; closing the window hides it, the tray brings it back', async () => {
    const [tray] = (await glue.state()).trays;
    expect(tray!.imageExists, tray!.image).toBe(true);
    expect(tray!.tooltip).toMatch(/Aurora Locus Backup/);
    expect(tray!.menu!.filter((i) => i.clickable).map((i) => i.label)).toEqual(expect.arrayContaining(['Back up now', 'Open Aurora Locus Backup', 'Quit']));
    const closed = await glue.ask<{ visible: boolean; destroyed: boolean }>('closeWindow');
    expect(closed).toMatchObject({ visible: false, destroyed: false }); // the app keeps running in the tray
    await glue.ask('trayClick', { label: 'Open Aurora Locus Backup' });
    const windows = (await glue.state()).windows;
    expect(windows).toHaveLength(1);
    expect(windows[0]!.visible).toBe(true);
  });

  it('notifies that the settings were reset; clicking the notification opens the window at the settings', async () => {
    const { notifications } = await glue.state();
    expect(notifications).toEqual([{ options: expect.objectContaining({ title: 'Settings were reset', icon: expect.stringContaining('tray-') }), shown: true }]);
    expect(readFileSync(notifications[0]!.options.icon).length).toBeGreaterThan(0);
    await glue.ask('notificationClick', { index: 0 });
    const sent = (await glue.state()).windows[0]!.sent;
    expect(sent).toContainEqual({ channel: EVENT_CHANNEL, message: { event: 'navigate', payload: { view: 'settings' } } });
  });

  it('waking from sleep reaches the app (a fresh status goes to the window), and Quit quits', async () => {
    const statuses = async () => (await glue.state()).windows[0]!.sent.filter((s) => s.message.event === 'status').length;
    const before = await statuses();
    await glue.ask('emit', { target: 'powerMonitor', event: 'resume' });
    expect(await statuses()).toBeGreaterThan(before);
    expect(await glue.ask('quit')).toEqual({ quitCalls: 2 }); // asked once, and again after shutting down
  });
});

it('a second instance hands over to the first and quits, opening nothing', async () => {
  const second = new GlueApp({ env: { STAND_IN_SECOND_INSTANCE: '1' } });
  try {
    const state = await second.state();
    expect(state).toMatchObject({ lockRefused: true, windows: [], trays: [], ipcChannels: [] });
  } finally {
    await second.stop();
  }
});

it('started hidden (at login), it shows the tray but no window', async () => {
  const hidden = new GlueApp({ args: ['--hidden'] });
  try {
    const state = await hidden.state();
    expect(state.windows).toEqual([]);
    expect(state.trays).toHaveLength(1);
  } finally {
    await hidden.stop();
  }
});

describe("secrets in the OS keychain (electron/keychain.ts over Electron's safeStorage)", () => {
  type Answer = { value?: string | null; error?: string };
  const keychain = (app: GlueApp, args: { op: 'set' | 'get' | 'delete'; userDataDir: string; name: string; value?: string }) => app.ask<Answer>('keychain', args);

  it('keeps a secret as keychain ciphertext in secrets.json (0600), reads it back after a restart, and deletes it', async () => {
    const userDataDir = path.join(makeTempDir('aurora-keychain'), 'user-data');
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    let app = new GlueApp();
    try {
      expect(await keychain(app, { op: 'set', userDataDir, name: 'target:b2:secretAccessKey', value: secret })).toEqual({});
      const file = path.join(userDataDir, 'secrets.json');
      const text = readFileSync(file, 'utf8');
      expect(text).not.toContain(secret);
      expect(text).toContain('target:b2:secretAccessKey');
      expect(statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      await app.stop();
    }
    app = new GlueApp({ home: app.home });
    try {
      expect(await keychain(app, { op: 'get', userDataDir, name: 'target:b2:secretAccessKey' })).toEqual({ value: secret });
      expect(await keychain(app, { op: 'delete', userDataDir, name: 'target:b2:secretAccessKey' })).toEqual({});
      expect(await keychain(app, { op: 'get', userDataDir, name: 'target:b2:secretAccessKey' })).toEqual({ value: null });
    } finally {
      await app.stop();
    }
  });

  it.each([
    ['none', /keychain is not available/],
    ['basic_text', /no keyring \(GNOME Keyring or KWallet\) is running/],
  ])('refuses to save a secret when safeStorage has %s, writing nothing', async (keyring, message) => {
    const userDataDir = path.join(makeTempDir('aurora-keychain-off'), 'user-data');
    const app = new GlueApp({ env: { STAND_IN_KEYRING: keyring } });
    try {
      const answer = await keychain(app, { op: 'set', userDataDir, name: 'target:nas:password', value: 'hunter2-long' });
      expect(answer.error).toMatch(/^Cannot save the secret: /);
      expect(answer.error).toMatch(message);
      expect(() => statSync(path.join(userDataDir, 'secrets.json'))).toThrow();
    } finally {
      await app.stop();
    }
  });

  it('a secrets.json from another keychain is refused by name, asking for the secret again', async () => {
    const userDataDir = path.join(makeTempDir('aurora-keychain-other'), 'user-data');
    mkdirSync(userDataDir, { recursive: true });
    writeFileSync(path.join(userDataDir, 'secrets.json'), JSON.stringify({ version: 1, secrets: { 'target:b2:secretAccessKey': Buffer.from('v11 from another machine........').toString('base64') } }));
    const app = new GlueApp();
    try {
      const answer = await keychain(app, { op: 'get', userDataDir, name: 'target:b2:secretAccessKey' });
      expect(answer.error).toMatch(/target:b2:secretAccessKey .*cannot be decrypted.*Enter it again/);
    } finally {
      await app.stop();
    }
  });
});

describe("an off-site target's secret, added through the window's IPC, goes to the keychain", () => {
  const target = { type: 's3', name: 'b2', bucket: 'aurora', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, accessKeyId: 'AKIAEXAMPLE' };
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  type Answer = { ok: boolean; value: { ok: boolean; errors?: Record<string, string>; target?: { hasSecret: boolean } } };

  it('encrypted by safeStorage into secrets.json, never in targets.json or the answer', async () => {
    const app = new GlueApp();
    try {
      const answer = await app.ask<Answer>('invoke', { channel: requestChannel('addTarget'), senderUrl: OUR_PAGE, input: { target, secret } });
      expect(answer).toMatchObject({ ok: true, value: { ok: true, target: { hasSecret: true } } });
      expect(JSON.stringify(answer)).not.toContain(secret);
      const userData = path.join(app.home, 'userData');
      expect(readFileSync(path.join(userData, 'targets.json'), 'utf8')).not.toContain(secret);
      const stored = readFileSync(path.join(userData, 'secrets.json'), 'utf8');
      expect(stored).toContain('target:b2:secretAccessKey');
      expect(stored).not.toContain(secret);
    } finally {
      await app.stop();
    }
  });

  it('refused, with nothing saved, when the keychain would only obfuscate it (Linux without a keyring)', async () => {
    const app = new GlueApp({ env: { STAND_IN_KEYRING: 'basic_text' } });
    try {
      const answer = await app.ask<Answer>('invoke', { channel: requestChannel('addTarget'), senderUrl: OUR_PAGE, input: { target, secret } });
      expect(answer).toEqual({ ok: true, value: { ok: false, errors: { secret: expect.stringMatching(/^Cannot save the secret: no keyring/) } } });
      expect(() => statSync(path.join(app.home, 'userData', 'targets.json'))).toThrow();
    } finally {
      await app.stop();
    }
  });
});

describe('encryption through the Electron glue', () => {
  type Invoked<T> = { ok: true; value: T } | { ok: false; error: string };
  const invoke = <T>(app: GlueApp, name: Parameters<typeof requestChannel>[0], input?: unknown) => app.ask<Invoked<T>>('invoke', { channel: requestChannel(name), senderUrl: OUR_PAGE, input });

  it('a new key pair is saved where the save dialog says (0600, after the plain warning in its title); a passphrase is keychain ciphertext, not in settings.json', async () => {
    const dir = makeTempDir('aurora-glue-encryption');
    const savePath = path.join(dir, 'aurora-backup-identity.txt');
    const app = new GlueApp({ env: { STAND_IN_SAVE_PATH: savePath } });
    try {
      const made = await invoke<{ ok: boolean; identityPath: string; recipient: string }>(app, 'generateEncryptionKey', { keepCopy: false });
      expect(made).toMatchObject({ ok: true, value: { ok: true, identityPath: savePath, recipient: expect.stringMatching(/^age1/) } });
      expect(statSync(savePath).mode & 0o777).toBe(0o600);
      expect(readFileSync(savePath, 'utf8')).toMatch(/^AGE-SECRET-KEY-1/m);
      const dialogs = await app.ask<Array<{ kind: string; options: { title?: string; properties?: string[] } }>>('dialogs');
      expect(dialogs.filter((d) => d.kind === 'save')).toEqual([{ kind: 'save', options: expect.objectContaining({ title: expect.stringContaining('without it the encrypted backups cannot be read') }) }]);

      const userData = path.join(app.home, 'userData');
      const passphrase = 'correct horse battery staple';
      expect(await invoke(app, 'setEncryption', { mode: 'passphrase', passphrase })).toMatchObject({ ok: true, value: { ok: true, state: { mode: 'passphrase', passphraseRemembered: true } } });
      const secrets = readFileSync(path.join(userData, 'secrets.json'), 'utf8');
      expect(secrets).toContain('backup:passphrase');
      expect(secrets).not.toContain(passphrase);
      expect(readFileSync(path.join(userData, 'settings.json'), 'utf8')).not.toContain(passphrase);

      // Restore's identity file is chosen with an open-file dialog.
      expect(await invoke(app, 'pickFolder', { purpose: 'identityFile' })).toEqual({ ok: true, value: null });
      expect((await app.ask<Array<{ kind: string; options: { properties?: string[] } }>>('dialogs')).at(-1)).toEqual({ kind: 'open', options: expect.objectContaining({ properties: expect.arrayContaining(['openFile']) }) });
    } finally {
      await app.stop();
    }
  });

  it('without a keyring a passphrase is refused with the reason, and encryption stays off', async () => {
    const app = new GlueApp({ env: { STAND_IN_KEYRING: 'basic_text' } });
    try {
      const answer = await invoke<{ ok: boolean; error?: string }>(app, 'setEncryption', { mode: 'passphrase', passphrase: 'correct horse battery staple' });
      expect(answer).toEqual({ ok: true, value: { ok: false, error: expect.stringMatching(/^Cannot save the secret: no keyring/) } });
      expect(await invoke(app, 'getSettings')).toMatchObject({ ok: true, value: { encryption: { recipients: [], passphrase: false } } });
    } finally {
      await app.stop();
    }
  });
});
