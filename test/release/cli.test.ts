// The command line as a user installs it: `npm run build`'s bundle, packed by `npm pack`, unpacked as npm
// installs it with better-sqlite3 alone beside it, and started through its own first line (`env node`)
// from `/`, as a service manager starts it. Then its exit codes and messages, and the service files.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { beforeAll, describe, expect, it } from 'vitest';
import { command as backupCommand } from '../../electron/cli/commands/backup.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { buildAll } from '../../scripts/build.js';
import { FaultPause } from '../helpers/fault-pause.js';
import { makeTempDir } from '../helpers/tmp.js';

const ROOT = path.join(import.meta.dirname, '..', '..');
const SERVICE = path.join(ROOT, 'build', 'service');
let installed: string; // <prefix>/node_modules/aurora-locus-backup
let packed: string[];

/** The pinned Node 22 first on PATH, so the bin's `#!/usr/bin/env -S node --` finds it. */
const env = () => ({ PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR });

function start(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): ChildProcess {
  return spawn(path.join(installed, 'bin', 'aurora-backup.mjs'), args, { cwd: opts.cwd ?? '/', env: { ...env(), ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function finish(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const run = (args: string[]) => finish(start(args));

beforeAll(async () => {
  const work = makeTempDir('aurora-cli-package');
  const project = path.join(work, 'project');
  mkdirSync(project);
  for (const entry of ['package.json', 'bin', 'build', 'docs']) cpSync(path.join(ROOT, entry), path.join(project, entry), { recursive: true });
  await buildAll({ outDir: path.join(project, 'dist'), quiet: true });
  const pack = spawnSync('npm', ['pack', '--json', '--ignore-scripts'], { cwd: project, encoding: 'utf8' });
  expect(pack.status, pack.stderr).toBe(0);
  const [result] = JSON.parse(pack.stdout) as [{ filename: string; size: number; unpackedSize: number; files: { path: string }[] }];
  packed = result.files.map((f) => f.path);
  console.log(`npm pack: ${result.filename}, ${(result.size / 1024 / 1024).toFixed(1)} MiB (${(result.unpackedSize / 1024 / 1024).toFixed(1)} MiB unpacked), ${packed.length} files`);

  // What `npm install -g <tgz>` lays out: the package, and its one dependency beside it.
  const modules = path.join(work, 'prefix', 'node_modules');
  installed = path.join(modules, 'aurora-locus-backup');
  mkdirSync(installed, { recursive: true });
  const untar = spawnSync('tar', ['-xzf', path.join(project, result.filename), '-C', installed, '--strip-components=1']);
  expect(untar.status).toBe(0);
  cpSync(path.join(ROOT, 'node_modules', 'better-sqlite3'), path.join(modules, 'better-sqlite3'), { recursive: true });
}, 300_000);

describe('the packed command line', () => {
  it('holds the bundle, its workers, the window and the service files, and no sources', () => {
    for (const file of ['bin/aurora-backup.mjs', 'dist/cli.mjs', 'dist/job-worker.mjs', 'dist/snapshot-worker.mjs', 'dist/integrity-check-worker.mjs', 'dist/age-stream-worker.mjs', 'dist/renderer/index.html', 'build/service/aurora-locus-backup.timer']) {
      expect(packed).toContain(file);
    }
    expect(packed.filter((f) => /^(electron|shared|test|renderer|scripts)\//.test(f) || f.endsWith('.ts'))).toEqual([]);
    const pkg = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).toEqual(['better-sqlite3']);
  });

  it('backs up, verifies and lists from / on Node 22 with only better-sqlite3 beside it', async () => {
    const dir = makeTempDir('aurora-cli-run');
    const data = path.join(dir, 'data');
    await createFixture(data, { accounts: 3, posts: 5, blobMB: 1, seed: 'cli-package' });
    const backup = await run(['backup', '--data', data, '--out', path.join(dir, 'backups'), '--json']);
    expect(backup.code, backup.stderr).toBe(0);
    const { path: backupPath } = JSON.parse(backup.stdout) as { path: string };
    const verify = await run(['verify', backupPath, '--deep']);
    expect(verify.code, verify.stderr).toBe(0);
    const list = await run(['list', '--out', path.join(dir, 'backups'), '--json']);
    expect((JSON.parse(list.stdout) as { backups: { status: string }[] }).backups.map((b) => b.status)).toEqual(['complete']);
  });

  it('serves from / (as a service starts it), with its window, and stops on SIGTERM with 0', async () => {
    const dir = makeTempDir('aurora-cli-serve');
    const child = start(['serve', '--user-data', path.join(dir, 'user-data')]);
    const ended = finish(child);
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    const page = await fetch(new URL('/', url));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root">');
    child.kill('SIGTERM');
    const { code, stderr } = await ended;
    expect(code, stderr).toBe(0);
    expect(readdirSync(path.join(dir, 'user-data', 'logs'))).toEqual(['main.log']);
  });

  it('on an older Node says which Node it needs, and loads nothing else', async () => {
    const dir = makeTempDir('aurora-cli-node');
    // Node 20 as the bin sees it: only process.versions.node is read before the check.
    const olderNode = path.join(dir, 'node20.mjs');
    writeFileSync(olderNode, "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '20.11.1' } });\n");
    const child = spawn(process.execPath, ['--import', olderNode, '--', path.join(installed, 'bin', 'aurora-backup.mjs'), 'backup', '--data', path.join(dir, 'none')], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { code, stdout, stderr } = await finish(child);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^aurora-backup: needs Node\.js 22 or newer; this is Node\.js 20\.11\.1 \(.+\)\.\nInstall Node\.js 22/);
  });
});

describe('exit codes and messages', () => {
  it('help <command> shows that command’s help', async () => {
    const { code, stdout } = await run(['help', 'restore']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: aurora-backup restore <backup>/);
  });

  it('a mistyped command or option gets "did you mean", an unknown flag a clean message, both exit 2', async () => {
    const command = await run(['bakup']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('Unknown command "bakup". Did you mean "backup"?');
    const option = await run(['backup', '--dta', '/x']);
    expect(option.code).toBe(2);
    expect(option.stderr).toBe('aurora-backup: Unknown option --dta. Did you mean --data?\nSee aurora-backup backup --help.\n');
    const unknown = await run(['list', '--frobnicate']);
    expect(unknown.stderr).toBe('aurora-backup: Unknown option --frobnicate.\nSee aurora-backup list --help.\n');
    const missing = await run(['backup', '--data']);
    expect(missing.stderr).toBe('aurora-backup: --data needs a value.\nSee aurora-backup backup --help.\n');
  });

  it('--env-file errors come from aurora-backup, not from Node', async () => {
    const dir = makeTempDir('aurora-cli-env');
    const missing = path.join(dir, 'pds.env');
    const { code, stderr } = await run(['backup', '--env-file', missing, '--out', path.join(dir, 'b')]);
    expect(code).toBe(1);
    expect(stderr).toBe(`aurora-backup: The .env file ${missing} does not exist. Check the path given with --env-file.\n`);
  });

  it('with --json every failure is JSON on stdout, usage errors included', async () => {
    const dir = makeTempDir('aurora-cli-json');
    const verify = await run(['verify', path.join(dir, 'nope'), '--json']);
    expect(verify.code).toBe(1);
    expect(JSON.parse(verify.stdout)).toEqual({ ok: false, error: `There is no folder at ${path.join(dir, 'nope')}. Check the path.`, code: 'NOT_A_FOLDER' });
    const usage = await run(['lst', '--json']);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toMatchObject({ ok: false, code: 'USAGE' });
  });

  for (const [signal, exitCode] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`${signal} cancels a backup cleanly and exits ${exitCode}`, async () => {
      const dir = makeTempDir('aurora-cli-signal');
      const data = path.join(dir, 'data');
      await createFixture(data, { accounts: 4, posts: 5, blobMB: 30, seed: 'cli-signal' });
      const out = path.join(dir, 'backups');
      // Held where the archives are about to be written, then signalled the moment it goes on: the signal
      // always lands mid-backup, however slowly this machine reads the child's output.
      const pause = new FaultPause('backup:archiving', dir);
      pause.hold();
      const child = start(['backup', '--data', data, '--out', out], { env: pause.env });
      const ended = finish(child);
      const held = await pause.reached(child);
      await held.release();
      child.kill(signal);
      const { code, stderr } = await ended;
      expect(code, stderr).toBe(exitCode);
      expect(stderr).toContain('Backup cancelled');
      expect(readdirSync(out)).toEqual([]);
    });
  }
});

/** systemd's unit syntax: [Section] headers and Key=Value lines; comments and blank lines between. */
function parseUnit(file: string): Record<string, Record<string, string[]>> {
  const sections: Record<string, Record<string, string[]>> = {};
  let current: Record<string, string[]> | null = null;
  for (const [index, line] of readFileSync(file, 'utf8').split('\n').entries()) {
    if (/^\s*([#;].*)?$/.test(line)) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      current = sections[header[1]!] = {};
      continue;
    }
    const entry = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!entry || !current) throw new Error(`${file}:${index + 1}: not a unit line: ${line}`);
    (current[entry[1]!] ??= []).push(entry[2]!);
  }
  return sections;
}

/** The arguments after `aurora-backup` parse as the backup command's options. */
function expectBackupArgs(args: string[]): void {
  expect(args[0]).toBe('backup');
  expect(() => parseArgs({ args: args.slice(1), options: backupCommand.options, allowPositionals: false, strict: true })).not.toThrow();
}

describe('the service files in build/service', () => {
  it('systemd: a oneshot service running aurora-backup backup, and a daily 02:00 timer that catches up', () => {
    const service = parseUnit(path.join(SERVICE, 'aurora-locus-backup.service'));
    expect(service.Service!.Type).toEqual(['oneshot']);
    const [program, ...args] = service.Service!.ExecStart![0]!.split(/\s+/);
    expect(program).toMatch(/^\/.*\/aurora-backup$/);
    expectBackupArgs(args);
    const timer = parseUnit(path.join(SERVICE, 'aurora-locus-backup.timer'));
    expect(timer.Timer).toEqual({ OnCalendar: ['*-*-* 02:00:00'], Persistent: ['true'] });
    expect(timer.Install!.WantedBy).toEqual(['timers.target']);
  });

  it('launchd: a well-formed plist running aurora-backup backup every day at 02:00', () => {
    const xml = readFileSync(path.join(SERVICE, 'dev.aurora-locus.backup.plist'), 'utf8');
    const doc = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') throw new Error(message);
      },
    }).parseFromString(xml, 'text/xml');
    // A plist <dict>: alternating <key> and value elements.
    const value = (node: Element): unknown => {
      const children = Array.from(node.childNodes).filter((n): n is Element => n.nodeType === 1);
      if (node.tagName === 'dict') return Object.fromEntries(children.flatMap((child, i) => (i % 2 ? [] : [[child.textContent, value(children[i + 1]!)]])));
      if (node.tagName === 'array') return children.map(value);
      if (node.tagName === 'integer') return Number(node.textContent);
      return node.textContent;
    };
    const plistRoot = doc.documentElement!;
    expect(plistRoot.tagName).toBe('plist');
    const job = value(Array.from(plistRoot.childNodes).find((n): n is Element => n.nodeType === 1)!) as Record<string, unknown>;
    expect(job.Label).toBe('dev.aurora-locus.backup');
    const [program, ...args] = job.ProgramArguments as string[];
    expect(program).toMatch(/^\/.*\/aurora-backup$/);
    expectBackupArgs(args);
    expect(job.StartCalendarInterval).toEqual({ Hour: 2, Minute: 0 });
  });

  it('Windows: one schtasks command registering a daily 02:00 task that runs aurora-backup backup', () => {
    const lines = readFileSync(path.join(SERVICE, 'schedule-windows.cmd'), 'utf8').split('\r\n');
    const command = lines.filter((line) => line.startsWith('schtasks '));
    expect(command).toHaveLength(1);
    // cmd's quoting: "…" groups, \" is a quote inside the group.
    const words = [...command[0]!.matchAll(/"((?:\\"|[^"])*)"|(\S+)/g)].map((m) => (m[1] ?? m[2]!).replaceAll('\\"', '"'));
    const flag = (name: string) => words[words.indexOf(name) + 1];
    expect(words.slice(0, 2)).toEqual(['schtasks', '/Create']);
    expect([flag('/SC'), flag('/ST')]).toEqual(['DAILY', '02:00']);
    const task = [...flag('/TR')!.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
    expect(task[0]).toBe('%AURORA_BACKUP%');
    expectBackupArgs(task.slice(1));
    expect(lines.some((line) => line.includes("('where aurora-backup.cmd')") && line.includes('set "AURORA_BACKUP='))).toBe(true);
  });
});
