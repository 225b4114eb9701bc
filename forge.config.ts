// Electron Forge, for development runs: `npm start` (electron-forge start) builds the main process and the
// renderer, then opens the app. Release installers are made with electron-builder (electron-builder.yml).
// Neither can run on machines without the Electron binary download (our CI); written as shipped.
import { execSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { ForgeConfig } from '@electron-forge/shared-types';

const root = import.meta.dirname;

/** tsc emits only .ts files; the worker entries are plain .mjs and are copied next to their callers. */
function copyWorkers(): void {
  for (const folder of ['engine', 'app']) {
    const from = path.join(root, 'electron', folder);
    const to = path.join(root, 'dist', 'electron', 'electron', folder);
    mkdirSync(to, { recursive: true });
    for (const file of readdirSync(from).filter((f) => f.endsWith('.mjs'))) copyFileSync(path.join(from, file), path.join(to, file));
  }
}

const config: ForgeConfig = {
  packagerConfig: {
    name: 'Aurora Locus Backup',
    executableName: 'aurora-locus-backup',
    icon: 'build/icon',
    // better-sqlite3's native addon cannot be loaded from inside the asar archive.
    asar: { unpack: '**/node_modules/better-sqlite3/**/*.node' },
  },
  // better-sqlite3 ships N-API prebuilds, which load in Electron as they are: nothing to rebuild.
  rebuildConfig: { onlyModules: [] },
  hooks: {
    generateAssets: async () => {
      execSync('npm run build', { cwd: root, stdio: 'inherit' });
      copyWorkers();
    },
  },
  makers: [],
};

export default config;
