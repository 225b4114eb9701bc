import { setFlagsFromString } from 'node:v8';

/**
 * Runs `work` with V8 letting its heap grow 5× between full collections instead of its tight default.
 * Unpacking a gigabyte churns through a gigabyte of short-lived buffers, and with the default the
 * collector ran a full mark-compact every 50 ms: 88 of them, a third of a restore's CPU. With this,
 * 2, and the same peak RSS (bench: restore 7.4 s → 4.8 s). The flag is process-wide, so it is put back
 * afterwards. Not used for backups, which hold more in flight: there 400 % saved 18 % of the time but
 * took peak RSS past the 200 MB budget (+20 MB), and 250 % saved 5 % at 1 GB, nothing at 5 GB.
 */
export async function withRoomyHeap<T>(work: () => Promise<T>): Promise<T> {
  setFlagsFromString('--heap-growing-percent=400');
  try {
    return await work();
  } finally {
    setFlagsFromString('--heap-growing-percent=0'); // V8's default: its own adaptive factor
  }
}
