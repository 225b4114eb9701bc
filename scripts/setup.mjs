#!/usr/bin/env node
// Installs the project's packages and its pinned Node 22 runtime (the npm package `node`), which every
// npm script then runs on. Runs with whatever Node started it (20.11 or newer), so a fresh clone needs no Node 22.
// Install scripts are skipped on purpose: electron's would download its binary (not possible offline
// and not needed for the CLI or tests), and better-sqlite3 ships N-API prebuilds for every platform.
// `npm run setup -- --electron` also downloads the Electron binary, for `npm start` on a machine that can.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (/** @type {string[]} */ args) => execFileSync(npm, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
const pinnedNode = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'node.cmd' : 'node');
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');

const upToDate = existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs;
if (!upToDate || process.argv.includes('--force')) {
  console.log('setup: installing packages (npm ci --ignore-scripts)');
  run(['ci', '--ignore-scripts', '--no-audit', '--no-fund']);
}
if (!existsSync(join(root, 'node_modules', 'node', 'bin', process.platform === 'win32' ? 'node.exe' : 'node'))) {
  console.log('setup: installing the pinned Node 22 runtime (npm rebuild node)');
  run(['rebuild', 'node', '--ignore-scripts=false']);
}
if (process.argv.includes('--electron')) {
  // Electron's own install script: downloads the binary for this platform, or does nothing when it is there.
  console.log('setup: the Electron binary (node_modules/electron/install.js)');
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'electron', 'install.js')], { cwd: join(root, 'node_modules', 'electron'), stdio: 'inherit' });
  } catch {
    console.error('setup: could not download Electron (it comes from github.com/electron/electron releases). The command line and the tests do not need it.');
    process.exit(1);
  }
}
const version = execFileSync(pinnedNode, ['-v'], { encoding: 'utf8', shell: process.platform === 'win32' }).trim();
if (!version.startsWith('v22.')) throw new Error(`setup: expected Node 22 in node_modules/.bin, found ${version}`);
console.log(`setup: ready (scripts run on Node ${version})`);
