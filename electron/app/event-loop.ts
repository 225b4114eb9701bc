import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface EventLoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Runs `work` while sampling how late this thread's event loop is (perf_hooks.monitorEventLoopDelay).
 * A main process that stays responsive keeps p99 low (the goal during a 1 GB backup: under 50 ms). The
 * benchmark calls this around `controller.startBackup()`.
 */
export async function measureEventLoopDelay<T>(work: () => Promise<T>, resolutionMs = 10): Promise<{ result: T; delay: EventLoopDelay }> {
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  try {
    const result = await work();
    return { result, delay: { p50Ms: histogram.percentile(50) / 1e6, p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6 } };
  } finally {
    histogram.disable();
  }
}
