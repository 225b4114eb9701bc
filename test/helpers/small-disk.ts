import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { collect, TSX_LOADER, ROOT } from './run-cli.js';

/**
 * Runs an ES module script (TypeScript imports allowed, through tsx) with a disk of its own: a tmpfs of
 * `sizeMB` mounted at `mountPoint` in a private mount namespace (unshare), which nothing else on the
 * machine writes to or sees, and which is gone when the script ends. The script gets the mount point
 * and `args` in process.argv (from index 1) and prints its findings as one JSON line on stdout.
 */
export async function onSmallDisk<T>(sizeMB: number, mountPoint: string, script: string, args: string[] = []): Promise<T> {
  mkdirSync(mountPoint, { recursive: true });
  const mountThenRun = `mount -t tmpfs -o size=${sizeMB}m tmpfs "$1" && shift && exec "$@"`;
  const child = spawn(
    'unshare',
    ['-rm', 'sh', '-c', mountThenRun, 'sh', mountPoint, process.execPath, '--import', TSX_LOADER, '--input-type=module', '-e', script, mountPoint, ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const run = await collect(child);
  if (run.code !== 0) throw new Error(`the script on the small disk failed (${run.signal ?? `exit code ${run.code}`}):\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as T;
}
