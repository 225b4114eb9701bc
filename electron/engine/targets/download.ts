import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Progress } from '../../../shared/progress.js';
import { EngineError } from '../errors.js';
import { progressReporter } from '../progress.js';
import { listTargetBackups } from './catalog.js';
import { manifestLast, TargetError, type Target } from './target.js';

export interface DownloadOptions {
  target: Target;
  /** The backup folder's name on the target, `backup_YYYYMMDD_HHMMSS`. */
  name: string;
  /** The folder that receives `<name>/` (a staging folder: `.incomplete-<name>` until every file checks out). */
  intoDir: string;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/**
 * Fetches a backup from a target into `intoDir/<name>`, checking every file's size and SHA-256 against
 * the manifest as it arrives; files an interrupted download already fetched whole are checked and kept.
 * Resolves to the local folder, which restores as any local backup. A damaged or incomplete copy on the
 * target is refused with nothing left that looks complete.
 */
export async function downloadBackup(opts: DownloadOptions): Promise<string> {
  const { target, name, signal } = opts;
  const backups = await listTargetBackups(target);
  const remote = backups.find((b) => b.name === name);
  if (!remote) {
    const complete = backups.filter((b) => b.status === 'complete').map((b) => b.name);
    throw new EngineError(
      `Target "${target.name}" (${target.location}) holds no backup named ${name}. ${complete.length ? `It holds: ${complete.slice(0, 10).join(', ')}${complete.length > 10 ? ', …' : ''}.` : 'It holds no complete backup.'}`,
      'NOT_ON_TARGET',
    );
  }
  if (remote.status !== 'complete') {
    throw new EngineError(`The copy of ${name} on target "${target.name}" is ${remote.status}${remote.statusDetail ? ` (${remote.statusDetail})` : ''}: it cannot be restored from.`, 'NOT_ON_TARGET');
  }

  // An incremental backup is restored from its chain: the backups it needs come down beside it first.
  for (const needed of [...(remote.needs ?? [])].sort()) {
    if (!(await stat(path.join(path.resolve(opts.intoDir), needed)).then(() => true, () => false))) await downloadBackup({ ...opts, name: needed });
  }
  const finalDir = path.join(path.resolve(opts.intoDir), name);
  const stagingDir = path.join(path.resolve(opts.intoDir), `.incomplete-${name}`);
  if (await stat(finalDir).then(() => true, () => false)) {
    throw new EngineError(`${finalDir} is already there: restore it directly (aurora-backup restore ${finalDir}), or move it away first.`, 'ALREADY_LOCAL');
  }
  await mkdir(stagingDir, { recursive: true });
  const total = remote.files.reduce((sum, f) => sum + (f.size ?? 0), 0);
  const progress = progressReporter('copy', opts.onProgress, { phase: 'downloading', bytesTotal: total, filesTotal: remote.files.length });

  for (const rel of manifestLast(remote.files.map((f) => f.path))) {
    const file = remote.files.find((f) => f.path === rel)!;
    const local = path.join(stagingDir, ...rel.split('/'));
    progress.file(rel);
    if (file.sha256 && (await localMatches(local, file.size, file.sha256))) {
      progress.add(file.size ?? 0);
      progress.fileDone();
      continue;
    }
    await mkdir(path.dirname(local), { recursive: true });
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        size += chunk.length;
        progress.add(chunk.length);
        callback(null, chunk);
      },
    });
    await pipeline(await target.read(name, rel, signal), tap, createWriteStream(local), { signal });
    const wrongSize = file.size !== null && size !== file.size;
    if (wrongSize || (file.sha256 && hash.digest('hex') !== file.sha256)) {
      await rm(local, { force: true });
      throw new TargetError(
        `Target "${target.name}" (${target.location}) returned ${rel} of ${name} ${wrongSize ? `with ${size} bytes, manifest.json records ${file.size}` : 'with a SHA-256 that does not match manifest.json'}: ` +
          'the copy there is damaged. Nothing was restored; restore another backup or from another target.',
        'TARGET_CORRUPT',
      );
    }
    progress.fileDone();
  }
  await rename(stagingDir, finalDir);
  progress.done();
  return finalDir;
}

async function localMatches(file: string, size: number | null, sha256: string): Promise<boolean> {
  const info = await stat(file).catch(() => null);
  if (!info?.isFile() || (size !== null && info.size !== size)) return false;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex') === sha256;
}
