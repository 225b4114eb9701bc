import type { Component, Compression, DatabaseComponent } from './components.js';

/** The manifest format this version writes; a higher one in a backup is refused by restore and verify. */
export const MANIFEST_FORMAT_VERSION = 1;

export interface ManifestFile {
  /** Relative to the backup folder, '/'-separated: `databases/account.sqlite.gz`, `blobs.tar.gz`. */
  path: string;
  component: Component;
  /** Bytes as stored (compressed). */
  size: number;
  sha256: string;
}

export interface ManifestDatabase {
  name: DatabaseComponent;
  /** Bytes of the uncompressed snapshot. */
  snapshot_size: number;
  page_count: number;
}

/**
 * manifest.json. The first block is exactly what the original scripts/backup.sh writes, so tools and
 * restore.sh that read it keep working; the `aurora_backup` block is ours.
 */
export interface Manifest {
  backup_timestamp: string; // YYYYMMDD_HHMMSS, local time, as in the folder name
  backup_version: string;
  pds_version: string;
  hostname: string;
  service_did: string;
  compression: Compression;
  databases: string[]; // e.g. ["account.sqlite", "sequencer.sqlite", "did_cache.sqlite"]
  data_directories: string[]; // e.g. ["blobs", "actors"]
  backup_size: string; // human readable, like `du -sh`

  aurora_backup: {
    format_version: number;
    app_version: string;
    created_at: string; // ISO 8601
    host: { hostname: string; platform: string; arch: string };
    files: ManifestFile[];
    database_snapshots: ManifestDatabase[];
    counts: { accounts: number; actors: number; blobs: number };
    sequencer_last_seq: number | null;
    duration_ms: number;
    total_size: number; // bytes of all stored files
  };
}
