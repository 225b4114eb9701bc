import type { Component, Compression, DatabaseComponent, StoredComponent } from './components.js';
import type { EncryptionMode } from './encryption.js';

/** The newest manifest format this version reads; a higher one in a backup is refused by restore and verify. */
export const MANIFEST_FORMAT_VERSION = 2;
/**
 * Full backups are written as format 1, which older versions read. An incremental backup is format 2, so
 * a version that does not know incremental backups refuses it rather than restore only its changes.
 */
export const FULL_FORMAT_VERSION = 1;
export const INCREMENTAL_FORMAT_VERSION = 2;

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
   * An age file's SHA-256 of its header and nonce: with every chunk authenticated as it is opened, this
   * checks the whole file (against anyone without its file key: see StreamEncryptor.headerSha256), so a
   * restore need not hash it. `verify` checks it too. Absent in backups of versions before it.
   */
  age_header_sha256?: string;
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
  /** What the secrets component holds, as stored below its `secrets/` folder: `pds.env`, `actors/…/key`. Empty when none was found. */
  secrets: string[];
}

export interface ManifestDatabase {
  name: DatabaseComponent;
  /** Bytes of the uncompressed snapshot. */
  snapshot_size: number;
  page_count: number;
}

/** A backup whose files hold part of what a backup stands for: itself, its base, or a backup between them. */
export interface ManifestHolder {
  /** The folder's name, a sibling of this backup's folder (`backup_20250322_143022`). */
  name: string;
  compression: Compression;
  /** That backup's files this backup needs, with the size and SHA-256 its manifest recorded when this backup was made. */
  files: ManifestFile[];
}

/**
 * The full list of what a backup stands for (every database, actor store folder and blob a restore of it
 * writes) and which backup holds each, so restore and verify never guess. Holder 0 is the backup itself.
 */
export interface ManifestContents {
  /** The data directory backed up; only a backup of the same one can be the base of an incremental backup. */
  data_dir: string;
  holders: ManifestHolder[];
  databases: Array<{ name: DatabaseComponent; holder: number; snapshot_size: number; page_count: number }>;
  /** Actor store folders (`ab/did:plc:…`, relative to actors/), the holder, and the names of their files. */
  actors: Array<[dir: string, holder: number, files: string[]]>;
  /** Blobs (`did:plc:…/bafkrei…`, relative to blobs/), the holder, and their size. */
  blobs: Array<[path: string, holder: number, size: number]>;
  /**
   * What each database (`account.sqlite`) and actor store folder (`actors/ab/did:plc:…`) looked like on disk
   * just before it was snapshotted; the next backup snapshots again whatever no longer looks the same.
   */
  fingerprints: Record<string, string>;
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
    /** Absent in backups of versions before incremental backups: those are full. */
    kind?: 'full' | 'incremental';
    /** Incremental backups: the full backup the chain starts with, and the backup this one was compared with. */
    base?: string;
    parent?: string;
    /** What the backup stands for; absent in backups of versions before incremental backups. */
    contents?: ManifestContents;
    /** Pre-restore backups only: the restore this backup was taken before. */
    pre_restore_of?: { backup_name: string; backup_path: string; data_dir: string };
  };
}
