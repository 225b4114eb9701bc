// The bundles build after a plain `npm install` too: npm then runs install scripts, and ssh2 compiles its
// optional native addon (sshcrypto.node), which it loads in a try/catch. The bundle must not choke on it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { expect, it } from 'vitest';
import { BUNDLE_OPTIONS } from '../../scripts/build.js';
import { makeTempDir } from '../helpers/tmp.js';

it('a package that loads an optional native addon bundles, and runs its fallback from the bundle', async () => {
  const pkg = makeTempDir('aurora-native-addon');
  mkdirSync(path.join(pkg, 'build', 'Release'), { recursive: true });
  writeFileSync(path.join(pkg, 'build', 'Release', 'addon.node'), 'not a real addon');
  writeFileSync(
    path.join(pkg, 'index.cjs'),
    "let native = null;\ntry { native = require('./build/Release/addon.node'); } catch {}\nconsole.log(native ? 'native' : 'fallback');\n",
  );
  const outfile = path.join(pkg, 'dist', 'bundle.cjs');
  await build({ ...BUNDLE_OPTIONS, entryPoints: [path.join(pkg, 'index.cjs')], outfile, format: 'cjs', logLevel: 'silent' });
  const ran = spawnSync(process.execPath, [outfile], { encoding: 'utf8' });
  expect(ran.stderr).toBe('');
  expect(ran.stdout.trim()).toBe('fallback');
});
