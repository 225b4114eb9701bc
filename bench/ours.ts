// Runs our backup or restore in a process of its own, so that the benchmark measures its peak RSS and
// CPU time exactly as it measures the shell tools'. Prints one JSON line: duration, size, p99
// event-loop delay and how long each phase took.
//   node --import tsx bench/ours.ts backup <dataDir> <backupDir>
//   node --import tsx bench/ours.ts restore <backupPath> <targetDataDir> <preRestoreBackupDir>
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Progress } from '../shared/progress.js';

export interface OursReport {
  durationMs: number;
  backupPath?: string;
  size?: number;
  eventLoop: { p50Ms: number; p99Ms: number; maxMs: number };
  /** Milliseconds spent in each progress phase, in the order they came. */
  phases: Record<string, number>;
}

const [mode, first, second, third] = process.argv.slice(2);
const phases: Record<string, number> = {};
let phase: string | null = null;
let phaseStart = performance.now();
const onProgress = (p: Progress) => {
  if (p.phase === phase) return;
  const now = performance.now();
  if (phase) phases[phase] = (phases[phase] ?? 0) + now - phaseStart;
  phase = p.phase;
  phaseStart = now;
};

// The histogram counts the timer's own interval too: sample every 1 ms and subtract that interval.
const RESOLUTION_MS = 1;
const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
delay.enable();
const started = performance.now();
let extra: Partial<OursReport> = {};
if (mode === 'backup' && first && second) {
  const { runBackup } = await import('../electron/engine/backup.js');
  const result = await runBackup({ dataDir: first, backupDir: second, env: {}, retention: null, onProgress });
  extra = { backupPath: result.path, size: result.size };
} else if (mode === 'restore' && first && second && third) {
  const { restoreBackup } = await import('../electron/engine/restore.js');
  await restoreBackup({ backupPath: first, dataDir: second, backupDir: third, env: {}, onProgress });
} else {
  console.error('usage: ours.ts backup <dataDir> <backupDir> | restore <backupPath> <targetDir> <preRestoreDir>');
  process.exit(2);
}
const durationMs = performance.now() - started;
delay.disable();
if (phase) phases[phase] = (phases[phase] ?? 0) + performance.now() - phaseStart;
const ms = (ns: number) => Math.max(0, Math.round(ns / 1e4) / 100 - RESOLUTION_MS);
const report: OursReport = {
  durationMs,
  ...extra,
  eventLoop: { p50Ms: ms(delay.percentile(50)), p99Ms: ms(delay.percentile(99)), maxMs: ms(delay.max) },
  phases,
};
console.log(JSON.stringify(report));
