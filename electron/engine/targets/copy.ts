import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Progress } from '../../../shared/progress.js';
import { openBackupFolder } from '../backup-folder.js';
import { EngineError } from '../errors.js';
import { progressReporter, type ProgressReporter } from '../progress.js';
import type { RetentionPolicy } from '../retention.js';
import { bandwidthLimit } from './bandwidth.js';
import { listTargetBackups, pruneTarget, readSmall, sha256Of } from './catalog.js';
import { manifestLast, MANIFEST, TargetError, type Target } from './target.js';

export interface CopyOptions {
  /** A local backup folder, `…/backup_YYYYMMDD_HHMMSS`. */
  backupPath: string;
  target: Target;
  /** Applied on the target after a successful copy; null: nothing is removed there. */
  retention?: RetentionPolicy | null;
  bandwidthLimitKiBps?: number;
  now?: Date;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export interface CopyResult {
  target: string;
  location: string;
  backupName: string;
  /** The target held this backup complete already: nothing was sent. */
  alreadyThere: boolean;
  uploadedFiles: number;
  /** Bytes sent this time (a resumed file counts only what was missing). */
  uploadedBytes: number;
  /** Files an earlier, interrupted copy had sent whole (checked, not sent again). */
  keptFiles: number;
  pruned: string[];
  pruneFailures: string[];
}

interface LocalFile {
  path: string;
  size: number;
  sha256: string;
}

/**
 * Copies one local backup to a target, keeping its layout. Files go into `.incomplete-<name>` on the
 * target; each must match the manifest's size and SHA-256 there (by the server's checksum where it keeps a
 * comparable one, else read back); only then does the folder get
 * its final name (the manifest last where the target cannot rename). What the target already holds is
 * not sent again: a complete copy is left alone, an interrupted one is continued. The local backup is
 * only read. Retention on the target runs after a successful copy only.
 */
export async function copyBackup(opts: CopyOptions): Promise<CopyResult> {
  const { target, signal } = opts;
  const backup = await openBackupFolder(opts.backupPath);
  // An incremental backup is restored from its chain: the backups it needs go first, so that the target
  // never holds one without what it needs (each is sent only when the target lacks it).
  const needs = backup.manifest?.aurora_backup.contents?.holders.slice(1).map((h) => h.name) ?? [];
  if (needs.length > 0) {
    const there = new Set(await target.listFolders());
    for (const needed of needs.sort()) {
      if (!there.has(needed)) await copyBackup({ ...opts, backupPath: path.join(path.dirname(backup.path), needed), retention: null });
    }
  }
  const files = await localFiles(backup.path, backup.files);
  const staging = `.incomplete-${backup.name}`;
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  const progress = progressReporter('copy', opts.onProgress, { phase: 'uploading', bytesTotal: totalBytes * 2, filesTotal: files.length });
  const result: CopyResult = {
    target: target.name,
    location: target.location,
    backupName: backup.name,
    alreadyThere: false,
    uploadedFiles: 0,
    uploadedBytes: 0,
    keptFiles: 0,
    pruned: [],
    pruneFailures: [],
  };

  const folders = await target.listFolders();
  if (folders.includes(backup.name)) {
    const there = (await listTargetBackups(target)).find((b) => b.name === backup.name);
    const manifest = files.find((f) => f.path === MANIFEST)!;
    if (there?.status === 'complete') {
      const remoteManifest = await readSmall(await target.read(backup.name, MANIFEST, signal), `${there.path}/${MANIFEST}`);
      if (sha256Of(remoteManifest) !== manifest.sha256) {
        throw new TargetError(`Target "${target.name}" already holds a different backup named ${backup.name} (its manifest.json differs). Nothing was sent; move it aside on the target.`, 'TARGET_CONFLICT');
      }
      result.alreadyThere = true;
    } else if (there && sizesOf(there).has(MANIFEST)) {
      // A copy with a manifest that is not whole (a file lost or changed on the target): it is made again.
      await target.removeFolder(backup.name);
    }
  }

  if (!result.alreadyThere) {
    const limit = bandwidthLimit(opts.bandwidthLimitKiBps);
    const existing = await target.listFiles(staging);
    for (const file of manifestLast(files.map((f) => f.path)).map((p) => files.find((f) => f.path === p)!)) {
      signal?.throwIfAborted();
      progress.file(file.path);
      const there = existing.get(file.path);
      if (there === file.size && (await matchesOnTarget(target, staging, file, backup.path, progress, signal))) {
        result.keptFiles++;
        progress.add(file.size);
        progress.fileDone();
        continue;
      }
      const resumeFrom = there !== undefined && there < file.size ? there : 0;
      if (there !== undefined && resumeFrom === 0) await target.removeFile(staging, file.path);
      if (resumeFrom > 0) progress.add(resumeFrom);
      await target.upload(path.join(backup.path, file.path), staging, file.path, {
        size: file.size,
        existing: resumeFrom,
        limit,
        signal,
        onBytes: (bytes) => {
          result.uploadedBytes += bytes;
          progress.add(bytes);
        },
        onSkipped: (bytes) => progress.add(bytes),
      });
      result.uploadedFiles++;
      if (!(await matchesOnTarget(target, staging, file, backup.path, progress, signal))) {
        await target.removeFile(staging, file.path);
        const local = path.join(backup.path, file.path);
        if ((await hashFile(local)) !== file.sha256) {
          throw new EngineError(`${local} does not match its SHA-256 in manifest.json: the local backup is damaged. Check it with aurora-backup verify.`, 'BACKUP_DAMAGED');
        }
        throw new TargetError(
          `Target "${target.name}" (${target.location}) returned different bytes for ${file.path} than were sent (SHA-256 does not match manifest.json). ` +
            'The damaged file was deleted there and nothing was published; the target may be failing, or something between here and it alters data.',
          'TARGET_CORRUPT',
        );
      }
      progress.fileDone();
    }
    signal?.throwIfAborted();
    await target.publish(staging, backup.name, files.map((f) => f.path));
  }

  if (opts.retention) {
    const pruned = await pruneTarget(target, opts.retention, opts.now ?? new Date());
    result.pruned = pruned.removed;
    result.pruneFailures = pruned.failed;
  }
  progress.done();
  return result;
}

/**
 * Whether the target holds the local file: by the server's own checksum where it keeps one that can be
 * compared (S3's ETag: nothing is downloaded), else read back whole and compared by size and SHA-256.
 */
async function matchesOnTarget(target: Target, folder: string, file: LocalFile, backupPath: string, progress: ProgressReporter, signal?: AbortSignal): Promise<boolean> {
  const byChecksum = await target.serverChecksumMatches?.(folder, file.path, { ...file, path: path.join(backupPath, file.path) }, signal);
  if (byChecksum === true || byChecksum === false) {
    progress.add(file.size);
    return byChecksum;
  }
  return readBackMatches(target, folder, file, progress, signal);
}

/** Reads a file back from the target: whole, with the size and SHA-256 of the local one. */
async function readBackMatches(target: Target, folder: string, file: LocalFile, progress: ProgressReporter, signal?: AbortSignal): Promise<boolean> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of await target.read(folder, file.path, signal)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
    progress.add((chunk as Buffer).length);
  }
  return size === file.size && hash.digest('hex') === file.sha256;
}

/**
 * The files to send with their size and SHA-256: the manifest's records, checked against the folder
 * (sizes only: a read-back that does not match is then told apart from a damaged local file), and the manifest itself.
 */
async function localFiles(folder: string, listed: { path: string; size: number | null; sha256: string | null }[]): Promise<LocalFile[]> {
  const files: LocalFile[] = [];
  for (const file of [...listed, { path: MANIFEST, size: null, sha256: null }]) {
    const full = path.join(folder, file.path);
    const size = (await stat(full)).size;
    if (file.size !== null && file.size !== size) {
      throw new EngineError(`${full} is ${size} bytes, manifest.json records ${file.size}: the local backup is damaged. Check it with aurora-backup verify; nothing was copied.`, 'BACKUP_DAMAGED');
    }
    files.push({ path: file.path, size, sha256: file.sha256 ?? (await hashFile(full)) });
  }
  return files;
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const sizesOf = (backup: { files: { path: string }[] }) => new Set(backup.files.map((f) => f.path));
