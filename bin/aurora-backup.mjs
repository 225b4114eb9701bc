#!/usr/bin/env -S node --
// Installed entry point. Checks the Node version before loading anything else (the engine needs Node 22:
// better-sqlite3 13 and Promise.withResolvers; `engines` in package.json is not enforced by npm), then
// runs the bundled CLI (dist/cli.mjs, from `npm run build`) or, in a clone without a build, the
// TypeScript sources through tsx. Written for old Node versions too, so that they get the message.
// `node --` in the first line: Node 22 reads --env-file (and --env-file-if-exists) anywhere on its command
// line, even after the script, and would load or reject the PDS's .env itself; after `--` it is ours.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

var REQUIRED_MAJOR = 22;
var major = Number(process.versions.node.split('.')[0]);
if (major < REQUIRED_MAJOR) {
  process.stderr.write(
    'aurora-backup: needs Node.js ' + REQUIRED_MAJOR + ' or newer; this is Node.js ' + process.versions.node +
      ' (' + process.execPath + ').\nInstall Node.js ' + REQUIRED_MAJOR + ' LTS (https://nodejs.org/) and run aurora-backup with it.\n',
  );
  process.exit(1);
}

const bundle = new URL('../dist/cli.mjs', import.meta.url);
if (existsSync(fileURLToPath(bundle))) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../electron/cli/main.ts', import.meta.url).href);
}
