import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { BackupStatus, BackupSummary } from '../../../shared/api.js';
import { COMPRESSIONS, INCOMPLETE_BACKUP_PREFIX, type Component, type Compression } from '../../../shared/components.js';
import { layoutPath, timeFromFolderName } from '../backup-folder.js';
import { EngineError } from '../errors.js';
import { isBackupFolderName, statusFromSizes, unreadSummary } from '../list.js';
import { escapeControlCharacters } from '../../../shared/format.js';
import { parseManifest } from '../manifest-schema.js';
import { selectBackupsToPrune, type RetentionPolicy } from '../retention.js';
import { MANIFEST, TargetError, type Target } from './target.js';
import { DATABASE_COMPONENTS, DIRECTORY_COMPONENTS, isDataComponent } from '../../../shared/components.js';

/** A backup folder on a target, with what its manifest promises. */
export interface RemoteBackup extends BackupSummary {
  /** Every file the copy must hold (the manifest included), with size and SHA-256 where recorded. */
  files: { path: string; size: number | null; sha256: string | null }[];
}

const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** Reads a whole (small) file of a target, refusing anything larger than a manifest can be. */
export async function readSmall(stream: Readable, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > MAX_MANIFEST_BYTES) {
      stream.destroy();
      throw new EngineError(`${what} is larger than any manifest: it is not one.`, 'MANIFEST_INVALID');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export const sha256Of = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * Every backup folder on a target, newest first, with the same statuses as a local list: complete =
 * manifest valid and every file it lists there with the recorded size; incomplete = an unfinished copy or
 * files missing; corrupt = the manifest does not parse or a file has the wrong size. No file is read but
 * the manifests.
 */
export async function listTargetBackups(target: Target): Promise<RemoteBackup[]> {
  const names = (await target.listFolders()).filter(isBackupFolderName);
  const backups: RemoteBackup[] = [];
  for (const name of names) backups.push(await describeRemote(target, name));
  return backups.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
}

async function describeRemote(target: Target, name: string): Promise<RemoteBackup> {
  const sizes = await target.listFiles(name);
  const size = [...sizes.values()].reduce((a, b) => a + b, 0);
  const base = { ...unreadSummary(name, `${target.location.replace(/ at .*$/, '').replace(/\/$/, '')}/${name}`, size), files: [] };
  const fallback = (timeFromFolderName(name) ?? new Date(0)).toISOString();
  const unusable = (status: BackupStatus, statusDetail: string): RemoteBackup => ({ ...base, createdAt: fallback, status, statusDetail });

  if (name.startsWith(INCOMPLETE_BACKUP_PREFIX)) return unusable('incomplete', 'a copy that did not finish (or one running now); the next copy of this backup continues it');
  if (!sizes.has(MANIFEST)) return unusable('incomplete', 'no manifest.json: a copy that did not finish');

  let parsed;
  try {
    const text = (await readSmall(await target.read(name, MANIFEST), `${base.path}/${MANIFEST}`)).toString('utf8');
    parsed = parseManifest(text, `${base.path}/${MANIFEST}`);
  } catch (error) {
    if (error instanceof TargetError || !(error instanceof EngineError)) throw error;
    return unusable('corrupt', error.message);
  }
  let files: RemoteBackup['files'];
  let createdAt: string;
  let compression: Compression | null;
  let components: Component[] = [];
  /** An incremental copy is restored from its chain: the target's retention keeps what it needs. */
  let needs: string[] = [];
  if (parsed.legacy) {
    const c = parsed.manifest.compression;
    compression = (COMPRESSIONS as readonly string[]).includes(c) ? (c as Compression) : null;
    components = compression ? [...DATABASE_COMPONENTS, ...DIRECTORY_COMPONENTS].filter((c) => sizes.has(layoutPath(c, compression!))) : [];
    files = compression
      ? [...DATABASE_COMPONENTS, ...DIRECTORY_COMPONENTS].map((component) => ({ path: layoutPath(component, compression!), size: null, sha256: null })).filter((f) => sizes.has(f.path))
      : [];
    createdAt = fallback;
  } else {
    compression = parsed.manifest.compression;
    files = parsed.manifest.aurora_backup.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 }));
    components = parsed.manifest.aurora_backup.files.map((f) => f.component).filter(isDataComponent);
    needs = parsed.manifest.aurora_backup.contents?.holders.slice(1).map((h) => h.name) ?? [];
    createdAt = new Date(parsed.manifest.aurora_backup.created_at).toISOString();
  }
  files.push({ path: MANIFEST, size: sizes.get(MANIFEST)!, sha256: null });

  const pdsVersion = parsed.raw.pds_version;
  return {
    ...base,
    files,
    createdAt,
    ...statusFromSizes(files, sizes),
    durationMs: parsed.legacy ? null : parsed.manifest.aurora_backup.duration_ms,
    compression,
    pdsVersion: typeof pdsVersion === 'string' ? escapeControlCharacters(pdsVersion) : null,
    legacy: parsed.legacy,
    components,
    needs,
    ...(!parsed.legacy && parsed.manifest.aurora_backup.kind === 'incremental' && { backupKind: 'incremental' as const, base: parsed.manifest.aurora_backup.base ?? null }),
  };
}

export interface TargetPruneResult {
  removed: string[];
  /** Folder name → why it was removed or kept. */
  reasons: Record<string, string>;
  failed: string[];
}

/**
 * Retention on a target, decided as locally (selectBackupsToPrune: never the newest complete copy, never
 * below keep-last), plus unfinished copies of backups older than the newest complete copy: a newer copy
 * made it, so nothing will continue them.
 */
export async function pruneTarget(target: Target, policy: RetentionPolicy, now: Date, dryRun = false): Promise<TargetPruneResult> {
  const backups = await listTargetBackups(target);
  const selection = selectBackupsToPrune(backups, policy, now);
  const newestComplete = backups.find((b) => b.status === 'complete' && !b.name.startsWith('.'));
  const stale = newestComplete
    ? backups.filter((b) => b.name.startsWith(INCOMPLETE_BACKUP_PREFIX) && b.name.slice('.incomplete-'.length) < newestComplete.name)
    : [];
  for (const b of stale) selection.reasons[b.name] = `unfinished copy of a backup older than the newest complete copy (${newestComplete!.name})`;

  const result: TargetPruneResult = { removed: [], reasons: selection.reasons, failed: [] };
  for (const backup of [...selection.remove, ...stale]) {
    if (dryRun) {
      result.removed.push(backup.name);
      continue;
    }
    try {
      await target.removeFolder(backup.name);
      result.removed.push(backup.name);
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      result.failed.push(error.message);
    }
  }
  return result;
}
