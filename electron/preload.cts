// The window's only door to the main process. Sandboxed preloads are CommonJS and cannot import local
// files, so the request names are inlined; test/app/electron-glue.test.ts checks they equal API_NAMES in shared/api.ts.
import { contextBridge, ipcRenderer, webUtils } from 'electron';

const API_NAMES = ['getStatus', 'getSettings', 'setSettings', 'importEnv', 'startBackup', 'cancel', 'pauseSchedule', 'listBackups', 'verifyBackup', 'inspectBackup', 'restore', 'answerConfigQuestion', 'getEncryption', 'generateEncryptionKey', 'setEncryption', 'getHistory', 'getLogPath', 'openFolder', 'pickFolder', 'listFolders', 'readLog', 'listTargets', 'addTarget', 'testTarget', 'removeTarget', 'copyStates', 'copyBackup', 'listTargetBackups', 'downloadFromTarget'];
const EVENT_CHANNEL = 'aurora:event';

type Answer = { ok: true; value: unknown } | { ok: false; error: string };
const api: Record<string, unknown> = {};
for (const name of API_NAMES) {
  api[name] = async (input?: unknown) => {
    const answer = (await ipcRenderer.invoke(`aurora:${name}`, input)) as Answer;
    if (!answer.ok) throw new Error(answer.error);
    return answer.value;
  };
}
api.on = (event: string, listener: (payload: unknown) => void) => {
  const handler = (_: unknown, message: { event: string; payload: unknown }) => {
    if (message.event === event) listener(message.payload);
  };
  ipcRenderer.on(EVENT_CHANNEL, handler);
  return () => void ipcRenderer.removeListener(EVENT_CHANNEL, handler);
};
api.pathForFile = (file: File) => webUtils.getPathForFile(file);

contextBridge.exposeInMainWorld('aurora', api);
