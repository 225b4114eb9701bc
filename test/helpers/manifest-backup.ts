import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { DATABASE_COMPONENTS, type Component, type DatabaseComponent } from '../../shared/components.js';
import { MANIFEST_FORMAT_VERSION, type Manifest, type ManifestFile } from '../../shared/manifest.js';
import { layoutPath } from '../../electron/engine/backup-folder.js';
import { makeLegacyBackup, type LegacyBackupOptions } from './legacy-backup.js';

/**
 * A backup in our format built by hand (until tests can use runBackup): the files as the original
 * script makes them, plus the `aurora_backup` block with each file's size and SHA-256.
 * `edit` may change the manifest before it is written.
 */
export function makeManifestBackup(
  dataDir: string,
  backupDir: string,
  opts: LegacyBackupOptions & { edit?: (manifest: Manifest) => void } = {},
): string {
  const at = opts.at ?? new Date();
  const folder = makeLegacyBackup(dataDir, backupDir, { ...opts, at });
  const present = (c: Component) => !(opts.skip ?? []).includes(c);
  const components = (['account', 'sequencer', 'did_cache', 'blobs', 'actors'] as const).filter(present);

  const files: ManifestFile[] = components.map((component) => {
    const relative = layoutPath(component, 'gzip');
    const bytes = readFileSync(path.join(folder, relative));
    return { path: relative, component, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  });
  const snapshots = files
    .filter((f) => (DATABASE_COMPONENTS as readonly string[]).includes(f.component))
    .map((f) => {
      const db = zlib.gunzipSync(readFileSync(path.join(folder, f.path)));
      return { name: f.component as DatabaseComponent, snapshot_size: db.length, page_count: db.length / db.readUInt16BE(16) };
    });

  const manifest: Manifest = {
    backup_timestamp: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    backup_version: '1.0',
    pds_version: opts.env?.PDS_VERSION ?? 'unknown',
    hostname: opts.env?.PDS_HOSTNAME ?? 'unknown',
    service_did: opts.env?.PDS_SERVICE_DID ?? 'unknown',
    compression: 'gzip',
    databases: Object.fromEntries(snapshots.map((s) => [s.name, `${s.name}.sqlite`])),
    data_directories: {
      ...(components.includes('actors') && { actor_store: 'actors' }),
      ...(components.includes('blobs') && { blob_store: 'blobs' }),
    },
    backup_size: '1M',
    aurora_backup: {
      format_version: MANIFEST_FORMAT_VERSION,
      app_version: '0.1.0',
      created_at: at.toISOString(),
      host: { hostname: os.hostname(), platform: process.platform, arch: process.arch },
      files,
      database_snapshots: snapshots,
      counts: countData(dataDir),
      sequencer_last_seq: 42,
      duration_ms: 1234,
      total_size: files.reduce((sum, f) => sum + statSync(path.join(folder, f.path)).size, 0),
    },
  };
  opts.edit?.(manifest);
  writeFileSync(path.join(folder, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return folder;
}

/** What runBackup counts: blob files, actor stores (one per account in a PDS). */
export function countData(dataDir: string): { accounts: number; actors: number; blobs: number } {
  const files = (dir: string) => readdirSync(path.join(dataDir, dir), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  const actors = files('actors').filter((e) => e.name === 'store.sqlite').length;
  return { accounts: actors, actors, blobs: files('blobs').length };
}

/**
 * Rewrites a stored file of a backup and fixes its size and SHA-256 in manifest.json (then applies `edit`
 * to the manifest), so only deep checks can notice.
 */
export function replaceAndReseal(folder: string, relative: string, bytes: Buffer, edit?: (manifest: Manifest) => void): void {
  writeFileSync(path.join(folder, relative), bytes);
  const manifestPath = path.join(folder, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  const entry = manifest.aurora_backup.files.find((f) => f.path === relative)!;
  entry.size = bytes.length;
  entry.sha256 = createHash('sha256').update(bytes).digest('hex');
  edit?.(manifest);
  writeFileSync(manifestPath, JSON.stringify(manifest));
}
