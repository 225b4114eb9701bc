import type { BackupStatus, BackupSummary } from '../../../shared/api.js';
import type { Progress } from '../../../shared/progress.js';
import { describeTarget, type TargetCopyResult, type TargetSpec } from '../../../shared/targets.js';
import { EngineError } from '../errors.js';
import { listTargetBackups } from './catalog.js';
import { copyBackup, type CopyResult } from './copy.js';
import { downloadBackup } from './download.js';
import { KnownHosts } from './known-hosts.js';
import { openTarget, type TargetContext } from './open.js';

/** Failures of the local backup itself: no target can do better, so the copies stop there. */
const LOCAL_BACKUP_CODES = new Set(['NOT_A_FOLDER', 'NO_MANIFEST', 'FILE_MISSING', 'BACKUP_DAMAGED']);

export interface CopyToTargetsOptions {
  /** How targets are opened: the known-hosts file for SFTP, the environment for S3 keys, … */
  context: TargetContext;
  /** Overrides every target's own bandwidthLimitKiBps. */
  bandwidthLimitKiBps?: number;
  /** false: no target's retention is applied. Default true. */
  prune?: boolean;
  now?: Date;
  signal?: AbortSignal;
  /** Progress of the copy to `target` (its spec's name); targets are copied to one after the other. */
  onProgress?: (target: string, progress: Progress) => void;
  onTargetStart?: (spec: TargetSpec) => void;
  /** Each target's outcome as soon as it is known, success or failure. */
  onTargetDone?: (result: TargetCopyResult, copy: CopyResult | null) => void;
}

/**
 * Copies one local backup to each target in turn (copyBackup, then the target's retention). A target that
 * fails is reported in its result (`ok: false`, `error`, `code`) and the others are still tried; the local
 * backup is only read. Throws only when the local backup itself is unusable (EngineError with code
 * NOT_A_FOLDER, NO_MANIFEST, FILE_MISSING or BACKUP_DAMAGED) or when `signal` aborts.
 */
export async function copyToTargets(backupPath: string, specs: readonly TargetSpec[], opts: CopyToTargetsOptions): Promise<TargetCopyResult[]> {
  const results: TargetCopyResult[] = [];
  for (const spec of specs) {
    opts.signal?.throwIfAborted();
    opts.onTargetStart?.(spec);
    let result: TargetCopyResult;
    let copy: CopyResult | null = null;
    const target = openTarget(spec, opts.context);
    try {
      copy = await copyBackup({
        backupPath,
        target,
        retention: opts.prune === false ? null : (spec.retention ?? null),
        bandwidthLimitKiBps: opts.bandwidthLimitKiBps ?? spec.bandwidthLimitKiBps,
        now: opts.now,
        signal: opts.signal,
        onProgress: opts.onProgress && ((p) => opts.onProgress!(spec.name, p)),
      });
      result = {
        target: spec.name,
        location: copy.location,
        ok: true,
        uploadedFiles: copy.uploadedFiles,
        uploadedBytes: copy.uploadedBytes,
        alreadyThere: copy.alreadyThere,
        pruned: copy.pruned,
        pruneFailures: copy.pruneFailures,
      };
    } catch (error) {
      if (opts.signal?.aborted || !(error instanceof EngineError) || LOCAL_BACKUP_CODES.has(error.code)) throw error;
      result = {
        target: spec.name,
        location: describeTarget(spec),
        ok: false,
        uploadedFiles: 0,
        uploadedBytes: 0,
        alreadyThere: false,
        pruned: [],
        pruneFailures: [],
        error: error.message,
        code: error.code,
      };
    } finally {
      await target.close();
    }
    results.push(result);
    opts.onTargetDone?.(result, copy);
  }
  return results;
}

/** What a copy to targets reports as it goes, as plain data: a worker thread posts it to the app. */
export type CopyEvent =
  | { type: 'targetStart'; target: string }
  | { type: 'progress'; target: string; progress: Progress }
  | { type: 'targetDone'; result: TargetCopyResult }
  | { type: 'hostKeyPinned'; message: string };

/** copyToTargets' options as plain data (no objects, no callbacks), so that they can be sent to a worker thread. */
export interface CopyJobOptions {
  backupPath: string;
  /** With their secrets. */
  specs: TargetSpec[];
  /** The pinned SFTP host keys (KnownHosts' file); null: none pinned, none remembered. */
  knownHostsFile: string | null;
  bandwidthLimitKiBps?: number;
  prune?: boolean;
  now?: Date;
}

/**
 * copyToTargets with plain options and every callback as one stream of events: how the desktop app runs
 * it in its job worker, so that hashing the files (SHA-256 of a read-back, MD5 for an S3 ETag) never
 * holds up the app's main thread.
 */
export function copyToTargetsJob(opts: CopyJobOptions & { signal?: AbortSignal; onProgress: (event: CopyEvent) => void }): Promise<TargetCopyResult[]> {
  const emit = opts.onProgress;
  return copyToTargets(opts.backupPath, opts.specs, {
    context: { knownHosts: opts.knownHostsFile === null ? null : new KnownHosts(opts.knownHostsFile), onHostKeyPinned: (message) => emit({ type: 'hostKeyPinned', message }) },
    bandwidthLimitKiBps: opts.bandwidthLimitKiBps,
    prune: opts.prune,
    now: opts.now,
    signal: opts.signal,
    onTargetStart: (spec) => emit({ type: 'targetStart', target: spec.name }),
    onProgress: (target, progress) => emit({ type: 'progress', target, progress }),
    onTargetDone: (result) => emit({ type: 'targetDone', result }),
  });
}

/** What a download from a target reports as it goes, as plain data (see CopyEvent). */
export type DownloadEvent = { type: 'progress'; progress: Progress } | { type: 'hostKeyPinned'; message: string };

/** downloadBackup's options as plain data: the target as its spec (with its secret). */
export interface DownloadJobOptions {
  spec: TargetSpec;
  knownHostsFile: string | null;
  /** The backup's name on the target. */
  name: string;
  intoDir: string;
}

/** downloadBackup of a target given by its spec, its callbacks as events: how the app runs it in its job worker (every byte is hashed). */
export async function downloadBackupJob(opts: DownloadJobOptions & { signal?: AbortSignal; onProgress: (event: DownloadEvent) => void }): Promise<string> {
  const emit = opts.onProgress;
  const target = openTarget(opts.spec, {
    knownHosts: opts.knownHostsFile === null ? null : new KnownHosts(opts.knownHostsFile),
    onHostKeyPinned: (message) => emit({ type: 'hostKeyPinned', message }),
  });
  try {
    return await downloadBackup({ target, name: opts.name, intoDir: opts.intoDir, signal: opts.signal, onProgress: (progress) => emit({ type: 'progress', progress }) });
  } finally {
    await target.close();
  }
}

/** What one target holds, or why it could not be listed. */
export interface TargetCatalog {
  target: string;
  location: string;
  ok: boolean;
  /** Its backup folders, newest first, with the same statuses as a local list (see listTargetBackups). */
  backups: BackupSummary[];
  error?: string;
  code?: string;
}

/** Lists each target (one after the other, each opened and closed); a target that cannot be reached gets ok: false. */
export async function catalogTargets(specs: readonly TargetSpec[], context: TargetContext): Promise<TargetCatalog[]> {
  const catalogs: TargetCatalog[] = [];
  for (const spec of specs) {
    const target = openTarget(spec, context);
    try {
      const backups = (await listTargetBackups(target)).map(({ files: _files, ...summary }) => summary);
      catalogs.push({ target: spec.name, location: target.location, ok: true, backups });
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      catalogs.push({ target: spec.name, location: target.location, ok: false, backups: [], error: error.message, code: error.code });
    } finally {
      await target.close();
    }
  }
  return catalogs;
}

/**
 * A backup's copy on a target: its status there, `missing` when the target does not hold it (an
 * unfinished copy counts as `incomplete`), `unknown` when the target could not be listed.
 */
export type CopyState = BackupStatus | 'missing' | 'unknown';

/** backup name → target name → its copy state there, for every backup in `backupNames`. */
export function copyStates(catalogs: readonly TargetCatalog[], backupNames: readonly string[]): Record<string, Record<string, CopyState>> {
  const states: Record<string, Record<string, CopyState>> = {};
  for (const name of backupNames) {
    states[name] = {};
    for (const catalog of catalogs) {
      if (!catalog.ok) {
        states[name][catalog.target] = 'unknown';
        continue;
      }
      const copy = catalog.backups.find((b) => b.name === name);
      const unfinished = catalog.backups.some((b) => b.name === `.incomplete-${name}`);
      states[name][catalog.target] = copy ? copy.status : unfinished ? 'incomplete' : 'missing';
    }
  }
  return states;
}
