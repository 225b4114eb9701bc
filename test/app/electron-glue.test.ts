import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { API_NAMES, EVENT_CHANNEL, requestChannel } from '../../shared/api.js';

// The Electron files cannot run here (no Electron binary); these checks keep them in step with the contract.
describe('Electron glue', () => {
  it('the sandboxed preload (which cannot import shared/api.ts) exposes exactly the API\'s requests and channels', async () => {
    const preload = await readFile('electron/preload.cts', 'utf8');
    const names = JSON.parse(/const API_NAMES = (\[[^\]]*\]);/.exec(preload)![1]!.replace(/'/g, '"')) as string[];
    expect(names).toEqual(API_NAMES);
    expect(preload).toContain(`const EVENT_CHANNEL = '${EVENT_CHANNEL}';`);
    expect(preload).toContain('`aurora:${name}`');
    expect(requestChannel('getStatus')).toBe('aurora:getStatus');
    expect(preload).toContain("contextBridge.exposeInMainWorld('aurora', api)");
  });

  it('the window is isolated and sandboxed, without Node, and cannot navigate or open windows', async () => {
    const main = await readFile('electron/main.ts', 'utf8');
    for (const setting of ['contextIsolation: true', 'sandbox: true', 'nodeIntegration: false', 'webSecurity: true', 'webviewTag: false']) expect(main).toContain(setting);
    expect(main).toContain("setWindowOpenHandler(() => ({ action: 'deny' }))");
    expect(main).toContain("contents.on('will-navigate', (event) => event.preventDefault())");
    expect(main).toContain('app.requestSingleInstanceLock()');
    const ipc = await readFile('electron/ipc.ts', 'utf8');
    expect(ipc).toContain('isOurPage(frame.url)');
  });
});
