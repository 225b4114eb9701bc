import { readFileSync } from 'node:fs';

// Sources (electron/engine) and the bundles (dist/*.mjs, app.asar/dist) sit at different depths
// below package.json, so look upwards for it.
function findVersion(): string {
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'aurora-locus-backup' && pkg.version) return pkg.version;
    } catch {
      // not here; keep looking upwards
    }
    dir = new URL('..', dir);
  }
  return '0.0.0';
}

export const APP_VERSION = findVersion();
