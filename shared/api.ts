import { z } from 'zod';
import { BACKUP_NAME_PATTERN, COMPONENTS, type Component, type StoredCompression } from './components.js';
import type { Manifest } from './manifest.js';
import type { Progress } from './progress.js';
import type { FieldErrors, Settings } from './settings.js';
import type { TargetSpec } from './targets.js';
import type { EncryptionMode } from './encryption.js';

// ---- Values that cross the boundary -------------------------------------------------------------

export type BackupStatus = 'complete' | 'incomplete' | 'corrupt';

export interface BackupSummary {
  name: string; // backup_YYYYMMDD_HHMMSS
  path: string; // absolute
  createdAt: string; // ISO 8601
  size: number; // bytes on disk
  durationMs: number | null;
  status: BackupStatus;
  /** Why it is incomplete or corrupt, in words. */
  statusDetail?: string;
  compression: StoredCompression | null;
  pdsVersion: string | null;
  /** Made by the original backup.sh: no checksums in its manifest. */
  legacy: boolean;
  /** `pre-restore`: the data a restore replaced, saved just before it (its undo). */
  kind: 'backup' | 'pre-restore';
  /** For a pre-restore backup: the restore it came before. */
  preRestoreOf: { backupName: string; dataDir: string } | null;
  /** What it holds, as its manifest lists it (empty when that cannot be read). */
  components: Component[];
  /** Its files are age-encrypted: verify --deep and restore need its identity file or passphrase. */
  encrypted?: boolean;
  /** How, when it is: to age public keys (an identity file decrypts it) or with a passphrase; null when not encrypted or not recorded. */
  encryptionMode?: EncryptionMode | null;
  /** `incremental`: stores only what changed since the backups it builds on (its chain); `full` otherwise. */
  backupKind?: 'full' | 'incremental';
  /** Incremental backups: the full backup the chain starts with. */
  base?: string | null;
  /** Stored bytes a restore of it reads: its own files and those of its chain it needs (`size` for a full backup); null when unknown. */
  standsForSize?: number | null;
  /** Incremental backups: the other backups a restore of it reads (its chain); prune never removes them while it is kept. */
  needs?: string[];
}

export interface VerifyFileResult {
  path: string; // relative to the backup folder
  ok: boolean;
  detail: string; // "sha256 ok", "size 1234 expected 1240", "integrity_check: ok", …
}

export interface VerifyReport {
  backupPath: string;
  deep: boolean;
  ok: boolean;
  /** False for backups from the original scripts: only decompression, listing and integrity_check. */
  checksumsAvailable: boolean;
  files: VerifyFileResult[];
  /** Everything that is wrong, one sentence each, naming the file. Empty when ok. */
  problems: string[];
  /** Said about the backup as a whole, however it fared: a backup.ps1 backup's databases were copied without SQLite. */
  notice?: string;
}

/** A live database a pre-restore backup stored byte for byte (with its -wal and -shm) because SQLite could not read it. */
export interface KeptRawFile {
  /** The live database, e.g. `/pds/actors/ab/did:plc:…/store.sqlite`. */
  path: string;
  /** Names of the files kept beside it: `store.sqlite`, `store.sqlite-wal`, … */
  files: string[];
  reason: string;
}

export interface BackupResult {
  name: string;
  path: string;
  manifest: Manifest;
  durationMs: number;
  size: number;
  /** Backups removed by the retention that runs after a successful backup. */
  pruned: string[];
  /** Only a pre-restore backup keeps unreadable databases as they are; a backup refuses them. */
  keptRaw: KeptRawFile[];
  /** What the user should know about a backup that succeeded: a component not found, no accounts. */
  warnings?: string[];
}

export interface ComponentInBackup {
  component: Component;
  present: boolean;
  /** Stored bytes of its file(s). */
  size: number;
}

export type InspectResult =
  | {
      ok: true;
      path: string;
      name: string;
      createdAt: string;
      pdsVersion: string | null;
      hostname: string | null;
      compression: StoredCompression | null;
      legacy: boolean;
      components: ComponentInBackup[];
      counts: { accounts: number; actors: number; blobs: number } | null;
      size: number;
      /** An encrypted backup: how (public keys only), and whether it holds the PDS's secrets (pds.env). */
      encryption?: { mode: EncryptionMode; recipients: string[]; secrets: boolean } | null;
    }
  | { ok: false; path: string; reason: string };

export interface RestoreResult {
  restored: Component[];
  dataDir: string;
  /** Where the data that was replaced now lives, or null when the target held nothing to keep. */
  preRestoreBackup: string | null;
  /** How the pre-restore backup is encrypted (to the keys backups are encrypted to), or null when it is not. */
  preRestoreEncryption?: { mode: EncryptionMode; recipients: string[] } | null;
  /** Damaged databases the pre-restore backup kept as they were, byte for byte. */
  keptRaw: KeptRawFile[];
  /** Blobs uploaded since the backup that a merging blobs restore kept (0 when blobs were replaced or not restored). */
  newerBlobsKept: number;
  warnings: string[];
  durationMs: number;
  /**
   * An encrypted backup's PDS configuration (pds.env): where it was written (0600), or null when the one
   * there was kept (the same, or the user kept theirs). Absent when the restore did not include it.
   */
  configRestored?: string | null;
}

export type RunKind = 'backup' | 'restore' | 'verify' | 'prune';
export type RunTrigger = 'manual' | 'schedule' | 'catch-up' | 'cli';

export interface HistoryEntry {
  id: string;
  kind: RunKind;
  trigger: RunTrigger;
  startedAt: string;
  endedAt: string | null;
  result: 'running' | 'success' | 'failed' | 'cancelled';
  backupName?: string;
  size?: number;
  error?: string;
}

export type AppState = 'idle' | 'running' | 'failed' | 'stale';

/** The job this app runs now, known from its start (its first progress event may come later). */
export interface RunningJob {
  kind: 'backup' | 'restore';
  startedAt: string;
  /** The backup being restored. */
  backupPath?: string;
  components?: Component[];
}

/** The latest restore this app ran, kept so every view (and a reloaded window) can show how it went. */
export interface RestoreOutcome {
  entry: HistoryEntry;
  backupPath: string;
  components: Component[];
  result: RestoreResult | null;
  error: string | null;
}

// ---- Off-site copies ----------------------------------------------------------------------------

/** The last copy of one backup to one target, as the app recorded it. */
export interface CopyRecord {
  target: string;
  backupName: string;
  /** When the copy ended. */
  at: string;
  ok: boolean;
  uploadedBytes: number;
  /** Why it failed, naming the target (never a credential). */
  error?: string;
}

/** A target as the window sees it: its settings without any secret. */
export interface TargetInfo {
  /** Its settings as saved in targets.json (no secret access key, no password: those are in the keychain). */
  spec: TargetSpec;
  /** Where it points, for people: a folder, s3://bucket/prefix at endpoint, sftp://user@host:port/path. */
  location: string;
  /** A secret access key or password is kept for it in the keychain. */
  hasSecret: boolean;
  /** SFTP: the server's host key pinned (`SHA256:…`), or null until the first connection. */
  hostKey: string | null;
  lastCopy: CopyRecord | null;
  /** The newest backup copied there whole, by this app. */
  newestCopy: { backupName: string; createdAt: string } | null;
}

/** What the off-site copies are doing, part of the status (the tray and notifications depend on it). */
export interface OffsiteStatus {
  /** The copy running now. */
  copying: { target: string; backupName: string } | null;
  /** Copies waiting for it. */
  queued: number;
  /** Each enabled target's latest copy and newest complete copy. */
  targets: { name: string; lastCopy: CopyRecord | null; newestCopy: { backupName: string; createdAt: string } | null }[];
}

/** One backup's copy on one target for the Backups list. */
export type CopyStateView = { state: 'copied' | 'failed'; at: string; error?: string } | { state: 'copying' | 'queued' };

export interface AppStatus {
  state: AppState;
  job: RunningJob | null;
  running: Progress | null;
  /** The latest restore since the app started, running or finished. */
  lastRestore: RestoreOutcome | null;
  /** Why the backup folder cannot be read (then lastBackup is null: nothing there can be counted on). */
  backupDirProblem: string | null;
  lastBackup: { name: string; createdAt: string; size: number } | null;
  /** The latest backup or restore, running or finished. */
  lastRun: HistoryEntry | null;
  /** The latest restore in the history: a failed one leaves the PDS unprotected until the next backup. */
  lastRestoreRun: HistoryEntry | null;
  nextRunAt: string | null;
  paused: boolean;
  scheduleEnabled: boolean;
  freeSpace: { path: string; freeBytes: number; totalBytes: number } | null;
  staleHours: number;
  offsite: OffsiteStatus;
  /** How the app's backups are encrypted (public keys only): while off, the window says secrets are not backed up. */
  encryption: Settings['encryption'];
  /** The running restore waits for this answer (answerConfigQuestion). */
  configQuestion?: ConfigQuestion | null;
}

/**
 * A restore's question while it waits (before anything is changed): the configuration file it would
 * replace (pds.env) names another hostname or service DID than the backup's.
 */
export interface ConfigQuestion {
  /** The configuration file there now. */
  target: string;
  differences: Array<{ name: string; now: string; backup: string }>;
}

/** The app's encryption as Settings → Encryption shows it. Never a secret: no identity, no passphrase. */
export interface EncryptionState {
  mode: EncryptionMode | 'off';
  /** The age public keys (age1…) backups are encrypted to. */
  recipients: string[];
  /** Passphrase mode: the passphrase is in this computer's keychain (scheduled backups need it). */
  passphraseRemembered: boolean;
  /** The file the app keeps identities in, when the user asked it to keep a copy (0600, in the app's folder). */
  keptIdentities: string | null;
}

export type View = 'overview' | 'backups' | 'restore' | 'settings' | 'history';

export const LOG_LEVELS = ['error', 'warn', 'info'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface FolderListing {
  path: string;
  /** null at the top of the filesystem. */
  parent: string | null;
  folders: { name: string; path: string; /** Holds a manifest.json: a backup that can be restored. */ backup: boolean }[];
}

export interface LogLines {
  path: string;
  lines: { level: LogLevel | 'other'; text: string }[];
  /** The file holds older lines than these. */
  more: boolean;
}

// ---- The API: every request, its validated input and its output ---------------------------------

const path = z.string().min(1, 'A path is required').max(4096);
const targetName = z.string().min(1).max(64);
const none = z.undefined();
/** age passphrases as typed; the scrypt work makes short ones slow to guess, not safe. */
const passphrase = z.string().min(10, 'Use a passphrase of at least 10 characters').max(1024);

/** What an encrypted backup is decrypted with: an identity file, a passphrase, or what the app remembers (the keychain's passphrase, its kept identities). */
export const decryptionInput = z.union([
  z.object({ identityPath: path }).strict(),
  z.object({ passphrase: z.string().min(1, 'Enter the passphrase').max(1024) }).strict(),
  z.object({ remembered: z.literal(true) }).strict(),
]);
export type DecryptionInput = z.input<typeof decryptionInput>;

/** Input schemas. The main process (and the HTTP bridge) parse every input with these. */
export const apiInputs = {
  getStatus: none,
  getSettings: none,
  /** The whole settings object; invalid fields come back as FieldErrors, nothing is saved. */
  setSettings: z.unknown(),
  /** Reads BACKUP_* and PDS_* variables from a PDS .env file and returns the settings they imply (not saved). */
  importEnv: z.object({ path }),
  startBackup: none,
  cancel: none,
  pauseSchedule: z.object({ paused: z.boolean() }),
  listBackups: none,
  /** `decryption`: an encrypted backup's key, which a deep verification needs to read its files. */
  verifyBackup: z.object({ path, deep: z.boolean(), decryption: decryptionInput.optional() }),
  inspectBackup: z.object({ path }),
  restore: z.object({
    path,
    components: z.array(z.enum(COMPONENTS)).min(1, 'Choose at least one component').refine(
      (list) => new Set(list).size === list.length,
      'Each component once',
    ),
    /** For an encrypted backup. */
    decryption: decryptionInput.optional(),
    /** Also restore an encrypted backup's PDS configuration and secrets (pds.env). */
    secrets: z.boolean().optional(),
  }),
  /** The running restore's configuration question: replace the configuration there with the backup's, or keep it and restore the data only. */
  answerConfigQuestion: z.object({ choice: z.enum(['overwrite', 'keep']) }),
  getEncryption: none,
  /**
   * Turns encryption on with a new age key pair: the identity is written to `identityPath` (0600, never an
   * existing file; without a path the desktop asks where with a save dialog), and kept in the app's folder
   * too only when `keepCopy`. Backups are then encrypted to its public key.
   */
  generateEncryptionKey: z.object({ identityPath: path.optional(), keepCopy: z.boolean() }),
  /** Encrypt to pasted public keys, with a passphrase (kept in the OS keychain, never in settings), or not at all. */
  setEncryption: z.discriminatedUnion('mode', [
    z.object({ mode: z.literal('off') }).strict(),
    z.object({ mode: z.literal('recipients'), recipients: z.array(z.string().max(1000)).min(1, 'Paste at least one public key').max(100) }).strict(),
    z.object({ mode: z.literal('passphrase'), passphrase }).strict(),
  ]),
  getHistory: none,
  getLogPath: none,
  openFolder: z.object({ target: z.enum(['backups', 'log', 'data', 'backup']), path: path.optional() }),
  pickFolder: z.object({ purpose: z.enum(['dataDir', 'backupDir', 'restore', 'envFile', 'identityFile']) }),
  /** The sub-folders of a folder on the machine running the app (the browser's folder chooser); default: the backup folder. */
  listFolders: z.object({ path: path.optional() }),
  /** The last lines of the log file, newest last, optionally only those of a level and above. */
  readLog: z.object({ lines: z.number().int().min(1).max(2000), level: z.enum(LOG_LEVELS).optional() }),
  /** The off-site targets (targets.json), without secrets. */
  listTargets: none,
  /**
   * Adds a target: `target` as targets.json holds it (parsed with shared/targets.ts's schema), `secret` its S3
   * secret access key or SFTP password, which goes to the keychain only. Then connects to it once (an SFTP
   * server's host key is pinned then).
   */
  addTarget: z.object({ target: z.unknown(), secret: z.string().min(1).max(1024).optional() }),
  /** Connects and checks it can write there. */
  testTarget: z.object({ name: targetName }),
  /** Forgets a target and its secret; the copies on it are left there. */
  removeTarget: z.object({ name: targetName }),
  /** Each local backup's copy state per target: backup name → target name → state. */
  copyStates: none,
  /** Copies a local backup to a target (or to every enabled one) now, after any copy already running. */
  copyBackup: z.object({ path, target: targetName.optional() }),
  /** The backups on a target, newest first. */
  listTargetBackups: z.object({ name: targetName }),
  /** Downloads a backup from a target, every file checked, into the backup folder's .offsite-download/; restore it then as any backup. */
  downloadFromTarget: z.object({ name: targetName, backupName: z.string().regex(BACKUP_NAME_PATTERN, 'A backup name like backup_20250322_143022') }),
} as const;

export interface ApiOutputs {
  getStatus: AppStatus;
  getSettings: Settings;
  setSettings: { ok: true; settings: Settings } | { ok: false; errors: FieldErrors };
  importEnv: { ok: true; settings: Settings; imported: string[] } | { ok: false; error: string };
  startBackup: { started: true } | { started: false; reason: string };
  cancel: { cancelled: boolean };
  pauseSchedule: AppStatus;
  listBackups: BackupSummary[];
  verifyBackup: VerifyReport;
  inspectBackup: InspectResult;
  restore: { ok: true; result: RestoreResult } | { ok: false; error: string };
  answerConfigQuestion: { answered: boolean };
  getEncryption: EncryptionState;
  /** `cancelled`: the save dialog was closed; nothing changed. */
  generateEncryptionKey: { ok: true; recipient: string; identityPath: string; state: EncryptionState } | { ok: false; error: string; cancelled?: boolean };
  setEncryption: { ok: true; state: EncryptionState } | { ok: false; error: string };
  getHistory: HistoryEntry[];
  getLogPath: string;
  openFolder: { opened: boolean; error?: string };
  /** null when the user cancelled, or when the transport has no native dialog (the browser bridge). */
  pickFolder: string | null;
  listFolders: FolderListing;
  readLog: LogLines;
  listTargets: TargetInfo[];
  addTarget: { ok: true; target: TargetInfo; test: { ok: boolean; message: string } } | { ok: false; errors: FieldErrors };
  testTarget: { ok: boolean; message: string };
  removeTarget: { removed: boolean };
  copyStates: Record<string, Record<string, CopyStateView>>;
  copyBackup: { queued: true } | { queued: false; reason: string };
  listTargetBackups: { ok: true; backups: BackupSummary[] } | { ok: false; error: string };
  downloadFromTarget: { ok: true; path: string } | { ok: false; error: string };
}

export type ApiName = keyof typeof apiInputs;
export const API_NAMES = Object.keys(apiInputs) as ApiName[];
export type ApiInput<N extends ApiName> = z.input<(typeof apiInputs)[N]>;

/** What both transports (Electron IPC, the HTTP bridge) expose to the renderer. */
export type Api = { [N in ApiName]: ApiInput<N> extends undefined ? () => Promise<ApiOutputs[N]> : (input: ApiInput<N>) => Promise<ApiOutputs[N]> };

// ---- Events from main to renderer ---------------------------------------------------------------

export interface ApiEvents {
  progress: Progress;
  status: AppStatus;
  /** An off-site copy (uploading) or a download from a target (downloading). */
  offsiteProgress: { target: string; backupName: string; progress: Progress };
  /** A notification was clicked: show this view. */
  navigate: { view: View; backupName?: string };
}
export type ApiEventName = keyof ApiEvents;

export interface ApiClient extends Api {
  on<E extends ApiEventName>(event: E, listener: (payload: ApiEvents[E]) => void): () => void;
}

/** Electron IPC channel names. */
export const requestChannel = (name: ApiName) => `aurora:${name}`;
export const EVENT_CHANNEL = 'aurora:event';
