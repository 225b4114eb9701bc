import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { API_NAMES, type ApiEventName, type ApiName } from '../../shared/api.js';
import { API_PREFIX, EVENTS_PATH, TOKEN_QUERY, type BridgeResponse } from '../../shared/http-bridge.js';
import type { ApiEventMap } from './controller.js';
import { invoke, type Handlers } from './handlers.js';
import { describeError, type Logger } from './log.js';

/** Where events come from: the controller. */
export type EventSource = Pick<EventEmitter<ApiEventMap>, 'on' | 'off'>;

export interface BridgeOptions {
  handlers: Handlers;
  events: EventSource;
  /** The built renderer (dist/renderer), or null to serve only a page saying it is missing. */
  staticDir: string | null;
  log: Logger;
  port?: number;
  /** Defaults to 127.0.0.1; tests bind other addresses to check that non-loopback peers are refused. */
  host?: string;
  token?: string;
}

export interface Bridge {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

export const MAX_BODY_BYTES = 1024 * 1024;

/** The renderer needs nothing from elsewhere: no remote scripts, styles, frames or connections. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer', // the page URL carries the token
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/**
 * Why a request must be refused before anything else (403), or null. Refuses peers outside loopback, and
 * Host/Origin headers naming another site: a web page that points its own domain at 127.0.0.1 (DNS
 * rebinding) or posts across origins must not reach the API.
 */
export function requestProblem(req: { socket: { remoteAddress?: string }; headers: http.IncomingHttpHeaders }, port: number): string | null {
  if (!isLoopbackAddress(req.socket.remoteAddress)) return `Only this computer may connect (not ${req.socket.remoteAddress}).`;
  const allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const host = req.headers.host?.toLowerCase();
  if (!host || !allowedHosts.has(host)) return `Host "${req.headers.host ?? ''}" is not this server.`;
  const origin = req.headers.origin;
  if (origin !== undefined && !allowedHosts.has(origin.toLowerCase().replace(/^http:\/\//, ''))) return `Origin "${origin}" is not this server.`;
  return null;
}

/** Constant-time token check (hashing first makes the lengths equal). */
export function tokenMatches(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/**
 * Maps a URL path to a file inside `root`, or null for anything that would leave it (`..`, encoded
 * slashes or NULs, absolute paths).
 */
export function staticFilePath(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\') || decoded.split('/').includes('..')) return null;
  const relative = decoded.replace(/^\/+/, '') || 'index.html';
  const file = path.resolve(root, relative);
  const inside = path.relative(root, file);
  return inside && !inside.startsWith('..') && !path.isAbsolute(inside) ? file : null;
}

function bearerToken(req: http.IncomingMessage): string | null {
  return /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? null;
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function fail(res: http.ServerResponse, status: number, error: string): void {
  send(res, status, { ok: false, error } satisfies BridgeResponse<never>);
}

class BodyTooLarge extends Error {}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const MISSING_RENDERER_PAGE = `<!doctype html><meta charset="utf-8"><title>Aurora Locus Backup</title>
<h1>Aurora Locus Backup</h1><p>The window's files are not built yet (no dist/renderer/index.html).
Run <code>npm run build:renderer</code> and reload. The API is available under /api/.</p>`;

/** The HTTP bridge of shared/http-bridge.ts over the same handlers as Electron IPC. */
export async function startHttpBridge(opts: BridgeOptions): Promise<Bridge> {
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const host = opts.host ?? '127.0.0.1';
  const names = new Set<string>(API_NAMES);
  let port = 0;
  const streams = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      opts.log.error('http bridge:', describeError(error));
      if (!res.headersSent) fail(res, 500, 'Internal error; see the log.');
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const refused = requestProblem(req, port);
    if (refused) return fail(res, 403, refused);
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);

    if (url.pathname === EVENTS_PATH) {
      if (req.method !== 'GET') return fail(res, 405, 'Use GET for events.');
      if (!tokenMatches(url.searchParams.get(TOKEN_QUERY) ?? bearerToken(req), token)) return fail(res, 401, 'Missing or wrong token.');
      return streamEvents(res);
    }

    if (url.pathname.startsWith(API_PREFIX)) {
      if (!tokenMatches(bearerToken(req), token)) return fail(res, 401, 'Missing or wrong token.');
      const name = url.pathname.slice(API_PREFIX.length);
      if (!names.has(name)) return fail(res, 404, `Unknown request "${name}".`);
      if (req.method !== 'POST') return fail(res, 405, 'Use POST for API requests.');
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return fail(res, 415, 'Send a JSON body (Content-Type: application/json).');
      let input: unknown;
      try {
        const text = await readBody(req);
        input = text ? (JSON.parse(text) as { input?: unknown }).input : undefined;
      } catch (error) {
        if (error instanceof BodyTooLarge) return fail(res, 413, `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
        return fail(res, 400, 'The request body is not JSON.');
      }
      const answer = await invoke(opts.handlers, name as ApiName, input, opts.log);
      return send(res, answer.status, answer.body);
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, 'Only GET for files.');
    return serveStatic(url.pathname, req, res);
  }

  function streamEvents(res: http.ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(': connected\n\n');
    const listeners = new Map<ApiEventName, (payload: unknown) => void>();
    for (const event of ['progress', 'status', 'navigate', 'offsiteProgress'] as const) {
      const listener = (payload: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`);
      listeners.set(event, listener);
      opts.events.on(event, listener);
    }
    const keepAlive = setInterval(() => res.write(': ping\n\n'), 25_000);
    streams.add(res);
    res.on('close', () => {
      clearInterval(keepAlive);
      for (const [event, listener] of listeners) opts.events.off(event, listener);
      streams.delete(res);
    });
  }

  async function serveStatic(urlPath: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const headers = { ...SECURITY_HEADERS, 'Content-Security-Policy': CONTENT_SECURITY_POLICY };
    if (!opts.staticDir) {
      res.writeHead(urlPath === '/' ? 200 : 404, { ...headers, 'Content-Type': 'text/html; charset=utf-8' });
      res.end(MISSING_RENDERER_PAGE);
      return;
    }
    const file = staticFilePath(opts.staticDir, urlPath);
    if (!file) return fail(res, 404, 'Not found.');
    let target = file;
    let size: number;
    try {
      const s = await stat(file);
      if (!s.isFile()) throw new Error('not a file');
      size = s.size;
    } catch {
      // An app route without a file extension gets the page; a missing asset is a 404.
      if (path.extname(urlPath)) return fail(res, 404, 'Not found.');
      target = path.join(opts.staticDir, 'index.html');
      size = (await stat(target)).size;
    }
    res.writeHead(200, {
      ...headers,
      'Content-Type': CONTENT_TYPES[path.extname(target)] ?? 'application/octet-stream',
      'Content-Length': size,
      'Cache-Control': target.endsWith('index.html') ? 'no-store' : 'public, max-age=3600',
    });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(target).pipe(res);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  opts.log.info(`http bridge listening on ${host}:${port}`);
  return {
    url: `http://127.0.0.1:${port}/?${TOKEN_QUERY}=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of streams) res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
