// Runs our backup or restore in a process of its own, so that the benchmark measures its peak RSS and
// CPU time exactly as it measures the shell tools'. Prints one JSON line: duration, size, p99
// event-loop delay and how long each phase took. The bench runs it bundled as the CLI is (ours.mjs):
//   node ours.mjs backup <dataDir> <backupDir> [full|incremental]
//   node ours.mjs restore <backupPath> <targetDataDir> <preRestoreBackupDir>
//   node ours.mjs copy <backupPath> <targetSpecJson> <knownHostsFile>   (an off-site copy)
// (`node --import tsx bench/ours.ts …` runs it from the sources.)
// With AURORA_BENCH_AGE_IDENTITY=AGE-SECRET-KEY-1… the backup is encrypted to its public key and the
// restore decrypts with it (the encrypted rows).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Progress } from '../shared/progress.js';
import type { TargetSpec } from '../shared/targets.js';

export interface OursReport {
  /** From process start until the engine is loaded (Node's own start-up, then loading the bundle). */
  startupMs: number;
  /** CPU milliseconds (all threads) used by then. */
  startupCpuMs: number;
  /** The backup or restore call itself, as the desktop app (engine already loaded) pays it. */
  durationMs: number;
  backupPath?: string;
  /** Bytes of the backup written, or sent by a copy. */
  size?: number;
  eventLoop: { p50Ms: number; p99Ms: number; maxMs: number };
  /** process.memoryUsage() (MB) at the moment RSS peaked, sampled every 50 ms: where the memory is. */
  memoryAtPeakMB: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
  /** Milliseconds spent in each progress phase, in the order they came … */
  phases: Record<string, number>;
  /** … and the CPU milliseconds (all threads: main, thread pool, workers) the process used in each. */
  phasesCpu: Record<string, number>;
}

const [mode, first, second, third] = process.argv.slice(2);
const phases: Record<string, number> = {};
const phasesCpu: Record<string, number> = {};
let phase: string | null = null;
let phaseStart = performance.now();
let phaseCpu = process.cpuUsage();
const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};
/** Phases, with the archive being written or unpacked split out: `archiving:blobs.tar.gz`, … */
const onProgress = (p: Progress) => {
  const split = (p.phase === 'archiving' || p.phase === 'unpacking') && p.current;
  const key = split ? `${p.phase}:${p.current!.split('/')[0]}` : p.phase;
  if (key === phase) return;
  const now = performance.now();
  if (phase) {
    phases[phase] = (phases[phase] ?? 0) + now - phaseStart;
    phasesCpu[phase] = (phasesCpu[phase] ?? 0) + cpuMs(phaseCpu);
  }
  phase = key;
  phaseStart = now;
  phaseCpu = process.cpuUsage();
};

const usage = 'usage: ours.ts backup <dataDir> <backupDir> [full|incremental] | restore <backupPath> <targetDir> <preRestoreDir> | copy <backupPath> <targetSpecJson> <knownHostsFile>';
if (!(mode === 'backup' && first && second) && !((mode === 'restore' || mode === 'copy') && first && second && third)) {
  console.error(usage);
  process.exit(2);
}
// Only what the mode needs, as the CLI loads only the command it runs (the bench bundles this file split
// as the CLI is: a backup does not read the off-site targets' code).
const engine =
  mode === 'backup'
    ? { backup: await import('../electron/engine/backup.js') }
    : mode === 'restore'
      ? { restore: await import('../electron/engine/restore.js') }
      : {
          copy: await import('../electron/engine/targets/copy.js'),
          open: await import('../electron/engine/targets/open.js'),
          knownHosts: await import('../electron/engine/targets/known-hosts.js'),
        };
const identity = process.env.AURORA_BENCH_AGE_IDENTITY;
const { recipientOf } = await import('../electron/engine/crypto/keys.js');
const startupMs = performance.now();
const startupCpuMs = cpuMs({ user: 0, system: 0 });
const encryption = identity ? { kind: 'recipients' as const, recipients: [await recipientOf(identity)] } : null;
const decryption = identity ? { identities: [identity] } : undefined;

// The histogram counts the timer's own interval too: sample every 1 ms and subtract that interval.
const RESOLUTION_MS = 1;
const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
let peak = process.memoryUsage();
const sampler = setInterval(() => {
  const now = process.memoryUsage();
  if (now.rss > peak.rss) peak = now;
}, 50);
delay.enable();
const started = performance.now();
let extra: Partial<OursReport> = {};
if (engine.backup) {
  const result = await engine.backup.runBackup({ dataDir: first!, backupDir: second!, env: {}, retention: null, onProgress, encryption, kind: third === 'incremental' ? 'incremental' : 'full' });
  extra = { backupPath: result.path, size: result.size };
} else if (engine.copy) {
  const target = engine.open.openTarget(JSON.parse(second!) as TargetSpec, { knownHosts: new engine.knownHosts.KnownHosts(third!), env: process.env });
  const result = await engine.copy.copyBackup({ backupPath: first!, target, onProgress });
  await target.close();
  extra = { size: result.uploadedBytes };
} else {
  await engine.restore!.restoreBackup({ backupPath: first!, dataDir: second!, backupDir: third!, env: {}, onProgress, decryption });
}
const durationMs = performance.now() - started;
delay.disable();
clearInterval(sampler);
const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
if (phase) {
  phases[phase] = (phases[phase] ?? 0) + performance.now() - phaseStart;
  phasesCpu[phase] = (phasesCpu[phase] ?? 0) + cpuMs(phaseCpu);
}
const ms = (ns: number) => Math.max(0, Math.round(ns / 1e4) / 100 - RESOLUTION_MS);
const report: OursReport = {
  startupMs,
  startupCpuMs,
  durationMs,
  ...extra,
  eventLoop: { p50Ms: ms(delay.percentile(50)), p99Ms: ms(delay.percentile(99)), maxMs: ms(delay.max) },
  memoryAtPeakMB: { rss: mb(peak.rss), heapUsed: mb(peak.heapUsed), external: mb(peak.external), arrayBuffers: mb(peak.arrayBuffers) },
  phases,
  phasesCpu,
};
console.log(JSON.stringify(report));
