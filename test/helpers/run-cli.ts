import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = path.resolve(import.meta.dirname, '../..');
/**
 * Runs the CLI as `npm run cli --` does (tsx on electron/cli/main.ts), on the Node running the tests.
 * tsx is loaded with --import so that the child's pid is the CLI itself: signals and kill -9 reach it.
 */
export const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
// `--`: Node 22 would otherwise read the CLI's own --env-file itself (bin/aurora-backup.mjs does the same).
export const CLI_COMMAND = [process.execPath, '--import', TSX_LOADER, '--', path.join(ROOT, 'electron/cli/main.ts')];

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `aurora-backup <args>` as a child process (for tests that signal or kill it). */
export function startCli(args: string[], opts: SpawnOptions = {}): ChildProcess {
  const [node, ...rest] = CLI_COMMAND;
  return spawn(node!, [...rest, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** Collects a started CLI's output until it exits. */
export function collect(child: ChildProcess): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d));
  child.stderr?.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs `aurora-backup <args>` to the end. `env` replaces the environment (PATH etc. are kept). */
export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, ...opts.env };
  return collect(startCli(args, { cwd: opts.cwd ?? ROOT, env }));
}
