import { readdirSync } from 'node:fs';
import os from 'node:os';

/**
 * Lowers this process's CPU priority so the PDS it backs up keeps the CPU. Measured with the bench
 * (1 GB, 2 cores): a PDS writer keeps 96 % of its throughput instead of 86 %, and the backup takes 5 % longer.
 * Linux keeps a priority per thread, so every existing thread (the thread pool that compresses included)
 * is lowered; threads started later inherit it. Where this is not permitted, nothing changes.
 */
export function yieldCpuToPds(): void {
  const below = os.constants.priority.PRIORITY_BELOW_NORMAL;
  try {
    os.setPriority(0, below);
    if (process.platform === 'linux') {
      for (const thread of readdirSync('/proc/self/task')) os.setPriority(Number(thread), below);
    }
  } catch {
    // Not allowed here (some containers, some Windows policies): back up at normal priority.
  }
}
