import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

declare global {
  /** True inside the bundles `npm run build` makes (scripts/build.ts defines it); unset when run from the sources. */
  var AURORA_BUNDLED: boolean | undefined;
}

export const PRODUCT_NAME = 'Aurora Locus Backup';

/** The folder holding package.json (sources and the build sit at different depths below it). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'package.json');
    if (existsSync(candidate) && (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'aurora-locus-backup') return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`Cannot find the aurora-locus-backup package.json above ${fileURLToPath(import.meta.url)}`);
}

/** The same folder as Electron's app.getPath('userData'), so `serve` and the desktop app share settings and history. */
export function defaultUserDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), PRODUCT_NAME);
  if (platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', PRODUCT_NAME);
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), PRODUCT_NAME);
}
