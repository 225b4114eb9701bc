import { readdirSync, readFileSync } from 'node:fs';

/**
 * Each thread of a process (Linux), with its name and nice value. A thread that ends between the listing
 * and its read (a worker finishing, a pool thread retiring) is left out rather than failing the test.
 */
export function threadsOf(pid: number | 'self'): Array<{ tid: string; name: string; nice: number }> {
  const threads = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      threads.push({ tid, name, nice: Number(stat.split(') ')[1]!.split(' ')[16]) });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
  return threads;
}
