export interface ToolSummary {
  /** Median over the runs. */
  wallS: number;
  minWallS: number;
  maxWallS: number;
  /** Data directory bytes (MiB) per second of median wall time (an off-site copy: the backup's bytes). */
  throughputMBs: number;
  cpuS: number;
  /** Highest over the runs. */
  peakRssMB: number;
  /** Bytes the backup (or repository) takes; null for restores and the read floor. */
  sizeBytes: number | null;
  /** Ours only: the engine call alone (what the desktop app, engine already loaded, pays) … */
  engineWallS?: number;
  /** … and the process start-up before it (Node, loading the bundle; a CLI run pays it). */
  startupS?: number;
  /** … and the CPU time of that start-up. */
  startupCpuS?: number;
  samples: Array<{ wallS: number; cpuS: number; peakRssMB: number }>;
}

export interface BenchResult {
  machine: {
    /** The git commit measured (engine code as it was then). */
    commit: string | null;
    cores: number;
    cpuModel: string;
    memoryGiB: number;
    disk: string;
    node: string;
    uvThreadpoolSize: number;
    restic: string | null;
    gzip: string;
    /** 1-minute load average when the bench started and ended: other work on the machine skews wall times. */
    loadAverage: { before: number; after: number };
    /** Niceness every measured process ran at (--nice). */
    niceness: number;
  };
  sizeMiB: number;
  dataBytes: number;
  cache: 'warm' | 'cold';
  runs: number;
  tools: Record<string, ToolSummary>;
  ours?: {
    eventLoopP99Ms: number;
    eventLoopMaxMs: number;
    eventLoopP99WithWriterMs: number | null;
    /** The desktop app's main thread during a backup run through its controller (the engine in its job worker). */
    appEventLoop: { p50Ms: number; p99Ms: number; maxMs: number } | null;
    memoryAtPeakMB: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
    phasesMs: Record<string, number>;
    phasesCpuMs: Record<string, number>;
    restorePhasesMs: Record<string, number>;
    restorePhasesCpuMs: Record<string, number>;
  };
  writer?: {
    rate: number;
    aloneWritesPerS: number;
    /** During our backup at the same priority … */
    duringWritesPerS: number;
    keptPercent: number;
    /** … and with our backup at nice +10, as a nightly job beside a PDS can be run. */
    duringLowPriorityWritesPerS: number;
    keptPercentLowPriority: number;
    busyErrors: number;
  };
  ratios?: Record<string, number | null>;
  targets?: Array<{ target: string; measured: string; met: boolean | null }>;
}

const MiB = 1024 * 1024;

/** Adds the ratios and the targets to the result (in place) and prints everything as a table. */
export function printTable(result: BenchResult, print: (line: string) => void): void {
  const t = result.tools;
  const ratio = (a?: ToolSummary, b?: ToolSummary) => (a && b ? a.wallS / b.wallS : null);
  const engineRatio = (a?: ToolSummary, b?: ToolSummary) => (a?.engineWallS !== undefined && b ? a.engineWallS / b.wallS : null);
  result.ratios = {
    'ours backup / guide backup': ratio(t['ours backup'], t['guide backup']),
    'ours backup / restic first backup': ratio(t['ours backup'], t['restic backup (first)']),
    'ours backup / read floor': ratio(t['ours backup'], t['read floor']),
    'ours backup / copy floor': ratio(t['ours backup'], t['copy floor']),
    'ours restore / guide restore': ratio(t['ours restore'], t['guide restore']),
    'ours restore / restic restore': ratio(t['ours restore'], t['restic restore']),
    'ours backup CPU / guide backup CPU': t['ours backup'] && t['guide backup'] ? t['ours backup'].cpuS / t['guide backup'].cpuS : null,
    'ours backup CPU / restic first CPU': t['ours backup'] && t['restic backup (first)'] ? t['ours backup'].cpuS / t['restic backup (first)'].cpuS : null,
    'ours backup engine-only / guide backup': engineRatio(t['ours backup'], t['guide backup']),
    'ours backup engine-only / restic first': engineRatio(t['ours backup'], t['restic backup (first)']),
    'ours backup engine-only / read floor': engineRatio(t['ours backup'], t['read floor']),
    'ours restore engine-only / guide restore': engineRatio(t['ours restore'], t['guide restore']),
    'ours backup encrypted / plain': ratio(t['ours backup, encrypted (age)'], t['ours backup']),
    'ours restore encrypted / plain': ratio(t['ours restore, encrypted (age)'], t['ours restore']),
    'ours second (incremental) / restic second': ratio(t['ours backup (second, incremental)'], t['restic backup (second)']),
    'ours second (incremental) / ours full': ratio(t['ours backup (second, incremental)'], t['ours backup']),
    'ours second (incremental) bytes / ours full bytes':
      t['ours backup (second, incremental)']?.sizeBytes && t['ours backup']?.sizeBytes ? t['ours backup (second, incremental)'].sizeBytes / t['ours backup'].sizeBytes : null,
    'ours restore newest of 7 incrementals / ours restore': ratio(t['ours restore (newest of 7 incrementals)'], t['ours restore']),
  };
  const r = result.ratios;
  const fmt = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? 'n/a' : x.toFixed(digits));
  const w = result.writer;
  const peak = Math.max(t['ours backup']?.peakRssMB ?? 0, t['ours restore']?.peakRssMB ?? 0, t['ours backup + writer']?.peakRssMB ?? 0);
  result.targets = [
    { target: 'backup ≤ 0.3 × guide pipeline', measured: fmt(r['ours backup / guide backup']), met: lte(r['ours backup / guide backup'], 0.3) },
    { target: 'backup faster than restic first backup', measured: fmt(r['ours backup / restic first backup']), met: lte(r['ours backup / restic first backup'], 1) },
    { target: 'backup within 2× read floor', measured: fmt(r['ours backup / read floor']), met: lte(r['ours backup / read floor'], 2) },
    { target: 'restore ≤ 0.5 × guide pipeline', measured: fmt(r['ours restore / guide restore']), met: lte(r['ours restore / guide restore'], 0.5) },
    { target: 'encrypted backup ≤ 1.15 × plain', measured: fmt(r['ours backup encrypted / plain']), met: lte(r['ours backup encrypted / plain'], 1.15) },
    { target: 'encrypted restore ≤ 1.15 × plain', measured: fmt(r['ours restore encrypted / plain']), met: lte(r['ours restore encrypted / plain'], 1.15) },
    { target: 'second backup (incremental) ≤ 1.5 × restic second', measured: fmt(r['ours second (incremental) / restic second']), met: lte(r['ours second (incremental) / restic second'], 1.5) },
    { target: 'second backup (incremental) ≤ 0.2 × our full', measured: fmt(r['ours second (incremental) / ours full']), met: lte(r['ours second (incremental) / ours full'], 0.2) },
    { target: 'second backup writes ≤ 5 % of the full', measured: fmt(r['ours second (incremental) bytes / ours full bytes'], 4), met: lte(r['ours second (incremental) bytes / ours full bytes'], 0.05) },
    { target: 'restore of newest of 7 incrementals ≤ 1.2 × full restore', measured: fmt(r['ours restore newest of 7 incrementals / ours restore']), met: lte(r['ours restore newest of 7 incrementals / ours restore'], 1.2) },
    { target: `peak RSS < 200 MB at ${result.sizeMiB} MiB`, measured: `${peak.toFixed(0)} MB`, met: peak > 0 ? peak < 200 : null },
    { target: 'writer keeps ≥ 90% throughput', measured: w ? `${w.keptPercent.toFixed(1)} %` : 'n/a', met: w ? w.keptPercent >= 90 : null },
    { target: '… with our backup at nice +10', measured: w ? `${w.keptPercentLowPriority.toFixed(1)} %` : 'n/a', met: w ? w.keptPercentLowPriority >= 90 : null },
    { target: 'writer sees no SQLITE_BUSY', measured: w ? String(w.busyErrors) : 'n/a', met: w ? w.busyErrors === 0 : null },
  ];

  const m = result.machine;
  print('');
  print(`Aurora Locus Backup benchmark: ${(result.dataBytes / MiB).toFixed(0)} MiB data directory, ${result.runs} runs, ${result.cache} page cache`);
  print(`Commit ${m.commit ?? 'unknown'}. Machine: ${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB} GiB RAM, disk ${m.disk}, Node ${m.node}, ${m.restic ?? 'no restic'}`);
  print(`Load average (1 min) before/after: ${m.loadAverage.before.toFixed(1)} / ${m.loadAverage.after.toFixed(1)}, niceness ${m.niceness}${m.loadAverage.before > m.cores / 2 ? ' — the machine was busy with other work: compare CPU s, and wall times only side by side' : ''}`);
  print('');
  const header = ['', 'wall s (min–max)', 'engine s', 'MiB/s', 'CPU s', 'peak RSS MB', 'size MiB'];
  const rows = Object.entries(t).map(([name, s]) => [
    name,
    `${s.wallS.toFixed(2)} (${s.minWallS.toFixed(2)}–${s.maxWallS.toFixed(2)})`,
    s.engineWallS === undefined ? '' : s.engineWallS.toFixed(2),
    s.throughputMBs.toFixed(0),
    s.cpuS.toFixed(2),
    s.peakRssMB.toFixed(0),
    s.sizeBytes === null ? '' : (s.sizeBytes / MiB).toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  print(line(header));
  for (const row of rows) print(line(row));
  print('');
  for (const [name, value] of Object.entries(r)) print(`${name.padEnd(42)} ${fmt(value)}`);
  print('');
  const o = result.ours;
  if (o) {
    print(`our event-loop delay during backup: p99 ${o.eventLoopP99Ms} ms (max ${o.eventLoopMaxMs} ms)` + (o.eventLoopP99WithWriterMs === null ? '' : `; with the writer running: p99 ${o.eventLoopP99WithWriterMs} ms`));
    if (o.appEventLoop) print(`desktop app main thread during a backup (engine in its job worker): p99 ${o.appEventLoop.p99Ms} ms (max ${o.appEventLoop.maxMs} ms)`);
    const m2 = o.memoryAtPeakMB;
    print(`our memory at peak RSS (MB): rss ${m2.rss}, JS heap used ${m2.heapUsed}, external ${m2.external} (array buffers ${m2.arrayBuffers})`);
    const phases = (wall: Record<string, number>, cpu: Record<string, number>) =>
      Object.entries(wall).map(([k, v]) => `${k} ${v}/${cpu[k] ?? 0}`).join(', ');
    print(`our backup phases (median wall ms/CPU ms): ${phases(o.phasesMs, o.phasesCpuMs)}`);
    print(`our restore phases (median wall ms/CPU ms): ${phases(o.restorePhasesMs, o.restorePhasesCpuMs)}`);
    print(`engine s = the backup/restore call alone; wall s adds process start-up: ${(t['ours backup']?.startupS ?? 0).toFixed(2)} s (${(t['ours backup']?.startupCpuS ?? 0).toFixed(2)} s CPU)`);
  }
  if (w) {
    print(
      `writer at ${w.rate}/s: ${w.aloneWritesPerS.toFixed(0)} writes/s alone, ` +
        `${w.duringWritesPerS.toFixed(0)} during our backup (${w.keptPercent.toFixed(1)} %), ` +
        `${w.duringLowPriorityWritesPerS.toFixed(0)} during our backup at nice +10 (${w.keptPercentLowPriority.toFixed(1)} %), SQLITE_BUSY: ${w.busyErrors}`,
    );
  }
  print('');
  print('Targets:');
  for (const x of result.targets) print(`  ${x.met === null ? '?' : x.met ? '✓' : '✗'} ${x.target.padEnd(42)} ${x.measured}`);
}

function lte(value: number | null | undefined, limit: number): boolean | null {
  return value === null || value === undefined ? null : value <= limit;
}
