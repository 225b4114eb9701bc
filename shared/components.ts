/** The five parts of a PDS data directory that a backup holds and a restore can bring back one by one. */
export const DATABASE_COMPONENTS = ['account', 'sequencer', 'did_cache'] as const;
export const DIRECTORY_COMPONENTS = ['blobs', 'actors'] as const;
export const COMPONENTS = [...DATABASE_COMPONENTS, ...DIRECTORY_COMPONENTS] as const;

export type DatabaseComponent = (typeof DATABASE_COMPONENTS)[number];
export type DirectoryComponent = (typeof DIRECTORY_COMPONENTS)[number];
export type Component = (typeof COMPONENTS)[number];
/**
 * Encrypted backups only: the PDS's configuration and secrets (pds.env or .env), `secrets.tar.gz.age`.
 * Not one of the five data components: restored with them (or alone, `--only secrets`), never swapped.
 */
export const SECRETS_COMPONENT = 'secrets' as const;
export const STORED_COMPONENTS = [...COMPONENTS, SECRETS_COMPONENT] as const;
/** What a file of a backup folder holds. */
export type StoredComponent = (typeof STORED_COMPONENTS)[number];
export const isDataComponent = (component: StoredComponent): component is Component => component !== SECRETS_COMPONENT;

export const COMPRESSIONS = ['gzip', 'zstd', 'bzip2', 'xz', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];
/** A backup's compression as list and inspect report it: 'zip' for backup.ps1's zip archives (deflate). */
export type StoredCompression = Compression | 'zip';
/** What a backup can be written with: bzip2 and xz (the guide's) are only read. */
export const WRITABLE_COMPRESSIONS = ['gzip', 'zstd', 'none'] as const satisfies readonly Compression[];

/** File extension each compression adds: `databases/account.sqlite.gz`, `blobs.tar.zst`, … */
export const COMPRESSION_EXTENSION: Record<Compression, string> = {
  gzip: '.gz',
  zstd: '.zst',
  bzip2: '.bz2',
  xz: '.xz',
  none: '',
};

/** Folder names: a finished backup, and one still being written (never taken for a good backup). */
export const BACKUP_NAME_PATTERN = /^backup_(\d{8})_(\d{6})$/;
export const INCOMPLETE_BACKUP_PREFIX = '.incomplete-backup_';
/** What a restore saves of the data it replaces, before replacing it. */
export const PRE_RESTORE_NAME_PATTERN = /^pre-restore_(\d{8})_(\d{6})$/;
