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

/** Each phase in words, as the window and the CLI show it. */
const PHASES: Record<Phase, string> = {
  preparing: 'Preparing',
  snapshotting: 'Copying databases safely',
  archiving: 'Packing media and repositories',
  finalizing: 'Finishing',
  verifying: 'Verifying',
  'pre-restore-backup': 'Saving the current data first',
  unpacking: 'Unpacking',
  checking: 'Checking the restored data',
  'stopping-pds': 'Stopping the PDS',
  swapping: 'Putting the restored data in place',
  'starting-pds': 'Starting the PDS',
  pruning: 'Removing old backups',
  uploading: 'Copying off-site',
  downloading: 'Downloading from off-site',
  done: 'Done',
};

export const phaseLabel = (phase: Phase): string => PHASES[phase] ?? phase;

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
