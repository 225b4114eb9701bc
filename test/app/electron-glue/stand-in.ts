// A stand-in for the `electron` module, for test/app/electron-glue.test.ts: it records what the main process
// registers and creates, and answers as Electron does where the glue depends on it (what may only happen
// before or after 'ready', one handler per IPC channel, a preload that must exist, file:// through net.fetch).
// Built with esbuild as node_modules/electron beside the bundled main process, so main.mjs loads it.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

type Handler = (...args: unknown[]) => unknown;

const home = process.env.STAND_IN_HOME ?? '/nonexistent';
/** What the driver waits for instead of time: 'error-box' (startup failed). */
export const standInEvents = new EventEmitter();
let ready = false;
const readyWaiters: Array<() => void> = [];

function mustBeReady(what: string): void {
  if (!ready) throw new Error(`${what} cannot be used before the app is ready`);
}

class App extends EventEmitter {
  name = 'Aurora Locus Backup';
  isPackaged = false;
  quitCalls = 0;
  exitCodes: number[] = [];
  getName = () => this.name;
  getVersion = () => '0.0.0-stand-in';
  getAppPath = () => process.env.STAND_IN_APP_PATH ?? home;
  getPath = (name: string) => path.join(home, name);
  isReady = () => ready;
  whenReady = () => new Promise<void>((resolve) => (ready ? resolve() : readyWaiters.push(resolve)));
  requestSingleInstanceLock = () => process.env.STAND_IN_SECOND_INSTANCE !== '1';
  setLoginItemSettings = () => undefined;
  getLoginItemSettings = () => ({ openAtLogin: false, wasOpenedAtLogin: false });
  quit = () => {
    this.quitCalls++;
    // Electron asks 'before-quit' listeners first; one calling preventDefault keeps the app running.
    let prevented = false;
    this.emit('before-quit', { preventDefault: () => (prevented = true) });
    if (!prevented) this.emit('will-quit');
  };
  exit = (code = 0) => void this.exitCodes.push(code);
}
export const app = new App();

/** Called by the test driver: Electron's 'ready'. */
export function becomeReady(): void {
  ready = true;
  for (const resolve of readyWaiters.splice(0)) resolve();
  app.emit('ready');
}

export const privilegedSchemes: unknown[] = [];
export const protocolHandlers = new Map<string, (request: Request) => Promise<Response> | Response>();
export const protocol = {
  registerSchemesAsPrivileged(schemes: unknown[]) {
    if (ready) throw new Error('protocol.registerSchemesAsPrivileged should be called before app is ready');
    privilegedSchemes.push(...schemes);
  },
  handle(scheme: string, handler: (request: Request) => Promise<Response> | Response) {
    mustBeReady('protocol.handle');
    if (protocolHandlers.has(scheme)) throw new Error(`Failed to register protocol: ${scheme}`);
    protocolHandlers.set(scheme, handler);
  },
};

export const ipcHandlers = new Map<string, Handler>();
export const ipcMain = Object.assign(new EventEmitter(), {
  handle(channel: string, handler: Handler) {
    if (ipcHandlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    ipcHandlers.set(channel, handler);
  },
  removeHandler(channel: string) {
    ipcHandlers.delete(channel);
  },
});

class WebContents extends EventEmitter {
  sent: Array<{ channel: string; message: unknown }> = [];
  windowOpenHandler: ((details: { url: string }) => unknown) | null = null;
  loading = true;
  setWindowOpenHandler(handler: (details: { url: string }) => unknown) {
    this.windowOpenHandler = handler;
  }
  send(channel: string, message: unknown) {
    this.sent.push({ channel, message });
  }
  isDestroyed = () => false;
  isLoading = () => this.loading;
}

export class BrowserWindow extends EventEmitter {
  static all: BrowserWindow[] = [];
  static getAllWindows = () => BrowserWindow.all.filter((w) => !w.destroyed);
  readonly webContents = new WebContents();
  loadedUrl: string | null = null;
  visible = false;
  destroyed = false;
  constructor(readonly options: { webPreferences?: { preload?: string } } & Record<string, unknown>) {
    super();
    mustBeReady('BrowserWindow');
    const preload = options.webPreferences?.preload;
    // Electron takes only an absolute path, and a preload it cannot load leaves the page without its API.
    if (preload !== undefined && !path.isAbsolute(preload)) throw new Error(`preload must be an absolute path: ${preload}`);
    BrowserWindow.all.push(this);
  }
  loadURL(url: string) {
    this.loadedUrl = url;
    this.webContents.loading = false;
    this.webContents.emit('did-finish-load');
    return Promise.resolve();
  }
  show = () => void (this.visible = true);
  hide = () => void (this.visible = false);
  focus = () => undefined;
  isDestroyed = () => this.destroyed;
  close() {
    let prevented = false;
    this.emit('close', { preventDefault: () => (prevented = true) });
    if (prevented) return;
    this.destroyed = true;
    this.emit('closed');
  }
}

export const nativeImage = {
  createFromPath: (file: string) => ({ path: file, isEmpty: () => !existsSync(file) }),
};

export class Tray extends EventEmitter {
  static all: Tray[] = [];
  tooltip = '';
  menu: { items: Array<Record<string, unknown>> } | null = null;
  constructor(public image: { path: string; isEmpty(): boolean }) {
    super();
    mustBeReady('Tray');
    Tray.all.push(this);
  }
  setImage(image: { path: string; isEmpty(): boolean }) {
    this.image = image;
  }
  setToolTip(text: string) {
    this.tooltip = text;
  }
  setContextMenu(menu: { items: Array<Record<string, unknown>> }) {
    this.menu = menu;
  }
}

export const Menu = {
  buildFromTemplate: (items: Array<Record<string, unknown>>) => ({ items }),
};

export class Notification extends EventEmitter {
  static all: Notification[] = [];
  static isSupported = () => true;
  shown = false;
  constructor(readonly options: Record<string, unknown>) {
    super();
    Notification.all.push(this);
  }
  show() {
    this.shown = true;
  }
}

export const powerMonitor = new EventEmitter();

type Callback<T> = (answer: T) => void;
export const sessionHandlers: {
  permission?: (contents: unknown, permission: string, callback: Callback<boolean>) => void;
  beforeRequest?: { filter: { urls: string[] }; listener: (details: { url: string }, callback: Callback<{ cancel?: boolean }>) => void };
  headersReceived?: (details: { url: string; responseHeaders?: Record<string, string[]> }, callback: Callback<{ responseHeaders?: Record<string, string[]> }>) => void;
} = {};
export const session = {
  get defaultSession() {
    mustBeReady('session.defaultSession');
    return {
      setPermissionRequestHandler: (handler: NonNullable<typeof sessionHandlers.permission>) => void (sessionHandlers.permission = handler),
      webRequest: {
        onBeforeRequest: (filter: { urls: string[] }, listener: NonNullable<typeof sessionHandlers.beforeRequest>['listener']) =>
          void (sessionHandlers.beforeRequest = { filter, listener }),
        onHeadersReceived: (listener: NonNullable<typeof sessionHandlers.headersReceived>) => void (sessionHandlers.headersReceived = listener),
      },
    };
  },
};

export const net = {
  /** Only what the app asks of it: files. */
  async fetch(url: string) {
    if (!url.startsWith('file:')) throw new Error(`the stand-in fetches files only, not ${url}`);
    const file = fileURLToPath(url);
    if (!existsSync(file)) return new Response('', { status: 404 });
    return new Response(readFileSync(file), { status: 200, headers: { 'Content-Type': file.endsWith('.html') ? 'text/html' : 'application/octet-stream' } });
  },
};

export const shellCalls: string[] = [];
export const shell = {
  openPath: async (p: string) => {
    shellCalls.push(p);
    return ''; // no error
  },
  openExternal: async (url: string) => void shellCalls.push(url),
};

export const dialogCalls: Array<{ kind: string; args: unknown[] }> = [];
export const dialog = {
  showErrorBox: (...args: unknown[]) => {
    dialogCalls.push({ kind: 'error', args });
    standInEvents.emit('error-box', args);
  },
  showMessageBox: async (...args: unknown[]) => {
    dialogCalls.push({ kind: 'message', args });
    return { response: Number(process.env.STAND_IN_MESSAGE_BOX_RESPONSE ?? 0), checkboxChecked: false };
  },
  showOpenDialog: async (...args: unknown[]) => {
    dialogCalls.push({ kind: 'open', args });
    return { canceled: true, filePaths: [] };
  },
  /** Answers with STAND_IN_SAVE_PATH, as a user choosing that file would; cancelled without it. */
  showSaveDialog: async (...args: unknown[]) => {
    dialogCalls.push({ kind: 'save', args });
    const chosen = process.env.STAND_IN_SAVE_PATH;
    return chosen ? { canceled: false, filePath: chosen } : { canceled: true, filePath: '' };
  },
};

export const webContents = { getAllWebContents: () => BrowserWindow.all.map((w) => w.webContents) };

/**
 * safeStorage as Electron answers on Linux: nothing before 'ready'; STAND_IN_KEYRING picks the backend
 * ('gnome_libsecret' by default; 'basic_text' is what Electron selects without a keyring, 'none' makes
 * encryption unavailable). Ciphertext is Chromium's shape ('v11' + AES-GCM here) under a key tied to the
 * home folder, so what one run encrypts the next can decrypt.
 */
const keyring = process.env.STAND_IN_KEYRING ?? 'gnome_libsecret';
const keyringKey = createHash('sha256').update(`stand-in keyring of ${home}`).digest();
export const safeStorage = {
  isEncryptionAvailable: () => ready && keyring !== 'none',
  isAsyncEncryptionAvailable: async () => ready && keyring !== 'none',
  getSelectedStorageBackend: () => (ready ? (keyring === 'none' ? 'unknown' : keyring) : 'unknown'),
  async encryptStringAsync(plainText: string) {
    if (!ready || keyring === 'none') throw new Error('Error while encrypting the text provided to safeStorage.encryptString. Encryption is not available.');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', keyringKey, iv);
    const body = Buffer.concat([cipher.update(plainText, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from('v11'), iv, cipher.getAuthTag(), body]);
  },
  async decryptStringAsync(encrypted: Buffer) {
    if (!ready || keyring === 'none') throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString. Decryption is not available.');
    try {
      if (encrypted.subarray(0, 3).toString() !== 'v11') throw new Error('unknown prefix');
      const decipher = createDecipheriv('aes-256-gcm', keyringKey, encrypted.subarray(3, 15));
      decipher.setAuthTag(encrypted.subarray(15, 31));
      return { shouldReEncrypt: false, result: Buffer.concat([decipher.update(encrypted.subarray(31)), decipher.final()]).toString('utf8') };
    } catch {
      throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
    }
  },
};
