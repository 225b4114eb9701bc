import type { ApiClient } from '../../../shared/api.js';

/**
 * What the preload exposes as `window.aurora` (contextBridge): the ApiClient itself, plus Electron's
 * `webUtils.getPathForFile`, which is the only way a sandboxed page learns the path of a dropped folder.
 */
export type AuroraPreload = ApiClient & { pathForFile?: (file: File) => string };

declare global {
  interface Window {
    aurora?: AuroraPreload;
  }
}

/** The client inside Electron: the preload's bridge, used as it is (the main process validates every input). */
export function electronClient(): AuroraPreload | null {
  return window.aurora ?? null;
}
