import type { ApiClient, ApiEventName, ApiEvents } from '../../../shared/api.js';
import { API_PREFIX, EVENTS_PATH, TOKEN_QUERY, type BridgeResponse } from '../../../shared/http-bridge.js';
import { apiFromCall } from './from-call.js';

const TOKEN_KEY = 'aurora-backup-token';

/**
 * Takes the bridge token from `?token=` and removes it from the address bar (so it does not end up in
 * history or screenshots). It is kept in sessionStorage so that a reload of the tab keeps working.
 */
export function takeToken(location: Location, history: History, storage: Storage): string | null {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get(TOKEN_QUERY);
  if (fromUrl) {
    storage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete(TOKEN_QUERY);
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return storage.getItem(TOKEN_KEY);
}

const EXPIRED =
  'The connection to Aurora Locus Backup was refused: the address has no valid token. Open the URL that `aurora-backup serve` printed again.';

const LOST = 'The connection to Aurora Locus Backup was lost; trying again. Is `aurora-backup serve` still running?';

/** Told null when the event stream is open, or what is wrong when it is not. */
export type ConnectionListener = (problem: string | null) => void;

/**
 * The ApiClient of the local HTTP bridge (see shared/api.ts): POST /api/<name> and Server-Sent Events.
 * `watch` reports the event stream's state: its error comes within seconds of the server going away.
 */
export function createHttpClient(token: string | null): ApiClient & { watch(listener: ConnectionListener): () => void } {
  let events: EventSource | null = null;
  const watchers = new Set<ConnectionListener>();
  const tell = (problem: string | null) => watchers.forEach((w) => w(problem));
  const open = (): EventSource => {
    if (events) return events;
    const source = new EventSource(`${EVENTS_PATH}?${TOKEN_QUERY}=${encodeURIComponent(token ?? '')}`);
    source.addEventListener('open', () => tell(null));
    source.addEventListener('error', () => {
      // A refused token closes the stream for good; anything else is retried by the browser.
      if (source.readyState !== EventSource.CLOSED) return tell(LOST);
      call('getStatus', undefined).then(
        () => tell(LOST),
        (error: unknown) => tell(error instanceof Error ? error.message : LOST),
      );
    });
    events = source;
    return source;
  };

  const call = async (name: string, input: unknown): Promise<unknown> => {
    let response: Response;
    try {
      response = await fetch(`${API_PREFIX}${name}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token ?? ''}` },
        body: JSON.stringify({ input }),
      });
    } catch {
      throw new Error('Aurora Locus Backup is not reachable. Is `aurora-backup serve` still running?');
    }
    if (response.status === 401) throw new Error(EXPIRED);
    const body = (await response.json().catch(() => null)) as BridgeResponse<unknown> | null;
    if (!body) throw new Error(`Aurora Locus Backup answered ${name} with HTTP ${response.status} and no readable body.`);
    if (!body.ok) throw new Error(body.error);
    return body.value;
  };

  const on = <E extends ApiEventName>(event: E, listener: (payload: ApiEvents[E]) => void): (() => void) => {
    const source = open();
    const handler = (message: MessageEvent<string>) => listener(JSON.parse(message.data) as ApiEvents[E]);
    source.addEventListener(event, handler);
    return () => source.removeEventListener(event, handler);
  };

  const watch = (listener: ConnectionListener): (() => void) => {
    watchers.add(listener);
    open();
    return () => watchers.delete(listener);
  };

  return { ...apiFromCall(call), on, watch };
}
