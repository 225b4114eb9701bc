export type Phase =
  | 'preparing'
  | 'snapshotting' // SQLite databases copied through SQLite
  | 'archiving' // blobs and actors streamed into archives
  | 'finalizing'
  | 'verifying'
  | 'pre-restore-backup'
  | 'unpacking'
  | 'checking'
  | 'stopping-pds' // a restore runs the stop command and waits until the PDS has let go of its files
  | 'swapping'
  | 'starting-pds' // a restore runs the start command
  | 'pruning'
  | 'uploading' // an off-site copy: sending and reading back
  | 'downloading' // fetching a backup from an off-site target
  | 'done';

/** One progress event; long operations emit these at most every ~100 ms. */
export interface Progress {
  operation: 'backup' | 'verify' | 'restore' | 'prune' | 'copy';
  phase: Phase;
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
  /** What is being worked on now, e.g. `actors.tar.gz` or `account.sqlite`. */
  current?: string;
  startedAt: string; // ISO 8601
  /** When the byte counts last started from zero (a new phase of a restore), for speed and time left. */
  phaseStartedAt?: string;
}
