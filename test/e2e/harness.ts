import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ApiName, ApiOutputs, BackupSummary } from '../../shared/api.js';
import type { BridgeResponse } from '../../shared/http-bridge.js';
import { FaultPause } from '../helpers/fault-pause.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'node_modules', '.bin');
/** npm scripts run on the pinned Node 22 in node_modules/.bin. */
const ENV = { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ''}` };
const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');
/** Debian's Chromium (apt-get install chromium); CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

const run = promisify(execFile);

/** `npm run cli -- <args>`, failing with its output when it fails. */
export async function cli(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('npm', ['run', '-s', 'cli', '--', ...args], { cwd: ROOT, env: ENV, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm run cli -- ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

const newestMtime = (dir: string): number =>
  Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs;
    }),
  );

/**
 * Builds dist/renderer when it is older than renderer/ or shared/, so the tests drive the current code.
 * Test files run in parallel workers: a lock directory keeps them from building over each other, and the
 * build goes to a temp folder swapped in at the end, so a running `serve` never sees a half-built folder.
 */
async function ensureRendererBuilt(): Promise<void> {
  const dist = path.join(ROOT, 'dist');
  const target = path.join(dist, 'renderer');
  const fresh = () => {
    const built = statSync(path.join(target, 'index.html'), { throwIfNoEntry: false });
    return built !== undefined && built.mtimeMs >= Math.max(newestMtime(path.join(ROOT, 'renderer')), newestMtime(path.join(ROOT, 'shared')));
  };
  if (fresh()) return;
  const lock = path.join(dist, '.renderer-build-lock');
  await mkdir(dist, { recursive: true });
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      // A stale lock (from a killed run) is older than any build takes.
      const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - since > 120_000) await rm(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    if (fresh()) return;
    const staging = path.join(dist, `.renderer-build-${process.pid}`);
    await run(path.join(BIN, 'vite'), ['build', '--config', 'renderer/vite.config.ts', '--outDir', staging, '--logLevel', 'error'], { cwd: ROOT, env: ENV });
    const old = `${target}-old-${process.pid}`;
    if (existsSync(target)) await rename(target, old);
    await rename(staging, target);
    await rm(old, { recursive: true, force: true });
  } finally {
    await rmdir(lock);
  }
}

/** Starts a backup through the API and waits until it has finished and is listed as complete. */
export async function backUp(app: App): Promise<BackupSummary> {
  const before = new Set((await app.api('listBackups')).map((b) => b.name));
  const answer = await app.api('startBackup');
  if (!answer.started) throw new Error(`The backup did not start: ${answer.reason}`);
  for (let waited = 0; (await app.api('getStatus')).state === 'running'; waited += 250) {
    if (waited > 90_000) throw new Error('The backup did not finish within 90 s.');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const made = (await app.api('listBackups')).find((b) => !before.has(b.name));
  if (made?.status !== 'complete') throw new Error(`The backup did not complete: ${JSON.stringify((await app.api('getStatus')).lastRun)}`);
  return made;
}

/** Shows a view the way a click in the sidebar does. */
export async function openView(page: Page, label: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: label, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: label }).waitFor();
}

export interface App {
  dir: string;
  dataDir: string;
  backupDir: string;
  userDir: string;
  url: string;
  page: Page;
  /** Uncaught errors in the page and CSP violations: a test expects none. */
  pageErrors: string[];
  /** Holds the app's backups once their databases are archived (`hold()` first), so a test sees them running. */
  backupPause: FaultPause;
  /** Calls the real API the window uses, for setting up a test (not for what the test checks). */
  api<N extends ApiName>(name: N, input?: unknown): Promise<ApiOutputs[N]>;
  /** Into test-results/screenshots/; `fullPage` takes the whole page rather than the window. */
  screenshot(name: string, opts?: { fullPage?: boolean }): Promise<string>;
  /** Stops `aurora-backup serve` only, as when the server goes away under an open window. */
  stopServer(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A temp folder with a generated PDS data directory, `aurora-backup serve` on it, and Chromium showing
 * the window through the HTTP bridge.
 */
export async function startApp(opts: { accounts?: number; blobMB?: number; /** More environment for serve. */ env?: Record<string, string> } = {}): Promise<App> {
  if (!existsSync(CHROMIUM)) throw new Error(`The window tests need Chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH.`);
  await ensureRendererBuilt();
  const dir = await mkdtemp(path.join(tmpdir(), 'aurora-e2e-'));
  const dataDir = path.join(dir, 'data');
  const backupDir = path.join(dir, 'backups');
  const userDir = path.join(dir, 'user');
  const backupPause = new FaultPause('backup:archiving', dir);
  await cli('fixture', dataDir, '--accounts', String(opts.accounts ?? 5), '--blob-mb', String(opts.blobMB ?? 5));

  // Its own process group, so stopping it also stops what npm and tsx start under it.
  const server = spawn('npm', ['run', '-s', 'cli', '--', 'serve', '--port', '0', '--data', dataDir, '--out', backupDir, '--user-data', userDir], {
    cwd: ROOT,
    env: { ...ENV, ...backupPause.env, ...opts.env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  server.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8000)));
  const url = await firstUrl(server, () => stderr);
  let stopping = false;
  server.once('exit', (code, signal) => {
    if (!stopping) console.error(`aurora-backup serve exited unexpectedly (${signal ?? `code ${code}`}); its last output:\n${stderr}`);
  });
  const origin = new URL(url).origin;
  const token = new URL(url).searchParams.get('token')!;

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // The strict CSP must hold: anything it refuses is an error too.
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/.test(message.text())) pageErrors.push(message.text());
  });
  await page.goto(url);

  return {
    dir,
    dataDir,
    backupDir,
    userDir,
    url,
    page,
    pageErrors,
    backupPause,
    async api(name, input) {
      const response = await fetch(`${origin}/api/${name}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify({ input }),
      });
      const body = (await response.json()) as BridgeResponse<never>;
      if (!body.ok) throw new Error(`${name}: ${body.error}`);
      return body.value;
    },
    async screenshot(name, opts) {
      await mkdir(SCREENSHOTS, { recursive: true });
      const file = path.join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: opts?.fullPage ?? false });
      return file;
    },
    async stopServer() {
      stopping = true;
      await stopProcessGroup(server);
    },
    async stop() {
      stopping = true;
      await browser.close().catch(() => {});
      await stopProcessGroup(server);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Waits for the one line serve prints on stdout: the URL with its token. */
function firstUrl(server: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: server.stdout! });
    const timer = setTimeout(() => reject(new Error(`serve printed no URL within 60 s:\n${stderr()}`)), 60_000);
    lines.on('line', (line) => {
      if (!/^http:\/\/127\.0\.0\.1:\d+\/\?token=/.test(line)) return;
      clearTimeout(timer);
      resolve(line.trim());
    });
    server.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with code ${code} before printing its URL:\n${stderr()}`));
    });
  });
}

async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const group = -child.pid;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(group, name);
    } catch {
      // The group is gone already.
    }
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
