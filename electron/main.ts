// The Electron main process: connects the plain-Node app (electron/app) to windows, tray, notifications
// and dialogs. Everything with logic in it lives in electron/app and is tested without Electron.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, net, powerMonitor, protocol, session, shell } from 'electron';
import log from 'electron-log/main';
import type { View } from '../shared/api.js';
import { setLinuxAutostart } from './app/autostart.js';
import { Controller } from './app/controller.js';
import { createHandlers } from './app/handlers.js';
import { stopJobWorker } from './app/job-runner.js';
import { CONTENT_SECURITY_POLICY, staticFilePath } from './app/http-bridge.js';
import { describeError, PRIVATE_LOG_WRITE_OPTIONS } from './app/log.js';
import type { Platform } from './app/platform.js';
import type { TrayAction } from './app/tray-model.js';
import { forwardEvents, registerIpc } from './ipc.js';
import { keychainSecretStore } from './keychain.js';
import { setApplicationMenu } from './menu.js';
import { showNotice } from './notifications.js';
import { createTray } from './tray.js';

// The window's files come from our own scheme (never file:// or http), so CSP 'self' means exactly them.
const SCHEME = 'app';
const ORIGIN = `${SCHEME}://renderer`;
const isOurPage = (url: string) => url.startsWith(`${ORIGIN}/`);
protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

log.transports.file.writeOptions = PRIVATE_LOG_WRITE_OPTIONS;
log.errorHandler.startCatching();
// Windows shows notifications only for an app with an AppUserModelID: the installer's (electron-builder's appId).
if (process.platform === 'win32') app.setAppUserModelId('dev.aurora-locus.backup');
const startedHidden = process.argv.includes('--hidden');

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.whenReady().then(start, (error: unknown) => {
    log.error('startup failed:', describeError(error));
    dialog.showErrorBox('Aurora Locus Backup could not start', describeError(error));
    app.exit(1);
  });
}

async function start(): Promise<void> {
  const rendererDir = path.join(app.getAppPath(), 'dist', 'renderer');
  const iconDir = app.isPackaged ? path.join(process.resourcesPath, 'tray') : path.join(app.getAppPath(), 'build');
  let window: BrowserWindow | null = null;
  let pendingNavigation: { view: View; backupName?: string } | null = null;
  let quitting = false;

  lockDownSession(rendererDir);
  setApplicationMenu(app.isPackaged);

  const tray = createTray(iconDir, (action) => void onTrayAction(action));
  const platform: Platform = {
    showNotification: (notice) => {
      const icon = notice.condition === 'failure' ? 'failed' : notice.condition === 'success' ? 'idle' : 'stale';
      showNotice(notice, path.join(iconDir, `tray-${icon}@2x.png`), (n) => openAt({ view: n.view, backupName: n.backupName }));
    },
    setTray: (model) => tray.show(model),
    openPath: (p) => shell.openPath(p),
    pickFolder: async (purpose) => {
      const options: Electron.OpenDialogOptions = {
        title: {
          dataDir: 'Choose the PDS data directory',
          backupDir: 'Choose where backups are kept',
          restore: 'Choose a backup folder',
          envFile: "Choose the PDS's .env file",
          identityFile: 'Choose the identity file (AGE-SECRET-KEY-1…) of the backup',
        }[purpose],
        properties: purpose === 'envFile' || purpose === 'identityFile' ? ['openFile', 'showHiddenFiles'] : ['openDirectory', 'createDirectory'],
      };
      const picked = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
      return picked.canceled ? null : (picked.filePaths[0] ?? null);
    },
    pickSaveFile: async () => {
      const options: Electron.SaveDialogOptions = {
        title: 'Save the identity file: without it the encrypted backups cannot be read',
        defaultPath: path.join(app.getPath('documents'), 'aurora-backup-identity.txt'),
        buttonLabel: 'Save identity',
        properties: ['createDirectory', 'showOverwriteConfirmation'],
      };
      const picked = window ? await dialog.showSaveDialog(window, options) : await dialog.showSaveDialog(options);
      return picked.canceled || !picked.filePath ? null : picked.filePath;
    },
    setLaunchAtLogin: (enabled) => {
      // macOS 13+: the app itself as a login item (SMAppService); it takes no arguments, so a start at login
      // is recognised by wasOpenedAtLogin below. Windows: a Run key with --hidden.
      if (process.platform === 'darwin') return app.setLoginItemSettings({ openAtLogin: enabled, type: 'mainAppService' });
      if (process.platform === 'win32') return app.setLoginItemSettings({ openAtLogin: enabled, args: ['--hidden'] });
      // An AppImage is started through its own file, not the extracted binary.
      setLinuxAutostart(enabled, { exec: process.env.APPIMAGE ?? process.execPath }).catch((error: unknown) =>
        log.error('cannot change launch at login:', describeError(error)),
      );
    },
  };

  const userDataDir = app.getPath('userData');
  const controller = new Controller({ userDataDir, platform, log, logPath: log.transports.file.getFile().path, baseDir: app.getPath('home'), secrets: keychainSecretStore(userDataDir) });
  registerIpc(ipcMain, createHandlers(controller), isOurPage, log);
  forwardEvents(controller, () => window?.webContents ?? null);
  await controller.start();
  powerMonitor.on('resume', () => controller.resumed());

  function showWindow(): BrowserWindow {
    if (window && !window.isDestroyed()) {
      window.show();
      window.focus();
      return window;
    }
    window = new BrowserWindow({
      width: 1100,
      height: 760,
      minWidth: 720,
      minHeight: 520,
      title: 'Aurora Locus Backup',
      icon: path.join(iconDir, 'icon.png'), // Linux; Windows and macOS take it from the executable
      show: false,
      webPreferences: {
        preload: path.join(import.meta.dirname, 'preload.cjs'),
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        webSecurity: true,
        webviewTag: false,
        spellcheck: false,
      },
    });
    const contents = window.webContents;
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.on('did-finish-load', () => {
      if (pendingNavigation) controller.emit('navigate', pendingNavigation);
      pendingNavigation = null;
    });
    window.once('ready-to-show', () => window?.show());
    // Closing the window keeps the app (and its schedule) running in the tray.
    window.on('close', (event) => {
      if (!quitting) {
        event.preventDefault();
        window?.hide();
      }
    });
    window.on('closed', () => (window = null));
    void window.loadURL(`${ORIGIN}/index.html`);
    return window;
  }

  function openAt(target: { view: View; backupName?: string }): void {
    const existed = window !== null && !window.isDestroyed() && !window.webContents.isLoading();
    showWindow();
    if (existed) controller.emit('navigate', target);
    else pendingNavigation = target;
  }

  async function onTrayAction(action: TrayAction): Promise<void> {
    switch (action) {
      case 'backup-now': {
        const started = await controller.startBackup('manual');
        if (!started.started) platform.showNotification({ condition: 'busy', title: 'Backup not started', body: started.reason, view: 'overview' });
        return;
      }
      case 'open':
        return void showWindow();
      case 'toggle-pause':
        return void (await controller.setPaused(!controller.getStatus().paused));
      case 'open-backups': {
        const error = await shell.openPath(controller.backupDir);
        if (error) log.warn(`cannot open ${controller.backupDir}: ${error}`);
        return;
      }
      case 'quit':
        return app.quit();
    }
  }

  app.on('second-instance', () => showWindow());
  app.on('activate', () => showWindow());
  app.on('window-all-closed', () => {
    // stay in the tray
  });
  // Quitting during a backup or restore asks first; if the user goes ahead, the job is cancelled and its
  // partial output removed by the engine before the process ends.
  app.on('before-quit', (event) => {
    if (quitting) return;
    event.preventDefault();
    void (async () => {
      const job = controller.runningJob();
      if (job) {
        const { response } = await dialog.showMessageBox({
          type: 'warning',
          buttons: ['Keep running', `Cancel the ${job} and quit`],
          defaultId: 0,
          cancelId: 0,
          message: `A ${job} is running.`,
          detail:
            job === 'backup'
              ? 'Quitting cancels it. The unfinished backup is removed; your earlier backups are not touched.'
              : 'Quitting cancels it; the data directory is put back as it was before the restore began.',
        });
        if (response === 0) return;
      }
      quitting = true;
      await controller.shutdown().catch((error: unknown) => log.error('shutdown:', describeError(error)));
      await stopJobWorker();
      app.quit();
    })();
  });

  const openedAtLogin = process.platform === 'darwin' ? app.getLoginItemSettings({ type: 'mainAppService' }).wasOpenedAtLogin : false;
  if (!startedHidden && !openedAtLogin) showWindow();
}

/** CSP on everything, no permissions, no remote requests, and the app:// scheme serving dist/renderer only. */
function lockDownSession(rendererDir: string): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.webRequest.onBeforeRequest({ urls: ['http://*/*', 'https://*/*', 'ws://*/*', 'wss://*/*'] }, (details, callback) => {
    log.warn(`blocked a request for remote content: ${details.url}`);
    callback({ cancel: true });
  });
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
  protocol.handle(SCHEME, async (request) => {
    const url = new URL(request.url);
    const file = url.host === 'renderer' ? staticFilePath(rendererDir, url.pathname) : null;
    if (!file) return new Response('Not found', { status: 404 });
    const response = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(response.headers);
    headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    headers.set('X-Content-Type-Options', 'nosniff');
    return new Response(response.body, { status: response.status, headers });
  });
}
