// Runs the bundled main process (main.mjs beside this file) against the Electron stand-in, and answers the
// test's questions over the IPC channel of child_process.fork: what was registered, and what Electron's
// callbacks return when called as Electron would call them.
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import * as electron from 'electron';
import type * as StandIn from './stand-in.js';

const standIn = electron as unknown as typeof StandIn;
type Message = { id: number; command: string; [key: string]: unknown };

const startupFailed = once(standIn.standInEvents, 'error-box').then(([args]) => ({ failed: String((args as unknown[])[1]) }));
// main.ts listens for 'resume' once the controller has started; start() then runs on synchronously to its end.
const started = new Promise<{ failed: null }>((resolve) => {
  standIn.powerMonitor.on('newListener', (event: string) => event === 'resume' && setImmediate(() => resolve({ failed: null })));
});
await import(new URL('./main.mjs', import.meta.url).href);
const lockRefused = standIn.app.quitCalls > 0;
standIn.becomeReady();
const startup = lockRefused ? { failed: null } : await Promise.race([started, startupFailed]);

function windowState() {
  return standIn.BrowserWindow.all.map((w) => {
    const preload = (w.options.webPreferences as { preload?: string } | undefined)?.preload ?? null;
    return { options: w.options, preload, preloadExists: preload !== null && existsSync(preload), loadedUrl: w.loadedUrl, visible: w.visible, destroyed: w.destroyed, sent: w.webContents.sent };
  });
}

function state() {
  return {
    startup,
    lockRefused,
    quitCalls: standIn.app.quitCalls,
    exitCodes: standIn.app.exitCodes,
    privilegedSchemes: standIn.privilegedSchemes,
    protocolSchemes: [...standIn.protocolHandlers.keys()],
    ipcChannels: [...standIn.ipcHandlers.keys()].filter((channel) => channel.startsWith('aurora:')), // not electron-log's own
    windows: windowState(),
    trays: standIn.Tray.all.map((t) => ({ image: t.image.path, imageExists: !t.image.isEmpty(), tooltip: t.tooltip, menu: t.menu?.items.map(({ click, ...item }) => ({ ...item, clickable: typeof click === 'function' })) ?? null })),
    notifications: standIn.Notification.all.map((n) => ({ options: n.options, shown: n.shown })),
    appEvents: standIn.app.eventNames().map(String),
    powerMonitorEvents: standIn.powerMonitor.eventNames().map(String),
    session: { permission: !!standIn.sessionHandlers.permission, beforeRequest: standIn.sessionHandlers.beforeRequest?.filter ?? null, headersReceived: !!standIn.sessionHandlers.headersReceived },
    shellCalls: standIn.shellCalls,
    dialogCalls: standIn.dialogCalls.map((c) => c.kind),
  };
}

const commands: Record<string, (message: Message) => unknown> = {
  state,
  /** The dialogs shown, each with its options (the last argument; the window before it is left out). */
  dialogs: () => standIn.dialogCalls.map((c) => ({ kind: c.kind, options: c.args.at(-1) })),
  /** ipcRenderer.invoke from a frame at `senderUrl` (null: a frame that is gone). */
  async invoke({ channel, senderUrl, input }) {
    const handler = standIn.ipcHandlers.get(String(channel));
    if (!handler) return { noHandler: true };
    return handler({ senderFrame: senderUrl === null ? null : { url: senderUrl } }, input);
  },
  async fetch({ url }) {
    const handler = standIn.protocolHandlers.get(new URL(String(url)).protocol.replace(/:$/, ''));
    if (!handler) return { noHandler: true };
    const response = await handler(new Request(String(url)));
    return { status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
  },
  permission: ({ permission }) => new Promise((resolve) => standIn.sessionHandlers.permission!(null, String(permission), resolve)),
  beforeRequest: ({ url }) => new Promise((resolve) => standIn.sessionHandlers.beforeRequest!.listener({ url: String(url) }, resolve)),
  headers: ({ url }) => new Promise((resolve) => standIn.sessionHandlers.headersReceived!({ url: String(url), responseHeaders: { 'X-Old': ['kept'] } }, resolve)),
  windowOpen: ({ url }) => standIn.BrowserWindow.all.at(-1)!.webContents.windowOpenHandler?.({ url: String(url) }) ?? null,
  /** Emits a webContents event such as 'will-navigate'; says whether the app prevented it. */
  contentsEvent({ event, url }) {
    let prevented = false;
    standIn.BrowserWindow.all.at(-1)!.webContents.emit(String(event), { preventDefault: () => (prevented = true) }, url);
    return { prevented };
  },
  closeWindow() {
    standIn.BrowserWindow.all.at(-1)!.close();
    return windowState().at(-1);
  },
  trayClick({ label }) {
    const item = standIn.Tray.all.at(-1)!.menu!.items.find((i) => i.label === label);
    (item!.click as () => void)();
    return null;
  },
  trayIconClick: () => void standIn.Tray.all.at(-1)!.emit('click'),
  notificationClick: ({ index }) => void standIn.Notification.all[Number(index)]!.emit('click'),
  emit({ target, event }) {
    (target === 'powerMonitor' ? standIn.powerMonitor : standIn.app).emit(String(event), { preventDefault: () => undefined });
    return null;
  },
  /** The keychain module (electron/keychain.ts, bundled beside main.mjs as keychain.mjs) on the stand-in's safeStorage. */
  async keychain({ op, userDataDir, name, value }) {
    const { keychainSecretStore } = (await import(new URL('./keychain.mjs', import.meta.url).href)) as typeof import('../../../electron/keychain.js');
    const store = keychainSecretStore(String(userDataDir));
    try {
      if (op === 'set') return { value: await store.set(String(name), String(value)) };
      if (op === 'get') return { value: await store.get(String(name)) };
      return { value: await store.delete(String(name)) };
    } catch (error) {
      return { error: (error as Error).message };
    }
  },
  /** app.quit() as the tray's Quit or the OS asks it; resolves once the app has really quit. */
  async quit() {
    const quit = once(standIn.app, 'will-quit');
    standIn.app.quit();
    await quit;
    return { quitCalls: standIn.app.quitCalls };
  },
};

process.on('message', (message: Message) => {
  void (async () => {
    try {
      process.send!({ id: message.id, result: await commands[message.command]!(message) });
    } catch (error) {
      process.send!({ id: message.id, error: error instanceof Error ? error.stack : String(error) });
    }
  })();
});
process.send!({ ready: true });
