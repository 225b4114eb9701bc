// npm run bench [-- --size 1GB] [--runs 4] [--json] [--cache warm|cold] [--dir DIR] [--writer-rate N]
// Generates a sample PDS data directory of the given size, then times, alternating and repeated: our
// backup and restore, the guide's shell pipeline, restic, and the read/copy floors; then a writer on
// the live databases alone and during our backup. Prints a table (and JSON with --json).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import type { TargetSpec } from '../shared/targets.js';
import { BUNDLES, bundle } from '../scripts/build.js';
import { runBackup } from '../electron/engine/backup.js';
import { generateKeyPair } from '../electron/engine/crypto/keys.js';
import { createFixture } from '../electron/engine/fixture.js';
import { S3_KEYS, startS3, startSshd } from '../test/helpers/offsite-servers.js';
import { assertGnuTime, commandExists, measure, median, run, setCache, sh, treeBytes, type Measured } from './measure.js';
import type { OursReport } from './ours.js';
import { COPY_FLOOR, GUIDE_BACKUP, GUIDE_RESTORE, READ_FLOOR, RESTIC_BACKUP, RESTIC_RESTORE } from './peers.js';
import { printTable, type BenchResult, type ToolSummary } from './report.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1GB' },
    runs: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
    cache: { type: 'string', default: 'warm' },
    dir: { type: 'string' },
    'writer-rate': { type: 'string', default: '200' },
    only: { type: 'string', default: 'ours,guide,restic,floors,writer,offsite' },
    nice: { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`npm run bench -- [--size 1GB|500MB|5GB] [--runs N] [--json] [--cache warm|cold] [--dir DIR] [--writer-rate N]
  --size         size of the generated PDS data directory (1 GB = 1024 MiB; default 1GB)
  --runs         repetitions of each measurement, alternating between tools (default 4: even, so that our plain
                 and encrypted rounds each go first as often)
  --json         print the results as JSON on stdout (the table goes to stderr)
  --cache        warm: every byte read once before each run; cold: evicted from the page cache (default warm)
  --dir          where the fixture and scratch files go (default $TMPDIR/aurora-bench; needs ~3x the size free)
  --only         which parts to run, comma-separated from: ours,guide,restic,floors,writer,offsite (default all)
  --nice         niceness for every measured process, e.g. --nice=-10 (root only) when other work shares the machine
  --writer-rate  transactions per second of the simulated PDS writer (default 200, the writer's own default)`);
  process.exit(0);
}

const sizeMiB = parseSize(values.size!);
const runs = positiveInt(values.runs!, '--runs');
const niceness = Number(values.nice);
if (!Number.isInteger(niceness) || niceness < -20 || niceness > 19) fail(`--nice must be a whole number from -20 to 19, not "${values.nice}"`);
const writerRate = positiveInt(values['writer-rate']!, '--writer-rate');
const cache = values.cache === 'cold' ? 'cold' : values.cache === 'warm' ? 'warm' : fail(`--cache must be warm or cold, not ${values.cache}`);
const only = new Set(values.only!.split(',').map((x) => x.trim()));
for (const part of only) if (!['ours', 'guide', 'restic', 'floors', 'writer', 'offsite'].includes(part)) fail(`--only: unknown part "${part}"`);
const workDir = path.resolve(values.dir ?? path.join(os.tmpdir(), 'aurora-bench'));
const log = (line: string) => process.stderr.write(`${line}\n`);

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(MB|MiB|M|GB|GiB|G)$/i.exec(text.trim());
  if (!match) fail(`--size must look like 500MB or 1GB, not "${text}"`);
  return Math.round(Number(match[1]) * (/^g/i.test(match[2]!) ? 1024 : 1));
}
function positiveInt(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`${name} must be a whole number of at least 1, not "${text}"`);
  return n;
}

/** A fixture shaped like a small community PDS: ~14% databases (about 1.4 MB per account), the rest media. */
async function ensureFixture(): Promise<string> {
  const dir = path.join(workDir, `fixture-${sizeMiB}MiB`);
  const dataDir = path.join(dir, 'data');
  const marker = path.join(dir, 'fixture.json');
  if (existsSync(marker)) {
    log(`Reusing the fixture in ${dataDir}`);
    return dataDir;
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const accounts = Math.max(10, Math.round(sizeMiB / 10));
  const posts = sizeMiB >= 100 ? 1000 : 100;
  const blobMB = Math.max(1, sizeMiB - accounts * (posts >= 1000 ? 1.4 : 0.15));
  log(`Generating a ${sizeMiB} MiB fixture (${accounts} accounts, ${posts} posts each, ${blobMB.toFixed(0)} MiB of blobs) in ${dataDir} …`);
  const started = performance.now();
  const result = await createFixture(dataDir, { accounts, posts, blobMB, seed: 'bench' });
  await writeFile(marker, JSON.stringify({ accounts, posts, blobMB, blobs: result.blobs }));
  log(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return dataDir;
}

/**
 * Our side runs as the built app and the installed CLI run it: plain JavaScript bundled by esbuild exactly
 * as `npm run build` bundles them (scripts/build.ts: every package inside except better-sqlite3, the
 * workers as bundles of their own beside the code that starts them; ours.mjs split into parts loaded on
 * demand, as cli.mjs is), with no TypeScript loader, so that
 * start-up and memory are what a user gets. Built at start into the work folder, which stands as an
 * installed package: a package.json (the engine reads its version from it) and the checkout's
 * node_modules linked beside the bundles, for better-sqlite3.
 */
async function buildOurs(): Promise<{ ours: string[]; app: string[] }> {
  const outDir = path.join(workDir, 'bundle');
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const workers = Object.fromEntries(Object.entries(BUNDLES).filter(([name]) => name.endsWith('-worker.mjs')));
  await bundle({ 'ours.mjs': 'bench/ours.ts', 'app-backup.mjs': 'bench/app-backup.ts', ...workers }, outDir, { quiet: true, split: ['ours.mjs'] });
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
  await writeFile(path.join(outDir, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, private: true, type: 'module' }));
  await symlink(path.join(ROOT, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
  return { ours: [process.execPath, path.join(outDir, 'ours.mjs')], app: [process.execPath, path.join(outDir, 'app-backup.mjs')] };
}
let nodeArgs: string[] = [];
let appArgs: string[] = [];
function oursReport(m: Measured): OursReport {
  return JSON.parse(m.stdout.trim().split('\n').at(-1)!) as OursReport;
}

/** Starts the simulated PDS writer and resolves once it is writing; `stop()` returns what it achieved. */
async function startWriter(dataDir: string) {
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'simulate-pds-writer.mjs'), dataDir, '--rate', String(writerRate)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => out.includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`the writer exited early (${code})`)));
  });
  return {
    stop: () =>
      new Promise<{ writes: number; busyErrors: number; seconds: number }>((resolve) => {
        child.removeAllListeners('exit');
        child.on('exit', () => resolve(JSON.parse(out.trim().split('\n').at(-1)!)));
        child.kill('SIGTERM');
      }),
  };
}

async function main() {
  assertGnuTime();
  // Children inherit the niceness of the thread that spawns them (the main thread), so every tool
  // is measured at the same priority.
  if (niceness !== 0) os.setPriority(niceness);
  const hasRestic = await commandExists('restic');
  if (!hasRestic) log('restic is not installed (apt-get install restic): its rows are left out.');
  await mkdir(workDir, { recursive: true });
  ({ ours: nodeArgs, app: appArgs } = await buildOurs());
  const dataDir = await ensureFixture();
  const dataBytes = await treeBytes(dataDir);
  const scratch = path.join(workDir, 'scratch');
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  const out = (name: string) => path.join(scratch, name);

  const samples: Record<string, Sample[]> = {};
  const reports: OursReport[] = [];
  const restoreReports: OursReport[] = [];
  /** `movedBytes`: what the tool's throughput is of (an off-site copy: the backup's bytes), else the data directory. */
  const record = (tool: string, m: Measured, sizeBytes?: number, ours?: OursReport, movedBytes?: number) => {
    (samples[tool] ??= []).push({ ...m, stdout: '', sizeBytes, engineS: ours && ours.durationMs / 1000, startupS: ours && ours.startupMs / 1000, startupCpuS: ours && ours.startupCpuMs / 1000, movedBytes });
    log(`  ${tool.padEnd(28)} ${m.wallS.toFixed(2).padStart(7)} s  ${m.peakRssMB.toFixed(0).padStart(5)} MB RSS  ${m.cpuS.toFixed(2).padStart(7)} s CPU`);
  };

  // Off-site copies of one backup of the fixture, made once: to s3rver and Debian's sshd on loopback.
  const offsite = only.has('offsite') ? await offsiteSetup(out) : null;

  const benchIdentity = (await generateKeyPair()).identity;
  const loadBefore = os.loadavg()[0]!;
  for (let r = 1; r <= runs; r++) {
    log(`Run ${r} of ${runs} (${cache} cache)`);

    if (only.has('ours')) {
      // The plain and the encrypted rounds take turns going first: what ran just before a measurement (the
      // deletion of gigabytes of the other's output, a backup's fresh page cache) weighs on it, and the
      // encrypted / plain ratios must not carry that order.
      const plainRound = async () => {
        await setCache([dataDir], cache);
        const ours = await measure([...nodeArgs, 'backup', dataDir, out('ours')], { cwd: ROOT });
        const report = oursReport(ours);
        reports.push(report);
        record('ours backup', ours, report.size, report);
        await setCache([report.backupPath!], cache);
        const restore = await measure([...nodeArgs, 'restore', report.backupPath!, out('ours-restored'), out('ours-pre')], { cwd: ROOT });
        const restoreReport = oursReport(restore);
        restoreReports.push(restoreReport);
        record('ours restore', restore, undefined, restoreReport);
        for (const name of ['ours-restored', 'ours-pre']) await rm(out(name), { recursive: true, force: true });

        // Incremental backups: the second backup after a small change, then a chain of 7 and its newest restored.
        const undoChanges: Array<() => Promise<void>> = [await smallChange(dataDir)];
        await setCache([dataDir], cache);
        const second = await measure([...nodeArgs, 'backup', dataDir, out('ours'), 'incremental'], { cwd: ROOT });
        const secondReport = oursReport(second);
        record('ours backup (second, incremental)', second, secondReport.size, secondReport);
        let newest = secondReport.backupPath!;
        for (let i = 2; i <= 7; i++) {
          undoChanges.push(await smallChange(dataDir));
          newest = oursReport(await measure([...nodeArgs, 'backup', dataDir, out('ours'), 'incremental'], { cwd: ROOT })).backupPath!;
        }
        await setCache([out('ours')], cache);
        const chainRestore = await measure([...nodeArgs, 'restore', newest, out('ours-restored'), out('ours-pre')], { cwd: ROOT });
        record('ours restore (newest of 7 incrementals)', chainRestore, undefined, oursReport(chainRestore));
        for (const undo of undoChanges) await undo();
        for (const name of ['ours', 'ours-restored', 'ours-pre']) await rm(out(name), { recursive: true, force: true });
      };
      const encryptedRound = async () => {
        // The same backup and restore, every file encrypted (age, one X25519 recipient).
        const encryptedEnv = { env: { ...process.env, AURORA_BENCH_AGE_IDENTITY: benchIdentity }, cwd: ROOT };
        await setCache([dataDir], cache);
        const sealed = await measure([...nodeArgs, 'backup', dataDir, out('ours-age')], encryptedEnv);
        const sealedReport = oursReport(sealed);
        record('ours backup, encrypted (age)', sealed, sealedReport.size, sealedReport);
        await setCache([sealedReport.backupPath!], cache);
        const opened = await measure([...nodeArgs, 'restore', sealedReport.backupPath!, out('ours-age-restored'), out('ours-age-pre')], encryptedEnv);
        record('ours restore, encrypted (age)', opened, undefined, oursReport(opened));
        for (const name of ['ours-age', 'ours-age-restored', 'ours-age-pre']) await rm(out(name), { recursive: true, force: true });
      };
      for (const round of r % 2 === 1 ? [plainRound, encryptedRound] : [encryptedRound, plainRound]) await round();
    }

    if (only.has('guide')) {
      await setCache([dataDir], cache);
      record('guide backup', await measure(['bash', '-c', GUIDE_BACKUP, 'guide', dataDir, out('guide')]), await treeBytes(out('guide')));
      await setCache([out('guide')], cache);
      record('guide restore', await measure(['bash', '-c', GUIDE_RESTORE, 'guide', out('guide'), out('guide-restored')]));
      for (const name of ['guide', 'guide-restored']) await rm(out(name), { recursive: true, force: true });
    }

    if (only.has('restic') && hasRestic) {
      const env = { ...process.env, RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: out('restic'), RESTIC_CACHE_DIR: out('restic-cache') };
      await sh('restic init --quiet', { env });
      await setCache([dataDir], cache);
      record('restic backup (first)', await measure(['bash', '-c', RESTIC_BACKUP, 'restic', dataDir], { env }), await treeBytes(out('restic')));
      const undo = await smallChange(dataDir);
      await setCache([dataDir], cache);
      record('restic backup (second)', await measure(['bash', '-c', RESTIC_BACKUP, 'restic', dataDir], { env }));
      await undo();
      await setCache([out('restic')], cache);
      record('restic restore', await measure(['bash', '-c', RESTIC_RESTORE, 'restic', out('restic-restored')], { env }));
      for (const name of ['restic', 'restic-cache', 'restic-restored']) await rm(out(name), { recursive: true, force: true });
    }

    if (offsite) {
      for (const server of offsite.servers) {
        const spec = await server.start();
        await setCache([offsite.backupPath], cache);
        const copy = await measure([...nodeArgs, 'copy', offsite.backupPath, JSON.stringify(spec), out('known-hosts.json')], { cwd: ROOT, env: { ...process.env, ...S3_KEYS } });
        record(`ours copy to ${server.name}`, copy, undefined, oursReport(copy), offsite.backupBytes);
        await server.stop();
      }
    }

    if (only.has('floors')) {
      await setCache([dataDir], cache);
      record('read floor', await measure(['bash', '-c', READ_FLOOR, 'floor', dataDir]));
      await setCache([dataDir], cache);
      record('copy floor', await measure(['bash', '-c', COPY_FLOOR, 'floor', dataDir, out('copy.tar')]), dataBytes);
      await rm(out('copy.tar'), { force: true });
    }
  }

  // Once, the desktop app's path: controller + job worker, event loop of the app's main thread.
  let appEventLoop: { p50Ms: number; p99Ms: number; maxMs: number } | null = null;
  if (only.has('ours')) {
    await setCache([dataDir], cache);
    const app = await measure([...appArgs, dataDir, out('app-backups'), out('app-user')], { cwd: ROOT });
    appEventLoop = (JSON.parse(app.stdout.trim().split('\n').at(-1)!) as { eventLoop: typeof appEventLoop }).eventLoop;
    record('ours backup, desktop app path', app);
    for (const name of ['app-backups', 'app-user']) await rm(out(name), { recursive: true, force: true });
  }

  // The writer: alone for as long as our backup takes, then during our backup.
  let writer: BenchResult['writer'];
  let busyReport: OursReport | undefined;
  if (only.has('writer')) {
    const seconds = Math.max(10, samples['ours backup'] ? median(samples['ours backup'].map((s) => s.wallS)) : 0);
    // The writer adds rows and blobs: it works on a copy, so that the fixture stays as generated for the next bench.
    const liveDir = out('writer-data');
    await sh(`cp -a '${dataDir}' '${liveDir}'`);
    log(`Writer at ${writerRate} transactions/s: alone for ${seconds.toFixed(1)} s, then during our backup (same priority, then ours at nice +10)`);
    const aloneWriter = await startWriter(liveDir);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const alone = await aloneWriter.stop();
    const rate = (x: { writes: number; seconds: number }) => x.writes / x.seconds;
    /** Our backup while the writer runs; `prefix` e.g. runs it at a lower priority. */
    const withWriter = async (tool: string, prefix: string[]) => {
      await setCache([liveDir], cache);
      const running = await startWriter(liveDir);
      const busy = await measure([...prefix, ...nodeArgs, 'backup', liveDir, out('ours-writer')], { cwd: ROOT });
      const seen = await running.stop();
      const report = oursReport(busy);
      record(tool, busy, report.size, report);
      await rm(out('ours-writer'), { recursive: true, force: true });
      return { seen, report };
    };
    const same = await withWriter('ours backup + writer', []);
    const low = await withWriter('ours backup (nice +10) + writer', ['nice', '-n', '10']);
    busyReport = same.report;
    writer = {
      rate: writerRate,
      aloneWritesPerS: rate(alone),
      duringWritesPerS: rate(same.seen),
      keptPercent: (100 * rate(same.seen)) / rate(alone),
      duringLowPriorityWritesPerS: rate(low.seen),
      keptPercentLowPriority: (100 * rate(low.seen)) / rate(alone),
      busyErrors: alone.busyErrors + same.seen.busyErrors + low.seen.busyErrors,
    };
  }
  await offsite?.dispose();
  await rm(scratch, { recursive: true, force: true });

  const result: BenchResult = {
    machine: { ...(await machine()), loadAverage: { before: loadBefore, after: os.loadavg()[0]! }, niceness },
    sizeMiB,
    dataBytes,
    cache,
    runs,
    tools: Object.fromEntries(Object.entries(samples).map(([tool, list]) => [tool, summarize(list, dataBytes)])),
    ours: reports.length
      ? {
          eventLoopP99Ms: Math.max(...reports.map((x) => x.eventLoop.p99Ms)),
          eventLoopMaxMs: Math.max(...reports.map((x) => x.eventLoop.maxMs)),
          eventLoopP99WithWriterMs: busyReport?.eventLoop.p99Ms ?? null,
          appEventLoop,
          memoryAtPeakMB: reports.reduce((a, b) => (b.memoryAtPeakMB.rss > a.memoryAtPeakMB.rss ? b : a)).memoryAtPeakMB,
          phasesMs: medianPhases(reports.map((x) => x.phases)),
          phasesCpuMs: medianPhases(reports.map((x) => x.phasesCpu)),
          restorePhasesMs: medianPhases(restoreReports.map((x) => x.phases)),
          restorePhasesCpuMs: medianPhases(restoreReports.map((x) => x.phasesCpu)),
        }
      : undefined,
    writer,
  };
  if (values.json) {
    printTable(result, log);
    console.log(JSON.stringify(result, null, 2));
  } else printTable(result, console.log);
}

/**
 * A backup of the fixture and, per server, how to start it empty and the target that points at it: s3rver
 * (parts of 16 MiB, the default) and, as root with Debian's sshd installed, an SFTP server. Both are the
 * test suite's servers (test/helpers/offsite-servers.ts) on loopback, started afresh for every run.
 */
async function offsiteSetup(out: (name: string) => string) {
  log('Off-site: a backup to copy …');
  const backupPath = (await runBackup({ dataDir: await ensureFixture(), backupDir: out('offsite-backups'), env: {}, retention: null })).path;
  const backupBytes = await treeBytes(backupPath);
  let running: { stop(): Promise<void> } | null = null;
  const fresh = async (name: string) => {
    await rm(out(name), { recursive: true, force: true });
    return out(name);
  };
  const servers = [
    {
      name: 'S3 (s3rver)',
      async start(): Promise<TargetSpec> {
        const s3 = await startS3(await fresh('s3'), 'bench');
        running = s3;
        return { name: 's3', type: 's3', bucket: 'bench', prefix: '', endpoint: `http://127.0.0.1:${s3.port}`, region: 'us-east-1', forcePathStyle: true, partSizeMiB: 16, enabled: true };
      },
      stop: () => running!.stop(),
    },
  ];
  if (process.getuid?.() === 0 && existsSync('/usr/sbin/sshd')) {
    servers.push({
      name: 'SFTP (OpenSSH)',
      async start(): Promise<TargetSpec> {
        const sshd = await startSshd(await fresh('sshd'));
        running = sshd;
        return { name: 'sftp', type: 'sftp', host: '127.0.0.1', port: sshd.port, username: sshd.user, path: await fresh('sftp-root'), privateKeyFile: sshd.userKey, enabled: true };
      },
      stop: () => running!.stop(),
    });
  } else log('Off-site: SFTP is measured as root with openssh-server installed; left out.');
  return { backupPath, backupBytes, servers, dispose: () => rm(out('offsite-backups'), { recursive: true, force: true }) };
}

/** A new 1 MiB blob and one new row in account.sqlite, as an hour of a quiet PDS might bring. */
async function smallChange(dataDir: string): Promise<() => Promise<void>> {
  const db = new Database(path.join(dataDir, 'account.sqlite'), { timeout: 5000 });
  const did = (db.prepare('SELECT did FROM actor LIMIT 1').get() as { did: string }).did;
  db.prepare('INSERT INTO refresh_token (id, did, expiresAt) VALUES (?, ?, ?)').run(`bench-${Date.now()}`, did, new Date().toISOString());
  db.close();
  const blob = path.join(dataDir, 'blobs', did, `bafkreibenchchange${Date.now()}`);
  await writeFile(blob, (await import('node:crypto')).randomBytes(MiB));
  return () => rm(blob, { force: true });
}

type Sample = Measured & { sizeBytes?: number; engineS?: number; startupS?: number; startupCpuS?: number; movedBytes?: number };

function summarize(list: Sample[], dataBytes: number): ToolSummary {
  const walls = list.map((s) => s.wallS);
  const wallS = median(walls);
  const sizes = list.map((s) => s.sizeBytes).filter((s): s is number => s !== undefined);
  return {
    wallS,
    minWallS: Math.min(...walls),
    maxWallS: Math.max(...walls),
    throughputMBs: (list[0]?.movedBytes ?? dataBytes) / MiB / wallS,
    cpuS: median(list.map((s) => s.cpuS)),
    peakRssMB: Math.max(...list.map((s) => s.peakRssMB)),
    sizeBytes: sizes.length ? median(sizes) : null,
    ...(list[0]?.engineS !== undefined && {
      engineWallS: median(list.map((s) => s.engineS!)),
      startupS: median(list.map((s) => s.startupS!)),
      startupCpuS: median(list.map((s) => s.startupCpuS!)),
    }),
    samples: list.map(({ wallS: w, cpuS, peakRssMB }) => ({ wallS: w, cpuS, peakRssMB })),
  };
}

function medianPhases(runs: Array<Record<string, number>>): Record<string, number> {
  const names = [...new Set(runs.flatMap((x) => Object.keys(x)))];
  return Object.fromEntries(names.map((name) => [name, Math.round(median(runs.map((x) => x[name] ?? 0)))]));
}

async function machine(): Promise<Omit<BenchResult['machine'], 'loadAverage' | 'niceness'>> {
  const df = (await run(['df', '-h', '--output=source,fstype,size,avail', workDir])).stdout.trim().split('\n').at(-1)?.trim() ?? '';
  const restic = (await run(['bash', '-c', 'restic version 2>/dev/null || true'])).stdout.trim();
  const gzip = (await run(['bash', '-c', 'gzip --version | head -1'])).stdout.trim();
  const cpuModel = (await readFile('/proc/cpuinfo', 'utf8').catch(() => '')).match(/model name\s*:\s*(.*)/)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const commit = (await run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'])).stdout.trim() || null;
  return {
    commit,
    cores: os.availableParallelism(),
    cpuModel,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    disk: df.replace(/\s+/g, ' '),
    node: process.version,
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    restic: restic || null,
    gzip,
  };
}

await main();
