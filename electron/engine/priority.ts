import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';

/**
 * Lowers this process's CPU priority so the PDS it backs up keeps the CPU. Measured with the bench
 * (1 GB, 2 cores): a PDS writer keeps 96 % of its throughput instead of 86 %, and the backup takes 5 % longer.
 * Linux keeps a priority per thread, so every existing thread (the thread pool that compresses included)
 * is lowered; threads started later inherit it. Where this is not permitted, nothing changes.
 * A process started at an even lower priority (`nice -n 15`, systemd's `Nice=`) keeps it.
 */
export function yieldCpuToPds(): void {
  try {
    lower(0);
    if (process.platform === 'linux') eachThread((thread) => lower(thread));
  } catch {
    // Not allowed here (some containers, some Windows policies): back up at normal priority.
  }
}

/**
 * The same for a worker thread that runs jobs inside an app whose main thread must stay responsive
 * (the desktop app's job worker): on Linux this thread and libuv's pool threads (which compress and
 * write) are lowered, and threads this one starts later (the SQLite snapshot workers) inherit it;
 * the app's main thread keeps its priority. Elsewhere a priority is per process, so nothing changes.
 */
export function yieldWorkerCpuToPds(): void {
  if (process.platform !== 'linux') return;
  try {
    lower(Number(readlinkSync('/proc/thread-self').split('/').at(-1)));
    eachThread((thread) => {
      if (readFileSync(`/proc/self/task/${thread}/comm`, 'utf8').trim() === 'libuv-worker') lower(thread);
    });
  } catch {
    // Not allowed here: jobs run at normal priority.
  }
}

/** Acts on each thread of this process; one that ends meanwhile (a worker finishing) is skipped, not the rest. */
function eachThread(act: (thread: number) => void): void {
  for (const thread of readdirSync('/proc/self/task')) {
    try {
      act(Number(thread));
    } catch (error) {
      if (existsSync(`/proc/self/task/${thread}`)) throw error;
    }
  }
}

/** Below normal, never above what the thread already has (a higher nice value is a lower priority). */
function lower(thread: number): void {
  const below = os.constants.priority.PRIORITY_BELOW_NORMAL;
  if (os.getPriority(thread) < below) os.setPriority(thread, below);
}
