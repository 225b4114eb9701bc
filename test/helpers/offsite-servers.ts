import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, Transform } from 'node:stream';

/** The credentials s3rver accepts; anything else is refused as a real S3 would. */
export const S3_KEYS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

export interface RunningServer {
  port: number;
  stop(): Promise<void>;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** s3rver on 127.0.0.1 with one bucket, its objects kept as files under `dir` (see objectFile). */
export async function startS3(dir: string, bucket: string, port = 0): Promise<RunningServer> {
  const child = spawn(process.execPath, [path.resolve(import.meta.dirname, 's3-server.mjs'), dir, bucket, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { port: (JSON.parse(line) as { port: number }).port, stop: () => stopChild(child) };
}

/** Where s3rver keeps an object's bytes. */
export const objectFile = (dir: string, bucket: string, key: string) => path.join(dir, bucket, `${key}._S3rver_object`);

export interface Sshd extends RunningServer {
  user: string;
  /** The client's private key, authorised for `user`. */
  userKey: string;
  /** `ssh-keygen -lf` of the host key: `SHA256:…`. */
  hostFingerprint: string;
  /** Starts again on the same port, optionally with a new host key (a server that was reinstalled, or an impostor). */
  restart(opts?: { newHostKey?: boolean }): Promise<void>;
}

/**
 * Debian's OpenSSH server on a random loopback port, with its own config, a generated host key and a
 * generated user key authorised for the current user. SFTP is the server's internal-sftp. With
 * `passwordAuth`, users may also log in with their password (checked against /etc/shadow: UsePAM is off).
 */
export async function startSshd(dir: string, opts: { passwordAuth?: boolean } = {}): Promise<Sshd> {
  mkdirSync(dir, { recursive: true });
  mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege-separation directory
  const keygen = (file: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const hostKey = path.join(dir, 'host_key');
  const userKey = path.join(dir, 'user_key');
  keygen(hostKey);
  keygen(userKey);
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(`${userKey}.pub`));
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PubkeyAuthentication yes',
      `PasswordAuthentication ${opts.passwordAuth ? 'yes' : 'no'}`,
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  let child: ChildProcess;
  const start = async () => {
    child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitForBanner(port, child, () => stderr);
  };
  const fingerprint = () => execFileSync('ssh-keygen', ['-lf', `${hostKey}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  await start();
  const server: Sshd = {
    port,
    user: os.userInfo().username,
    userKey,
    hostFingerprint: fingerprint(),
    stop: () => stopChild(child),
    async restart(opts = {}) {
      await stopChild(child);
      if (opts.newHostKey) {
        execFileSync('rm', ['-f', hostKey, `${hostKey}.pub`]);
        keygen(hostKey);
        server.hostFingerprint = fingerprint();
      }
      await start();
    },
  };
  return server;
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}

/** Resolves once the server greets with its SSH banner; fails when sshd exits first. */
async function waitForBanner(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`sshd exited (${child.exitCode}): ${stderr()}`);
    const greeted = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('data', (d) => {
        socket.destroy();
        resolve(d.toString().startsWith('SSH-'));
      });
      socket.once('error', () => resolve(false));
    });
    if (greeted) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sshd did not answer on port ${port}: ${stderr()}`);
}

export interface FaultProxy extends RunningServer {
  /** Bytes forwarded from clients to the server so far. */
  readonly sentBytes: number;
  /** Bytes forwarded from the server to clients so far (downloads, read-backs, answers). */
  readonly receivedBytes: number;
  /** Cuts every connection once `bytes` more have gone to the server, then refuses new ones until heal(). */
  cutAfter(bytes: number): Promise<void>;
  heal(): void;
}

/**
 * A TCP relay between a client and a loopback server, counting what the client sends, that can cut the
 * connection mid-stream and then stay down, like a server whose network goes away.
 */
export async function startFaultProxy(serverPort: number): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  let down = false;
  let sent = 0;
  let received = 0;
  let cutAt = Infinity;
  let onCut: (() => void) | null = null;
  const cut = () => {
    down = true;
    for (const s of sockets) s.destroy();
    sockets.clear();
    onCut?.();
  };
  const server = net.createServer((client) => {
    if (down) return client.destroy();
    const upstream = net.connect(serverPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      const room = cutAt - sent;
      if (chunk.length >= room) {
        if (room > 0) upstream.write(chunk.subarray(0, room));
        sent += Math.max(0, room);
        return cut();
      }
      sent += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      client.write(chunk);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    get sentBytes() {
      return sent;
    },
    get receivedBytes() {
      return received;
    },
    cutAfter(bytes) {
      cutAt = sent + bytes;
      return new Promise<void>((resolve) => (onCut = resolve));
    },
    heal() {
      down = false;
      cutAt = Infinity;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/**
 * An HTTP relay to a loopback S3 server that flips one byte of every object whose key ends with `suffix`:
 * in the body of each GET answer (a target that returns corrupted data), or of each PUT (data altered on
 * the way to the server, stored as altered).
 */
export async function startCorruptingProxy(serverPort: number, suffix: string, direction: 'download' | 'upload' = 'download'): Promise<RunningServer> {
  const server = http.createServer((req, res) => {
    const matches = req.url!.split('?')[0]!.endsWith(suffix);
    const upstream = http.request({ host: '127.0.0.1', port: serverPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      const corrupt = direction === 'download' && matches && req.method === 'GET' && answer.statusCode === 200;
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(corrupt ? flipOneByte() : new PassThrough()).pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(direction === 'upload' && matches && req.method === 'PUT' ? flipOneByte() : new PassThrough()).pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Passes bytes through with one of them (in the middle of the first chunk) inverted. */
function flipOneByte(): Transform {
  let flipped = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (!flipped && chunk.length > 0) {
        chunk[Math.floor(chunk.length / 2)]! ^= 0xff;
        flipped = true;
      }
      done(null, chunk);
    },
  });
}

export interface ThrowawayUser {
  name: string;
  password: string;
  remove(): void;
}

/** A system user with a random password and no home, for password logins (needs root, as the suite runs in CI). */
export function createThrowawayUser(): ThrowawayUser {
  const name = `aurora-pw-${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  execFileSync('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', name]);
  execFileSync('chpasswd', { input: `${name}:${password}\n` });
  return { name, password, remove: () => execFileSync('userdel', [name]) };
}
