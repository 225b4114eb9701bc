import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { HistoryEntry } from '../../shared/api.js';
import { Controller } from './controller.js';
import type { Logger } from './log.js';
import { headlessPlatform } from './platform.js';

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

/**
 * One backup as the desktop app runs it (controller, retention, history, progress events), measured from
 * the app's own thread. For the benchmark: `measureAppBackup({ dataDir, backupDir, userDataDir })`.
 */
export async function measureAppBackup(opts: { dataDir: string; backupDir: string; userDataDir: string; log?: Logger }): Promise<{ entry: HistoryEntry; delay: EventLoopDelay; progressEvents: number }> {
  const log = opts.log ?? { info: () => {}, warn: () => {}, error: () => {} };
  const controller = new Controller({ userDataDir: opts.userDataDir, platform: headlessPlatform(log), log, logPath: path.join(opts.userDataDir, 'main.log'), checkEveryMs: 0 });
  await controller.start();
  await controller.updateSettings({ ...controller.getSettings(), dataDir: path.resolve(opts.dataDir), backupDir: path.resolve(opts.backupDir) });
  let progressEvents = 0;
  controller.on('progress', () => progressEvents++);
  try {
    const { result: entry, delay } = await measureEventLoopDelay(async () => {
      const started = await controller.startBackup('manual');
      if (!started.started) throw new Error(started.reason);
      return started.done;
    });
    return { entry, delay, progressEvents };
  } finally {
    await controller.shutdown();
  }
}
