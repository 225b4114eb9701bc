// Electron Forge, for development runs: `npm start` (electron-forge start) builds the bundles and the
// window (npm run build), then opens the app. It needs the Electron binary: `npm run setup -- --electron`
// downloads it (not possible on our build machines). Release installers are made with electron-builder
// (electron-builder.yml).
import { execSync } from 'node:child_process';
import type { ForgeConfig } from '@electron-forge/shared-types';

const root = import.meta.dirname;

const config: ForgeConfig = {
  packagerConfig: {
    name: 'Aurora Locus Backup',
    executableName: 'aurora-locus-backup',
    icon: 'build/icon', // .icns on macOS, .ico on Windows
    // better-sqlite3's native addon cannot be loaded from inside the asar archive.
    asar: { unpack: '**/node_modules/better-sqlite3/prebuilds/*.node' },
  },
  // better-sqlite3 ships N-API prebuilds, which load in Electron as they are: nothing to rebuild.
  rebuildConfig: { onlyModules: [] },
  hooks: {
    generateAssets: async () => {
      execSync('npm run build', { cwd: root, stdio: 'inherit' });
    },
  },
  makers: [],
};

export default config;
