import { existsSync } from 'node:fs';
import path from 'node:path';
import log from 'electron-log/node';
import { CliError, type Command } from '../command.js';
import { Controller } from '../../app/controller.js';
import { createHandlers } from '../../app/handlers.js';
import { stopJobWorker } from '../../app/job-runner.js';
import { startHttpBridge } from '../../app/http-bridge.js';
import { describeError, PRIVATE_LOG_WRITE_OPTIONS } from '../../app/log.js';
import { defaultUserDataDir, packageRoot, PRODUCT_NAME } from '../../app/paths.js';
import { headlessPlatform } from '../../app/platform.js';

const help = `Usage: aurora-backup serve [--port N] [--data DIR] [--out DIR] [--user-data DIR]

Runs the app without a desktop: the scheduler, the API and the app's window as a web page, on
127.0.0.1 only. Prints one line on stdout: the URL to open, with its secret token
(http://127.0.0.1:PORT/?token=…). Everything else is logged to stderr and to <user-data>/logs/main.log.
To manage a headless server, forward the port over SSH: ssh -L PORT:127.0.0.1:PORT server.

Builds the window's files (npm run build:renderer) first when dist/renderer does not exist yet.

Options:
  --port N          Port to listen on (default: any free port)
  --data DIR        The PDS data directory (saved in the settings)
  --out DIR         Where backups go (saved in the settings)
  --user-data DIR   Settings, history and logs (default: the desktop app's folder,
                    ${defaultUserDataDir()})
Stop with Ctrl+C; a running backup is cancelled cleanly.`;

/**
 * The window's files: dist/renderer, which the built CLI ships beside it. Run from the sources, builds it
 * first with vite's JS API (vite's output goes to stderr because stdout carries only the URL).
 */
async function ensureRenderer(root: string): Promise<string | null> {
  const outDir = path.join(root, 'dist', 'renderer');
  if (existsSync(path.join(outDir, 'index.html'))) return outDir;
  const configFile = path.join(root, 'renderer', 'vite.config.ts');
  // The build defines AURORA_BUNDLED: vite, a dev tool, is then not part of the bundle.
  if (!globalThis.AURORA_BUNDLED && existsSync(configFile)) {
    log.info('building the renderer (npm run build:renderer)…');
    const { build } = await import('vite');
    const toStderr = (msg: string) => process.stderr.write(`${msg}\n`);
    const warned = new Set<string>();
    try {
      await build({
        configFile,
        customLogger: {
          info: toStderr,
          warn: toStderr,
          warnOnce: (msg) => void (warned.has(msg) || (warned.add(msg), toStderr(msg))),
          error: toStderr,
          clearScreen: () => {},
          hasErrorLogged: () => false,
          hasWarned: false,
        },
      });
    } catch (error) {
      log.error('building the renderer failed; serving a placeholder page:', describeError(error));
      return null;
    }
    if (existsSync(path.join(outDir, 'index.html'))) return outDir;
  }
  log.warn(`no renderer to serve (${outDir} is missing); serving a placeholder page`);
  return null;
}

export const command: Command = {
  summary: 'Run the app headless: scheduler + window as a local web page (127.0.0.1, token)',
  help,
  options: {
    port: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    'user-data': { type: 'string' },
  },
  async run({ values }) {
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be a number from 0 to 65535, not "${String(values.port)}".`, 2);
    const userDataDir = path.resolve(typeof values['user-data'] === 'string' ? values['user-data'] : defaultUserDataDir());

    // Named here: electron-log otherwise looks for a package.json from the working directory, and a
    // service starts in /.
    log.transports.file.setAppName(PRODUCT_NAME);
    log.transports.file.resolvePathFn = () => path.join(userDataDir, 'logs', 'main.log');
    log.transports.file.writeOptions = PRIVATE_LOG_WRITE_OPTIONS;
    log.transports.console.writeFn = ({ message }) => console.error(...message.data);
    const logPath = log.transports.file.getFile().path;

    const root = packageRoot();
    const staticDir = await ensureRenderer(root);
    const controller = new Controller({ userDataDir, platform: headlessPlatform(log), log, logPath });
    await controller.start();
    const overrides: { dataDir?: string; backupDir?: string } = {};
    if (typeof values.data === 'string') overrides.dataDir = path.resolve(values.data);
    if (typeof values.out === 'string') overrides.backupDir = path.resolve(values.out);
    if (overrides.dataDir || overrides.backupDir) await controller.updateSettings({ ...controller.getSettings(), ...overrides });

    let bridge;
    try {
      bridge = await startHttpBridge({ handlers: createHandlers(controller), events: controller, staticDir, log, port });
    } catch (error) {
      await controller.shutdown();
      throw new CliError(`Cannot listen on 127.0.0.1:${port} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Choose another --port.`);
    }
    process.stdout.write(`${bridge.url}\n`);

    const stopped = new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info(`${signal}: stopping (a running backup is cancelled and cleaned up)`);
        void Promise.all([controller.shutdown().then(stopJobWorker), bridge.close()]).then(() => resolve());
      };
      // A requested stop, from a terminal (SIGINT, SIGHUP) or a service manager (SIGTERM), ends with 0.
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => stop(signal));
    });
    await stopped;
    return 0;
  },
};
