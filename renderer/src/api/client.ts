import { createContext, useContext } from 'react';
import type { ApiClient } from '../../../shared/api.js';
import { electronClient } from './electron-client.js';
import { createHttpClient, takeToken, type ConnectionListener } from './http-client.js';

export interface Connection {
  api: ApiClient;
  /** Turns a dropped File into its path, when the transport can (Electron); the browser cannot. */
  pathForFile: ((file: File) => string) | null;
  /** True inside Electron; false in a browser through the HTTP bridge (no native dialogs there). */
  native: boolean;
  /** Reports a lost or refused connection (the HTTP bridge); Electron's IPC cannot be lost. */
  watch?: (listener: ConnectionListener) => () => void;
}

/** Electron's preload bridge when present, otherwise the HTTP bridge this page was served from. */
export function connect(): Connection {
  const aurora = electronClient();
  if (aurora) return { api: aurora, pathForFile: aurora.pathForFile ?? null, native: true };
  const token = takeToken(window.location, window.history, window.sessionStorage);
  const client = createHttpClient(token);
  return { api: client, pathForFile: null, native: false, watch: client.watch };
}

export const ConnectionContext = createContext<Connection | null>(null);

export function useConnection(): Connection {
  const connection = useContext(ConnectionContext);
  if (!connection) throw new Error('useConnection outside ConnectionContext');
  return connection;
}

export const useApi = (): ApiClient => useConnection().api;
