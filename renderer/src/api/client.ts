import { createContext, useContext } from 'react';
import type { ApiClient } from '../../../shared/api.js';
import { electronClient } from './electron-client.js';
import { createHttpClient, takeToken } from './http-client.js';

export interface Connection {
  api: ApiClient;
  /** Turns a dropped File into its path, when the transport can (Electron); the browser cannot. */
  pathForFile: ((file: File) => string) | null;
  /** True inside Electron; false in a browser through the HTTP bridge (no native dialogs there). */
  native: boolean;
}

/** Electron's preload bridge when present, otherwise the HTTP bridge this page was served from. */
export function connect(): Connection {
  const aurora = electronClient();
  if (aurora) return { api: aurora, pathForFile: aurora.pathForFile ?? null, native: true };
  const token = takeToken(window.location, window.history, window.sessionStorage);
  return { api: createHttpClient(token), pathForFile: null, native: false };
}

export const ConnectionContext = createContext<Connection | null>(null);

export function useConnection(): Connection {
  const connection = useContext(ConnectionContext);
  if (!connection) throw new Error('useConnection outside ConnectionContext');
  return connection;
}

export const useApi = (): ApiClient => useConnection().api;
