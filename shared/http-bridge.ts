/**
 * The local HTTP bridge: the same API as Electron IPC, for the renderer in a browser (tests) and for a
 * headless server managed over an SSH tunnel. Listens on 127.0.0.1 only; every API call carries the
 * random token that `aurora-backup serve` prints in its URL (`http://127.0.0.1:PORT/?token=…`).
 *
 *   POST /api/<name>           body {"input": …}, header `Authorization: Bearer <token>`
 *     200 {"ok": true, "value": <output>}
 *     400 {"ok": false, "error": "…"}  input failed validation / the operation failed with a message
 *     401 missing or wrong token, 403 not loopback or foreign Origin/Host, 404 unknown request
 *   GET /api/events?token=<token>   Server-Sent Events, `event: <ApiEventName>` + `data: <json>`
 *   GET / and static assets         the built renderer (no token needed: it is public code)
 */
export const API_PREFIX = '/api/';
export const EVENTS_PATH = '/api/events';
export const TOKEN_QUERY = 'token';

export type BridgeResponse<T> = { ok: true; value: T } | { ok: false; error: string };
