import http from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Controller } from '../../electron/app/controller.js';
import { createHandlers } from '../../electron/app/handlers.js';
import { isLoopbackAddress, MAX_BODY_BYTES, requestProblem, startHttpBridge, type Bridge } from '../../electron/app/http-bridge.js';
import { RecordingLog, startController, tempDir } from './harness.js';
import { mistype } from '../helpers/typo.js';

let root: { dir: string; cleanup(): Promise<void> };
let controller: Controller;
let bridge: Bridge;
let staticDir: string;

beforeAll(async () => {
  root = await tempDir('bridge');
  staticDir = path.join(root.dir, 'renderer');
  await mkdir(path.join(staticDir, 'assets'), { recursive: true });
  await writeFile(path.join(staticDir, 'index.html'), '<!doctype html><title>app</title><script type="module" src="./assets/app.js"></script>');
  await writeFile(path.join(staticDir, 'assets', 'app.js'), 'console.log("app")');
  await writeFile(path.join(root.dir, 'secret.txt'), 'not for the browser');
  ({ controller } = await startController(path.join(root.dir, 'user-data')));
  bridge = await startHttpBridge({ handlers: createHandlers(controller), events: controller, staticDir, log: new RecordingLog() });
});
afterAll(async () => {
  await bridge.close();
  await root.cleanup();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request: the path and headers go out exactly as given (fetch would normalise `..` and set Host). */
function request(opts: { path: string; method?: string; headers?: Record<string, string>; body?: string; host?: string; port?: number; localAddress?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: opts.host ?? '127.0.0.1',
        port: opts.port ?? bridge.port,
        path: opts.path,
        method: opts.method ?? 'GET',
        headers: { Host: `127.0.0.1:${opts.port ?? bridge.port}`, ...opts.headers },
        localAddress: opts.localAddress,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const api = (name: string, input: unknown, headers: Record<string, string> = {}) =>
  request({
    path: `/api/${name}`,
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bridge.token}`, ...headers },
    body: JSON.stringify({ input }),
  });

describe('HTTP bridge', () => {
  it('prints a 127.0.0.1 URL with a long random token', () => {
    expect(bridge.url).toBe(`http://127.0.0.1:${bridge.port}/?token=${bridge.token}`);
    expect(Buffer.from(bridge.token, 'base64url')).toHaveLength(32);
  });

  it('answers API calls that carry the token', async () => {
    const reply = await api('getStatus', undefined);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ ok: true, value: { state: 'stale', paused: false } });
    expect(reply.headers['cache-control']).toBe('no-store');
  });

  it('refuses API calls without the token or with a wrong one (401)', async () => {
    expect((await api('getStatus', undefined, { Authorization: '' })).status).toBe(401);
    expect((await api('getStatus', undefined, { Authorization: `Bearer ${mistype(bridge.token)}` })).status).toBe(401);
    expect((await api('getSettings', undefined, { Authorization: bridge.token })).status).toBe(401);
    const reply = await request({ path: `/api/getStatus?token=${bridge.token}`, method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(reply.status).toBe(401);
    expect(JSON.parse(reply.body)).toEqual({ ok: false, error: 'Missing or wrong token.' });
  });

  it('refuses the event stream without the token', async () => {
    expect((await request({ path: '/api/events' })).status).toBe(401);
    expect((await request({ path: '/api/events?token=wrong' })).status).toBe(401);
  });

  it('streams events to a client with the token', async () => {
    const received = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: bridge.port, path: `/api/events?token=${bridge.token}` }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes(': connected')) void controller.setPaused(true);
          if (text.includes('event: status')) {
            req.destroy();
            resolve(text);
          }
        });
      });
      req.on('error', reject);
    });
    const data = received.split('\n').find((line) => line.startsWith('data: '))!;
    expect(JSON.parse(data.slice(6))).toMatchObject({ paused: true });
    await controller.setPaused(false);
  });

  it('refuses foreign Host (DNS rebinding) and Origin headers (403), even with the token', async () => {
    expect((await api('getStatus', undefined, { Host: `evil.example:${bridge.port}` })).status).toBe(403);
    expect((await api('getStatus', undefined, { Host: '127.0.0.1:1' })).status).toBe(403);
    expect((await api('getStatus', undefined, { Origin: 'https://evil.example' })).status).toBe(403);
    expect((await api('getStatus', undefined, { Origin: `http://127.0.0.1:${bridge.port}` })).status).toBe(200);
    expect((await api('getStatus', undefined, { Host: `localhost:${bridge.port}` })).status).toBe(200);
    expect((await request({ path: '/', headers: { Host: 'rebound.example' } })).status).toBe(403);
  });

  it('the peer check accepts loopback only', () => {
    for (const address of ['127.0.0.1', '127.5.5.5', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(address)).toBe(true);
    for (const address of ['192.0.2.2', '10.0.0.1', '::ffff:10.0.0.1', 'fd00::2', '0.0.0.0', undefined]) expect(isLoopbackAddress(address)).toBe(false);
    const headers = { host: '127.0.0.1:8080' };
    expect(requestProblem({ socket: { remoteAddress: '127.0.0.1' }, headers }, 8080)).toBeNull();
    expect(requestProblem({ socket: { remoteAddress: '192.0.2.2' }, headers }, 8080)).toContain('Only this computer may connect');
  });

  it('refuses a request that arrives from a non-loopback address (403)', async () => {
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (!external) {
      // No network interface besides loopback on this machine: the check itself is covered above.
      expect(requestProblem({ socket: { remoteAddress: '203.0.113.9' }, headers: { host: `127.0.0.1:${bridge.port}` } }, bridge.port)).not.toBeNull();
      return;
    }
    // A second bridge bound to the machine's real interface, reached from that interface.
    const exposed = await startHttpBridge({ handlers: createHandlers(controller), events: controller, staticDir, log: new RecordingLog(), host: external.address, token: bridge.token });
    try {
      const reply = await request({
        host: external.address,
        port: exposed.port,
        localAddress: external.address,
        path: '/api/getStatus',
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bridge.token}`, Host: `127.0.0.1:${exposed.port}` },
        body: '{}',
      });
      expect(reply.status).toBe(403);
      expect(JSON.parse(reply.body).error).toContain(`not ${external.address}`);
    } finally {
      await exposed.close();
    }
  });

  it('reports unknown requests (404), bad input (400) and oversized or non-JSON bodies', async () => {
    expect((await api('deleteEverything', undefined)).status).toBe(404);
    const bad = await api('verifyBackup', { path: 'relative/backup', deep: false });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toEqual({ ok: false, error: expect.stringContaining('is not a full path') });
    const big = await api('importEnv', { path: 'x'.repeat(MAX_BODY_BYTES) });
    expect(big.status).toBe(413);
    const notJson = await request({ path: '/api/getStatus', method: 'POST', headers: { Authorization: `Bearer ${bridge.token}`, 'Content-Type': 'application/json' }, body: '{oops' });
    expect(notJson.status).toBe(400);
    const form = await request({ path: '/api/getStatus', method: 'POST', headers: { Authorization: `Bearer ${bridge.token}`, 'Content-Type': 'text/plain' }, body: '{}' });
    expect(form.status).toBe(415);
    expect((await request({ path: '/api/getStatus', headers: { Authorization: `Bearer ${bridge.token}` } })).status).toBe(405);
  });

  it('serves the renderer without a token, with a strict CSP', async () => {
    const page = await request({ path: '/' });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>app</title>');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    const script = await request({ path: '/assets/app.js' });
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await request({ path: '/history' })).body).toContain('<title>app</title>');
    expect((await request({ path: '/assets/missing.js' })).status).toBe(404);
  });

  it('never serves files outside the renderer folder (path traversal)', async () => {
    for (const attempt of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/..%5csecret.txt', '/%2e%2e%2fsecret.txt', '/index.html%00.js', `/${path.join(root.dir, 'secret.txt')}`, '/%E0%A4%A']) {
      const reply = await request({ path: attempt });
      expect(reply.body, attempt).not.toContain('not for the browser');
      expect(reply.status, attempt).toBe(404);
    }
  });

  it('without a built renderer, serves a page saying how to build it', async () => {
    const bare = await startHttpBridge({ handlers: createHandlers(controller), events: controller, staticDir: null, log: new RecordingLog() });
    try {
      const page = await request({ path: '/', port: bare.port, headers: { Host: `127.0.0.1:${bare.port}` } });
      expect(page.status).toBe(200);
      expect(page.body).toContain('npm run build:renderer');
    } finally {
      await bare.close();
    }
  });
});
