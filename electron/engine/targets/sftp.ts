import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Client, type FileEntryWithStats, type SFTPWrapper, type Stats } from 'ssh2';
import type { SftpTargetSpec } from '../../../shared/targets.js';
import { formatBytes } from '../../../shared/format.js';
import { fingerprint, type KnownHosts } from './known-hosts.js';
import { MANIFEST, networkReason, redact, TargetError, type Target, type UploadOptions } from './target.js';

/** One SFTP request's worth (OpenSSH takes up to 255 KiB a request). */
const PIECE = 128 * 1024;
const WRITE_WINDOW = 8 * 1024 * 1024;
const READ_AHEAD = 32;
/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;

export interface SftpTargetOptions {
  /** Where first-seen host keys are pinned; consulted unless the target names its key itself. */
  knownHosts: KnownHosts | null;
  /** Told once, when a server's key is pinned for the first time. */
  onHostKeyPinned?: (message: string) => void;
  cwd?: string;
}

interface Connection {
  client: Client;
  sftp: SFTPWrapper;
  alive: { open: boolean };
}

/** A home server or NAS over SSH (ssh2), with host-key pinning. One connection, opened on first use. */
export class SftpTarget implements Target {
  readonly location: string;
  private readonly root: string;
  private readonly hostPort: string;
  private connection: Promise<Connection> | null = null;
  private hostKeyProblem: string | null = null;
  /** False once the connection has closed: ssh2 never answers a request made after that. */
  private open = false;

  constructor(
    readonly name: string,
    private readonly spec: SftpTargetSpec,
    private readonly opts: SftpTargetOptions,
  ) {
    this.root = spec.path.replace(/\/+$/, '') || '/';
    this.hostPort = `${spec.host}:${spec.port}`;
    this.location = `sftp://${spec.username}@${this.hostPort}${this.root.startsWith('/') ? '' : '/'}${this.root}`;
  }

  async test(): Promise<string> {
    const sftp = await this.sftp();
    await this.mkdirs(this.root);
    const probe = `${this.root}/.aurora-write-test-${process.pid}`;
    await this.op('cannot write in the folder', (cb) => sftp.writeFile(probe, 'ok', cb));
    await this.op('cannot delete in the folder', (cb) => sftp.unlink(probe, cb));
    const free = await this.freeBytes();
    return `${this.location} is writable${free === null ? '' : `, ${formatBytes(free)} free`}`;
  }

  async listFolders(): Promise<string[]> {
    const sftp = await this.sftp();
    const entries = await this.op<FileEntryWithStats[]>(`cannot list ${this.root}`, (cb) => sftp.readdir(this.root, cb)).catch((error: TargetError) => {
      if (error.status === NO_SUCH_FILE) return [];
      throw error;
    });
    return entries.filter((e) => e.attrs.isDirectory()).map((e) => e.filename);
  }

  async listFiles(folder: string): Promise<Map<string, number>> {
    const sftp = await this.sftp();
    const files = new Map<string, number>();
    const walk = async (relative: string): Promise<void> => {
      const dir = this.at(folder, relative);
      const entries = await this.op<FileEntryWithStats[]>(`cannot list ${dir}`, (cb) => sftp.readdir(dir, cb)).catch((error: TargetError) => {
        if (error.status === NO_SUCH_FILE) return [];
        throw error;
      });
      for (const entry of entries) {
        const rel = relative ? `${relative}/${entry.filename}` : entry.filename;
        if (entry.attrs.isDirectory()) await walk(rel);
        else if (entry.attrs.isFile()) files.set(rel, entry.attrs.size);
      }
    };
    await walk('');
    return files;
  }

  async upload(localPath: string, folder: string, file: string, opts: UploadOptions): Promise<void> {
    const sftp = await this.sftp();
    const destination = this.at(folder, file);
    await this.mkdirs(path.posix.dirname(destination));
    // Writes run a window ahead of the last one the server confirmed, so after an interruption only the
    // last window can hold holes: a later run starts again one window before the end of what is there.
    const start = Math.max(0, opts.existing - WRITE_WINDOW);
    const handle = await this.op<Buffer>(`cannot write ${destination}`, (cb) => sftp.open(destination, start > 0 ? 'r+' : 'w', cb));
    const input = await open(localPath, 'r');
    try {
      const inFlight = new Set<Promise<void>>();
      let failure: TargetError | null = null;
      for (let offset = start; offset < opts.size && !failure; ) {
        opts.signal?.throwIfAborted();
        const length = Math.min(PIECE, opts.size - offset);
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await input.read(buffer, 0, length, offset);
        if (bytesRead !== length) throw new Error(`${localPath} is shorter than its manifest says`);
        await opts.limit?.take(length, opts.signal);
        const position = offset;
        const write: Promise<void> = this.op(`writing ${destination} failed`, (cb) => sftp.write(handle, buffer, 0, length, position, (err) => cb(err)))
          .then(() => opts.onBytes(length), (error: TargetError) => void (failure ??= error))
          .finally(() => inFlight.delete(write));
        inFlight.add(write);
        offset += length;
        if (inFlight.size * PIECE >= WRITE_WINDOW) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      if (failure) throw await this.explainWriteFailure(failure, opts.size - start);
      // fsync@openssh.com where the server has it: the bytes are on its disk before the copy is published.
      await new Promise<void>((resolve) => sftp.ext_openssh_fsync(handle, () => resolve()));
    } finally {
      await input.close();
      await this.closeHandle(sftp, handle);
    }
  }

  async read(folder: string, file: string, signal?: AbortSignal): Promise<Readable> {
    const sftp = await this.sftp();
    const source = this.at(folder, file);
    const attrs = await this.op<Stats>(`cannot read ${source}`, (cb) => sftp.stat(source, cb));
    const handle = await this.op<Buffer>(`cannot read ${source}`, (cb) => sftp.open(source, 'r', cb));
    const readPiece = (offset: number) => {
      const buffer = Buffer.allocUnsafe(Math.min(PIECE, attrs.size - offset));
      return this.op<number>(`reading ${source} failed`, (cb) => sftp.read(handle, buffer, 0, buffer.length, offset, (err, n) => cb(err, n))).then((n) => {
        if (n !== buffer.length) throw new TargetError(`Target "${this.name}": ${source} changed while it was read.`, 'TARGET_FAILED');
        return buffer;
      });
    };
    const closeHandle = () => this.closeHandle(sftp, handle);
    return Readable.from(
      (async function* () {
        // Several reads ahead, handed on in order.
        const ahead: Promise<Buffer>[] = [];
        let next = 0;
        try {
          while (next < attrs.size || ahead.length > 0) {
            while (next < attrs.size && ahead.length < READ_AHEAD) {
              const piece = readPiece(next);
              piece.catch(() => undefined); // awaited in turn below
              ahead.push(piece);
              next += PIECE;
            }
            signal?.throwIfAborted();
            yield await ahead.shift()!;
          }
        } finally {
          await Promise.allSettled(ahead);
          await closeHandle();
        }
      })(),
      { objectMode: false },
    );
  }

  async removeFile(folder: string, file: string): Promise<void> {
    const sftp = await this.sftp();
    const target = this.at(folder, file);
    await this.op(`cannot delete ${target}`, (cb) => sftp.unlink(target, cb)).catch((error: TargetError) => {
      if (error.status !== NO_SUCH_FILE) throw error;
    });
  }

  async publish(from: string, to: string): Promise<void> {
    const sftp = await this.sftp();
    const destination = this.at(to);
    const existing = await this.listFiles(to);
    if (existing.has(MANIFEST)) throw new TargetError(`Target "${this.name}": ${destination} already holds a manifest.`, 'TARGET_FAILED');
    if (existing.size > 0 || (await this.exists(destination))) await this.removeTree(destination);
    // Every file was flushed as it was written (upload); one rename makes them all appear at once.
    await this.op(`cannot rename ${this.at(from)} to ${destination}`, (cb) => sftp.rename(this.at(from), destination, cb));
  }

  async removeFolder(folder: string): Promise<void> {
    const sftp = await this.sftp();
    const dir = this.at(folder);
    const doomed = this.at(`.deleting-${folder.replace(/^\.+/, '')}`);
    const renamed = await this.op(`cannot remove ${dir}`, (cb) => sftp.rename(dir, doomed, cb)).then(
      () => true,
      (error: TargetError) => {
        if (error.status === NO_SUCH_FILE) return false;
        throw error;
      },
    );
    if (renamed || (await this.exists(doomed))) await this.removeTree(doomed);
  }

  async close(): Promise<void> {
    const current = this.connection;
    this.connection = null;
    const connected = await current?.catch(() => null);
    connected?.client.end();
  }

  // ---- internals --------------------------------------------------------------------------------

  private at(folder: string, file?: string): string {
    return file ? `${this.root}/${folder}/${file}` : `${this.root}/${folder}`;
  }

  private sftp(): Promise<SFTPWrapper> {
    this.connection ??= this.connect().catch((error: unknown) => {
      this.connection = null;
      throw error;
    });
    return this.connection.then((c) => c.sftp);
  }

  private async connect(): Promise<Connection> {
    const { spec } = this;
    let privateKey: Buffer | undefined;
    if (spec.privateKeyFile) {
      const keyFile = path.resolve(this.opts.cwd ?? process.cwd(), spec.privateKeyFile);
      privateKey = await readFile(keyFile).catch((error: NodeJS.ErrnoException) => {
        throw new TargetError(`Target "${this.name}": cannot read the SSH key ${keyFile}: ${error.code === 'ENOENT' ? 'no such file' : error.message}.`, 'TARGET_AUTH');
      });
    }
    if (!privateKey && !spec.password) {
      throw new TargetError(`Target "${this.name}" (${this.location}) has neither a key file nor a password: give one (--ssh-key FILE on the command line).`, 'TARGET_AUTH');
    }
    const pinned = spec.hostKey ?? (await this.opts.knownHosts?.get(this.hostPort)) ?? null;
    let seen: string | null = null;
    const client = new Client();
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('ready', resolve);
        client.once('error', reject);
        // A server (or the network) that drops the connection before the handshake ends raises no error.
        client.once('close', () => reject(Object.assign(new Error('the server closed the connection during the handshake'), { code: 'ECONNRESET' })));
        client.connect({
          host: spec.host,
          port: spec.port,
          username: spec.username,
          privateKey,
          password: spec.password,
          readyTimeout: 20_000,
          // AES-GCM first: it runs in Node's OpenSSL; ssh2's ChaCha20 is JavaScript unless its optional native part was built.
          algorithms: { cipher: ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes256-ctr', 'chacha20-poly1305@openssh.com'] },
          keepaliveInterval: 15_000,
          hostVerifier: (key: Buffer) => {
            seen = fingerprint(key);
            if (pinned === null || pinned === seen) return true;
            this.hostKeyProblem =
              `Target "${this.name}": the SFTP server ${this.hostPort} presented host key ${seen}, but ${pinned} is pinned for it` +
              `${spec.hostKey ? ' (the target\'s hostKey setting)' : this.opts.knownHosts ? ` (in ${this.opts.knownHosts.file})` : ''}. ` +
              'Nothing was sent. If the server\'s key was changed on purpose, check the new fingerprint on the server (ssh-keygen -lf) and replace the pinned one; ' +
              'otherwise someone may be intercepting the connection.';
            return false;
          },
        });
      });
    } catch (error) {
      client.end();
      if (this.hostKeyProblem) throw new TargetError(this.hostKeyProblem, 'TARGET_HOST_KEY_CHANGED');
      const e = error as Error & { level?: string; code?: string };
      const why =
        e.level === 'client-authentication'
          ? `the server refused user "${spec.username}"'s ${privateKey ? 'key' : 'password'}: check the user name and the key or password`
          : e.level === 'client-timeout'
            ? 'the server did not answer in time'
            : (networkReason(e) ?? e.message);
      throw new TargetError(this.clean(`Target "${this.name}" (${this.location}): cannot connect: ${why}.`), e.level === 'client-authentication' ? 'TARGET_AUTH' : 'TARGET_UNREACHABLE');
    }
    if (pinned === null && seen && this.opts.knownHosts) {
      await this.opts.knownHosts.pin(this.hostPort, seen);
      this.opts.onHostKeyPinned?.(
        `The SFTP server ${this.hostPort} has host key ${seen}; it is now pinned in ${this.opts.knownHosts.file}, and a server showing another key will be refused. ` +
          'Compare it with the output of ssh-keygen -lf on the server\'s host key.',
      );
    }
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s)))).catch((error: Error) => {
      client.end();
      throw new TargetError(this.clean(`Target "${this.name}" (${this.location}): the server does not offer SFTP: ${error.message}.`), 'TARGET_FAILED');
    });
    // A connection that drops makes every pending request fail; the next operation connects again.
    const alive = { open: true };
    const connection = this.connection;
    client.on('error', () => undefined);
    this.open = true;
    client.on('close', () => {
      alive.open = false;
      this.open = false;
      if (this.connection === connection) this.connection = null;
    });
    return { client, sftp, alive };
  }

  /** Closes a file handle; on a connection that is gone there is nothing to close (and no answer would come). */
  private async closeHandle(sftp: SFTPWrapper, handle: Buffer): Promise<void> {
    const current = await this.connection?.catch(() => null);
    if (!current || current.sftp !== sftp || !current.alive.open) return;
    await new Promise<void>((resolve) => sftp.close(handle, () => resolve()));
  }

  /** Runs one SFTP request; its failure becomes a TargetError whose `cause` is the SFTP status code. */
  op<T = void>(what: string, request: (cb: (err?: Error | null, result?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.open) {
        reject(new TargetError(`Target "${this.name}" (${this.location}): ${what}: the server dropped the connection.`, 'TARGET_UNREACHABLE'));
        return;
      }
      request((err, result) => {
        if (!err) return resolve(result as T);
        const e = err as Error & { code?: number | string };
        const status = typeof e.code === 'number' ? e.code : undefined;
        const why =
          status === NO_SUCH_FILE
            ? 'no such file or folder'
            : status === PERMISSION_DENIED
              ? 'permission denied on the server'
              : (networkReason(e as NodeJS.ErrnoException) ?? (/no response|not connected|channel/i.test(e.message) ? 'the server dropped the connection' : e.message));
        reject(new TargetError(this.clean(`Target "${this.name}" (${this.location}): ${what}: ${why}.`), status === undefined ? 'TARGET_UNREACHABLE' : 'TARGET_FAILED', status));
      });
    });
  }

  /** A plain "Failure" from the server while writing is most often a full disk: say so when it is. */
  private async explainWriteFailure(error: TargetError, remaining: number): Promise<TargetError> {
    if (error.code !== 'TARGET_FAILED') return error;
    const free = await this.freeBytes().catch(() => null);
    if (free !== null && free < Math.min(remaining, WRITE_WINDOW)) {
      return new TargetError(
        `Target "${this.name}" (${this.location}): the server's disk is full (${formatBytes(free)} free, ${formatBytes(remaining)} still to send): free space there or choose another folder.`,
        'TARGET_FULL',
      );
    }
    return error;
  }

  private async freeBytes(): Promise<number | null> {
    const sftp = await this.sftp();
    return new Promise((resolve) => {
      try {
        sftp.ext_openssh_statvfs(this.root, (err, info: { f_bavail: number; f_frsize: number } | undefined) =>
          resolve(err || !info ? null : Number(info.f_bavail) * Number(info.f_frsize)),
        );
      } catch {
        resolve(null); // a server without statvfs@openssh.com
      }
    });
  }

  private async exists(remote: string): Promise<boolean> {
    const sftp = await this.sftp();
    return new Promise((resolve) => sftp.stat(remote, (err) => resolve(!err)));
  }

  private async mkdirs(dir: string): Promise<void> {
    const sftp = await this.sftp();
    const parts = dir.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (!prefix) continue;
      const attrs = await new Promise<Stats | null>((resolve) => sftp.stat(prefix, (err, s) => resolve(err ? null : s)));
      if (attrs?.isDirectory()) continue;
      await this.op(`cannot create ${prefix}`, (cb) => sftp.mkdir(prefix, (err) => cb(err, undefined)));
    }
  }

  /** Deletes a folder on the server, the manifest first. */
  private async removeTree(dir: string): Promise<void> {
    const sftp = await this.sftp();
    const manifest = `${dir}/${MANIFEST}`;
    if (await this.exists(manifest)) await this.op(`cannot delete ${manifest}`, (cb) => sftp.unlink(manifest, (err) => cb(err, undefined)));
    const walk = async (current: string): Promise<void> => {
      const entries = await this.op<FileEntryWithStats[]>(`cannot list ${current}`, (cb) => sftp.readdir(current, cb));
      for (const entry of entries) {
        const child = `${current}/${entry.filename}`;
        if (entry.attrs.isDirectory()) await walk(child);
        else await this.op(`cannot delete ${child}`, (cb) => sftp.unlink(child, (err) => cb(err, undefined)));
      }
      await this.op(`cannot delete ${current}`, (cb) => sftp.rmdir(current, (err) => cb(err, undefined)));
    };
    await walk(dir);
  }

  private clean(message: string): string {
    return redact(message, [this.spec.password]);
  }
}
