import type { IpcMain, WebContents, WebFrameMain } from 'electron';
import { API_NAMES, EVENT_CHANNEL, requestChannel, type ApiEventName } from '../shared/api.js';
import type { Controller } from './app/controller.js';
import { invoke, type Handlers } from './app/handlers.js';
import type { Logger } from './app/log.js';

/** One ipcMain.handle per API request; requests from any frame but our own page are refused. */
export function registerIpc(ipcMain: IpcMain, handlers: Handlers, isOurPage: (url: string) => boolean, log: Logger): void {
  for (const name of API_NAMES) {
    ipcMain.handle(requestChannel(name), async (event, input: unknown) => {
      const frame: WebFrameMain | null = event.senderFrame;
      if (!frame || !isOurPage(frame.url)) {
        log.warn(`refused ${name} from ${frame?.url ?? 'an unknown frame'}`);
        return { ok: false, error: 'Refused: the request did not come from the app window.' };
      }
      return (await invoke(handlers, name, input, log)).body;
    });
  }
}

/** Controller events → the window (when it exists and is not gone). */
export function forwardEvents(controller: Controller, target: () => WebContents | null): void {
  for (const event of ['progress', 'status', 'navigate', 'offsiteProgress'] as const satisfies ApiEventName[]) {
    controller.on(event, (payload: unknown) => {
      const contents = target();
      if (contents && !contents.isDestroyed()) contents.send(EVENT_CHANNEL, { event, payload });
    });
  }
}
