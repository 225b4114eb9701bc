import type { Component, Compression, DatabaseComponent, StoredComponent } from './components.js';
import type { EncryptionMode } from './encryption.js';

/** The manifest format this version writes; a higher one in a backup is refused by restore and verify. */
export const MANIFEST_FORMAT_VERSION = 1;

export interface ManifestFile {
  /** Relative to the backup folder, '/'-separated: `databases/account.sqlite.gz`, `blobs.tar.gz`. */
  path: string;
  component: StoredComponent;
  /** Bytes as stored (compressed, and encrypted when `encrypted`): what `verify` checks without any key. */
  size: number;
  sha256: string;
  /** An age file (`….age`): the compressed bytes encrypted as the manifest's `encryption` says. */
  encrypted?: boolean;
  /**
   * Bytes before compression (an archive's whole tar stream, headers included). Restore and verify refuse
   * an archive whose entries unpack to more. Absent in backups of versions before it.
   */
  unpacked_size?: number;
}

/** How an encrypted backup's files are encrypted. Public keys only: the manifest stays readable and holds no secret. */
export interface ManifestEncryption {
  format: 'age-encryption.org/v1';
  mode: EncryptionMode;
  /** The age public keys (age1…) every encrypted file is encrypted to; empty with a passphrase. */
  recipients: string[];
  /** What the secrets component holds, relative to where it came from: `pds.env`. Empty when none was found. */
  secrets: string[];
}

export interface ManifestDatabase {
  name: DatabaseComponent;
  /** Bytes of the uncompressed snapshot. */
  snapshot_size: number;
  page_count: number;
}

/**
 * manifest.json. The first block has exactly the fields and shapes the original scripts/backup.sh writes,
 * so tools and restore.sh that read it keep working; the `aurora_backup` block is ours.
 */
export interface Manifest {
  backup_timestamp: string; // UTC, as `date -u +%Y-%m-%dT%H:%M:%SZ`: "2025-03-22T14:30:22Z"
  backup_version: string;
  pds_version: string;
  hostname: string;
  service_did: string;
  compression: Compression;
  /** Component → file name of the database: {"account": "account.sqlite", …}; only those backed up. */
  databases: Partial<Record<DatabaseComponent, string>>;
  /** {"actor_store": "actors", "blob_store": "blobs"}; only those backed up. */
  data_directories: { actor_store?: string; blob_store?: string };
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
    /**
     * Where each component was, relative to the data directory ('/'-separated; absolute when outside it):
     * `{"blobs": "blocks", "account": "account.sqlite", …}`. Absent in backups of versions before it.
     */
    locations?: Partial<Record<Component, string>>;
    duration_ms: number;
    total_size: number; // bytes of all stored files
    /** Encrypted backups only. Absent: every file is plain (and no secrets component). */
    encryption?: ManifestEncryption;
    /**
     * Pre-restore backups only: databases SQLite could not read, stored as they were. A top-level one is
     * `databases/<name>.sqlite<ext>` with its companions in `companions`; an actor store sits in actors.tar
     * with its -wal and -shm.
     */
    kept_raw?: Array<{ path: string; files: string[]; reason: string; companions?: Array<{ path: string; size: number; sha256: string }> }>;
    /** Pre-restore backups only: the restore this backup was taken before. */
    pre_restore_of?: { backup_name: string; backup_path: string; data_dir: string };
  };
}
