import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, statfs, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { formatBytes } from '../../../shared/format.js';
import type { FolderTargetSpec } from '../../../shared/targets.js';
import { MANIFEST, TargetError, type Target, type UploadOptions } from './target.js';

const CHUNK = 1024 * 1024;

/** Another disk, a mounted share, a synced cloud-drive folder: plain files, renamed into place. */
export class FolderTarget implements Target {
  readonly location: string;
  private readonly root: string;

  constructor(
    readonly name: string,
    spec: FolderTargetSpec,
    cwd = process.cwd(),
  ) {
    this.root = path.resolve(cwd, spec.path);
    this.location = this.root;
  }

  async test(): Promise<string> {
    await this.ensureRoot();
    const probe = path.join(this.root, `.aurora-write-test-${process.pid}`);
    await this.wrap(`cannot write in ${this.root}`, async () => {
      await (await open(probe, 'w')).close();
      await unlink(probe);
    });
    const space = await statfs(this.root);
    return `${this.root} is writable, ${formatBytes(space.bavail * space.bsize)} free`;
  }

  async listFolders(): Promise<string[]> {
    const entries = await readdir(this.root, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw this.failure(`cannot read ${this.root}`, error);
    });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  }

  async listFiles(folder: string): Promise<Map<string, number>> {
    const dir = this.at(folder);
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw this.failure(`cannot read ${dir}`, error);
    });
    const files = new Map<string, number>();
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const full = path.join(entry.parentPath, entry.name);
      const size = await stat(full).then((s) => s.size, () => null);
      if (size !== null) files.set(path.relative(dir, full).split(path.sep).join('/'), size);
    }
    return files;
  }

  async upload(localPath: string, folder: string, file: string, opts: UploadOptions): Promise<void> {
    const destination = this.at(folder, file);
    await this.wrap(`cannot write ${destination}`, async () => {
      await mkdir(path.dirname(destination), { recursive: true });
      const out = await open(destination, opts.existing > 0 ? 'r+' : 'w');
      const input = await open(localPath, 'r');
      try {
        const buffer = Buffer.allocUnsafe(CHUNK);
        for (let offset = opts.existing; offset < opts.size; ) {
          opts.signal?.throwIfAborted();
          const { bytesRead } = await input.read(buffer, 0, Math.min(CHUNK, opts.size - offset), offset);
          if (bytesRead === 0) throw new Error(`${localPath} is shorter than its manifest says`);
          await opts.limit?.take(bytesRead, opts.signal);
          for (let written = 0; written < bytesRead; ) {
            written += (await out.write(buffer, written, bytesRead - written, offset + written)).bytesWritten;
          }
          offset += bytesRead;
          opts.onBytes(bytesRead);
        }
        await out.truncate(opts.size);
        await out.sync();
      } finally {
        await input.close();
        await out.close();
      }
    });
  }

  async read(folder: string, file: string, signal?: AbortSignal): Promise<Readable> {
    const source = this.at(folder, file);
    await this.wrap(`cannot read ${source}`, () => stat(source));
    return createReadStream(source, { signal, highWaterMark: CHUNK });
  }

  async removeFile(folder: string, file: string): Promise<void> {
    await rm(this.at(folder, file), { force: true });
  }

  async publish(from: string, to: string): Promise<void> {
    const source = this.at(from);
    const destination = this.at(to);
    await this.wrap(`cannot rename ${source} to ${destination}`, async () => {
      // A leftover of an earlier attempt never has a manifest (it is written last), so it is safe to replace.
      const leftover = await stat(path.join(destination, MANIFEST)).then(() => false, () => true);
      if (!leftover) throw new Error(`${destination} already holds a manifest`);
      await rm(destination, { recursive: true, force: true });
      // Every file was flushed as it was written (upload); one rename makes them all appear at once.
      await rename(source, destination);
      await syncDir(this.root);
    });
  }

  async removeFolder(folder: string): Promise<void> {
    const dir = this.at(folder);
    await this.wrap(`cannot remove ${dir}`, async () => {
      const doomed = this.at(`.deleting-${folder.replace(/^\.+/, '')}`);
      await rename(dir, doomed).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      await rm(doomed, { recursive: true, force: true });
    });
  }

  async close(): Promise<void> {}

  private at(folder: string, file?: string): string {
    return file ? path.join(this.root, folder, ...file.split('/')) : path.join(this.root, folder);
  }

  private async ensureRoot(): Promise<void> {
    await this.wrap(`cannot create ${this.root}`, () => mkdir(this.root, { recursive: true }));
  }

  private async wrap<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw this.failure(what, error as NodeJS.ErrnoException);
    }
  }

  private failure(what: string, error: NodeJS.ErrnoException): TargetError {
    const why =
      error.code === 'ENOSPC'
        ? 'the disk is full: free space there or choose another folder'
        : error.code === 'EACCES' || error.code === 'EPERM'
          ? 'permission denied: check who owns the folder'
          : error.code === 'EROFS'
            ? 'the disk is mounted read-only'
            : error.message;
    return new TargetError(`Target "${this.name}": ${what}: ${why}.`, error.code === 'ENOSPC' ? 'TARGET_FULL' : 'TARGET_FAILED');
  }
}

async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  await syncFile(dir);
}
