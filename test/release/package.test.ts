// The packaged desktop app, as electron-builder makes it. The real Electron binary cannot be downloaded
// on our build machines, so `electron-builder --dir` runs against a stand-in: a script carrying Electron's
// fuse wire (so the fuses are flipped as in a real build). Everything electron-builder puts around it —
// app.asar, its unpacked native addon, the resources — is the real thing, and the bundles inside are run
// by Node 22 from an extracted copy: a backup, a restore, an off-site copy and its download through the packaged job worker.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { extractAll, listPackage } from '@electron/asar';
import { FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import { beforeAll, describe, expect, it } from 'vitest';
import { createFixture } from '../../electron/engine/fixture.js';
import { BUNDLES, buildAll } from '../../scripts/build.js';
import { makeTempDir } from '../helpers/tmp.js';

const ROOT = path.join(import.meta.dirname, '..', '..');
const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
/** A fuse's state in the wire: the characters '0' and '1'. */
const FuseState = { DISABLE: 0x30, ENABLE: 0x31 };
const WORKERS = Object.keys(BUNDLES).filter((name) => name.endsWith('-worker.mjs'));

let unpacked: string; // <out>/linux-unpacked (or the platform's equivalent)
let asar: string;
let extracted: string;
let entries: string[];

/** A stand-in for Electron's dist folder: an executable with Electron's fuse sentinel and its default wire. */
function standInElectron(dir: string): string {
  mkdirSync(dir, { recursive: true });
  // Fuse wire v1, 8 fuses at Electron's defaults: '1' enabled, '0' disabled.
  const binary = path.join(dir, 'electron');
  writeFileSync(binary, `#!/bin/sh\n# stand-in for Electron: ${FUSE_SENTINEL}\x01\x0810110001\nexit 0\n`);
  chmodSync(binary, 0o755);
  return dir;
}

function sizeOf(target: string): number {
  const info = statSync(target);
  if (!info.isDirectory()) return info.size;
  return readdirSync(target).reduce((sum, name) => sum + sizeOf(path.join(target, name)), 0);
}

beforeAll(async () => {
  const work = makeTempDir('aurora-package');
  // A project folder of its own (the repository's dist/ may be in use by another test run).
  const project = path.join(work, 'project');
  mkdirSync(project);
  for (const file of ['package.json', 'electron-builder.yml']) cpSync(path.join(ROOT, file), path.join(project, file));
  symlinkSync(path.join(ROOT, 'build'), path.join(project, 'build'));
  // Copied, not linked: electron-builder refuses files whose real path is in a system folder such as
  // /tmp, where a clean clone may live. The app ships better-sqlite3 alone; electron tells the version.
  for (const name of ['better-sqlite3', 'node-addon-api', 'electron']) {
    cpSync(path.join(ROOT, 'node_modules', name), path.join(project, 'node_modules', name), { recursive: true, dereference: true });
  }
  await buildAll({ outDir: path.join(project, 'dist'), quiet: true });

  const out = path.join(work, 'out');
  const builder = path.join(ROOT, 'node_modules', 'electron-builder', 'cli.js');
  const result = spawnSync(
    process.execPath,
    [builder, '--dir', `--${process.arch}`, '--linux', `-c.electronDist=${standInElectron(path.join(work, 'electron-dist'))}`, `-c.directories.output=${out}`],
    { cwd: project, encoding: 'utf8', env: { ...process.env, CSC_IDENTITY_AUTO_DISCOVERY: 'false' } },
  );
  expect(result.status, `electron-builder failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
  unpacked = path.join(out, readdirSync(out).find((name) => name.endsWith('-unpacked'))!);
  asar = path.join(unpacked, 'resources', 'app.asar');
  entries = listPackage(asar, { isPack: false }).map((entry) => entry.replaceAll('\\', '/').replace(/^\//, ''));
  extracted = path.join(work, 'extracted');
  extractAll(asar, extracted);

  const report = { 'app.asar': sizeOf(asar), 'app.asar.unpacked': sizeOf(`${asar}.unpacked`), resources: sizeOf(path.join(unpacked, 'resources')) };
  console.log(`packaged app (without Electron): ${Object.entries(report).map(([name, bytes]) => `${name} ${(bytes / 1024 / 1024).toFixed(1)} MiB`).join(', ')}`);
}, 300_000);

describe('the packaged app (electron-builder --dir, stand-in Electron)', () => {
  it('holds the main process, the CommonJS preload and the window at the paths the code uses', () => {
    const pkg = JSON.parse(readFileSync(path.join(extracted, 'package.json'), 'utf8')) as { main: string };
    expect(entries).toContain(pkg.main);
    const main = readFileSync(path.join(extracted, pkg.main), 'utf8');
    // electron/main.ts: preload beside the main bundle, the window's files in <app>/dist/renderer.
    expect(main).toMatch(/\w+\.join\(import\.meta\.dirname, "preload\.cjs"\)/);
    expect(entries).toContain(path.posix.join(path.posix.dirname(pkg.main), 'preload.cjs'));
    expect(main).toMatch(/\w+\.join\(\w+\.getAppPath\(\), "dist", "renderer"\)/);
    const html = readFileSync(path.join(extracted, 'dist', 'renderer', 'index.html'), 'utf8');
    const assets = [...html.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => `dist/renderer/${m[1]}`);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) expect(entries).toContain(asset);

    // A sandboxed preload must be CommonJS: it compiles as a script and requires electron.
    const preload = readFileSync(path.join(extracted, 'dist', 'preload.cjs'), 'utf8');
    expect(() => new vm.Script(preload)).not.toThrow();
    expect(preload).toContain('require("electron")');
  });

  it('ships every worker the bundles start, and nothing that needs a dev tool', () => {
    const started = new Set<string>();
    for (const bundle of ['main.mjs', ...WORKERS]) {
      const source = readFileSync(path.join(extracted, 'dist', bundle), 'utf8');
      for (const m of source.matchAll(/new URL\("\.\/([\w-]+\.mjs)", import\.meta\.url\)/g)) started.add(m[1]!);
      expect(source).not.toMatch(/\bfrom "(tsx|vite|esbuild|typescript)[/"]|import\("(tsx|vite)[/"]/);
    }
    expect([...started].sort()).toEqual([...WORKERS].sort());
    for (const worker of WORKERS) expect(entries).toContain(`dist/${worker}`);
    const app = entries.filter((e) => e !== 'node_modules' && !e.startsWith('node_modules/') && !e.startsWith('dist/renderer/'));
    expect(app.sort()).toEqual(
      ['dist', 'dist/renderer', 'package.json', ...Object.keys(BUNDLES).filter((name) => name !== 'cli.mjs').map((name) => `dist/${name}`)].sort(),
    );
  });

  it('has better-sqlite3 alone in node_modules, only this platform’s prebuilds, unpacked beside the archive', () => {
    const modules = entries.filter((e) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(e));
    expect(modules).toEqual(['node_modules/better-sqlite3']);
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    for (const name of Object.keys(pkg.devDependencies)) expect(entries.some((e) => e.includes(`node_modules/${name}/`))).toBe(false);
    const prebuilds = entries.filter((e) => e.includes('better-sqlite3/prebuilds/'));
    const own = `node_modules/better-sqlite3/prebuilds/${process.platform}-${process.arch}.node`;
    expect(prebuilds).toContain(own);
    for (const prebuild of prebuilds) expect(prebuild).toMatch(new RegExp(`/${process.platform}-(x64|arm64)\\.node$`));
    expect(existsSync(path.join(`${asar}.unpacked`, own))).toBe(true);
    expect(entries.some((e) => e.includes('better-sqlite3/src/') || e.includes('better-sqlite3/deps/'))).toBe(false);
  });

  it('flips the fuses: no run-as-node, no NODE_OPTIONS or --inspect, app.asar only and checked', async () => {
    const binary = path.join(unpacked, readdirSync(unpacked).find((name) => statSync(path.join(unpacked, name)).isFile() && readFileSync(path.join(unpacked, name)).includes(FUSE_SENTINEL))!);
    const wire = await getCurrentFuseWire(binary);
    expect(wire[FuseV1Options.RunAsNode]).toBe(FuseState.DISABLE);
    expect(wire[FuseV1Options.EnableNodeOptionsEnvironmentVariable]).toBe(FuseState.DISABLE);
    expect(wire[FuseV1Options.EnableNodeCliInspectArguments]).toBe(FuseState.DISABLE);
    expect(wire[FuseV1Options.OnlyLoadAppFromAsar]).toBe(FuseState.ENABLE);
    expect(wire[FuseV1Options.EnableEmbeddedAsarIntegrityValidation]).toBe(FuseState.ENABLE);
    expect(wire[FuseV1Options.GrantFileProtocolExtraPrivileges]).toBe(FuseState.DISABLE);
  });

  it('runs a backup, a restore, an off-site copy and its download through the extracted job worker on Node 22', async () => {
    const dir = makeTempDir('aurora-package-run');
    const data = path.join(dir, 'data');
    await createFixture(data, { accounts: 3, posts: 5, blobMB: 1, seed: 'package' });
    // A separate Node process, so nothing of this test's loaders reaches the bundles.
    const runner = path.join(dir, 'run-jobs.mjs');
    writeFileSync(
      runner,
      `import { Worker } from 'node:worker_threads';
const [workerFile, data, backups, restored] = process.argv.slice(2);
const worker = new Worker(workerFile);
const run = (id, kind, options) => new Promise((resolve, reject) => {
  worker.on('message', (m) => m.id === id && m.type === 'done' && resolve(m.result));
  worker.on('message', (m) => m.id === id && m.type === 'error' && reject(new Error(m.error.message)));
  worker.postMessage({ type: 'start', id, kind, options });
});
const backup = await run(1, 'backup', { dataDir: data, backupDir: backups, env: {} });
const restore = await run(2, 'restore', { backupPath: backup.path, dataDir: restored, backupDir: backups, env: {} });
const usb = { type: 'folder', name: 'usb', path: backups + '-usb', enabled: true };
const copies = await run(3, 'copy', { backupPath: backup.path, specs: [usb], knownHostsFile: null });
const fetched = await run(4, 'download', { spec: usb, knownHostsFile: null, name: backup.name, intoDir: backups + '-fetched' });
console.log(JSON.stringify({ backup: backup.name, files: backup.manifest.files?.length, restored: restore.restored, copied: copies.map((c) => c.ok), fetched }));
await worker.terminate();
`,
    );
    const child = spawn(process.execPath, [runner, path.join(extracted, 'dist', 'job-worker.mjs'), data, path.join(dir, 'backups'), path.join(dir, 'restored')], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { backup: string; restored: string[]; copied: boolean[]; fetched: string };
    expect(result.backup).toMatch(/^backup_\d{8}_\d{6}$/);
    // The app's off-site copies and downloads run in this worker: the targets' code is bundled in it.
    expect(result.copied).toEqual([true]);
    expect(result.fetched).toBe(path.join(dir, 'backups-fetched', result.backup));
    expect(readdirSync(path.join(dir, 'backups-usb'))).toEqual([result.backup]);
    expect(result.restored.sort()).toEqual(['account', 'actors', 'blobs', 'did_cache', 'sequencer']);
    // The restored databases open and hold the fixture's accounts.
    const restoredAccount = path.join(dir, 'restored', 'account.sqlite');
    const count = spawnSync('sqlite3', [restoredAccount, 'SELECT count(*) FROM account'], { encoding: 'utf8' });
    expect(count.stdout.trim()).toBe('3');
  });
});
