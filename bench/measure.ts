import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** What one run of one tool cost, as the kernel counted it for the process tree. */
export interface Measured {
  wallS: number;
  /** user + system CPU of the process and every child it waited for. */
  cpuS: number;
  /** Largest resident set of any single process in the tree (GNU time's %M), in MB. */
  peakRssMB: number;
  stdout: string;
}

const GNU_TIME = '/usr/bin/time';

export function assertGnuTime(): void {
  if (!existsSync(GNU_TIME)) {
    throw new Error(`${GNU_TIME} (GNU time) is needed to measure peak memory and CPU: install it with "apt-get install time" (Debian/Ubuntu) or "dnf install time".`);
  }
}

/** Runs `argv` under GNU time and returns its wall time, CPU time and peak RSS; throws on a non-zero exit. */
export async function measure(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Measured> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'bench-time-'));
  const timeFile = path.join(scratch, 'time');
  try {
    const started = process.hrtime.bigint();
    const { code, stdout, stderr } = await run([GNU_TIME, '-f', '%M %U %S', '-o', timeFile, ...argv], opts);
    const wallS = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) throw new Error(`${argv.join(' ')} exited with ${code}:\n${stderr.slice(-2000)}`);
    const [rssKB, user, sys] = (await readFile(timeFile, 'utf8')).trim().split('\n').at(-1)!.split(' ').map(Number);
    return { wallS, cpuS: user! + sys!, peakRssMB: rssKB! / 1024, stdout };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export function run(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export async function sh(script: string, opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string> {
  const { code, stdout, stderr } = await run(['bash', '-c', `set -euo pipefail\n${script}`], opts);
  if (code !== 0) throw new Error(`shell step failed (${code}): ${script}\n${stderr.slice(-2000)}`);
  return stdout;
}

export async function commandExists(name: string): Promise<boolean> {
  return (await run(['bash', '-c', `command -v ${name}`])).code === 0;
}

/** Bytes of all regular files below `dir` (what `du -sb` would say, without directory blocks). */
export async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/**
 * Brings the page cache to a known state before a measured run: `warm` reads every byte once
 * (so every tool starts with the data in memory), `cold` flushes and then evicts each file with
 * posix_fadvise(DONTNEED) through `dd iflag=nocache` (works without root, unlike drop_caches).
 */
export async function setCache(dirs: string[], mode: 'warm' | 'cold'): Promise<void> {
  const list = dirs.map((d) => `'${d.replaceAll("'", "'\\''")}'`).join(' ');
  // sync first in both modes: each tool starts without the previous one's gigabyte of unwritten pages,
  // which the kernel would otherwise write back during (and, for fsync, on behalf of) the next run.
  if (mode === 'warm') await sh(`sync; find ${list} -type f -print0 | xargs -0 -r cat > /dev/null`);
  else await sh(`sync; find ${list} -type f -print0 | xargs -0 -r -P 4 -I{} dd if={} iflag=nocache count=0 status=none`);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
