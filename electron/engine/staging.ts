import { lstat, mkdir, open, opendir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { COMPONENTS, type Component } from '../../shared/components.js';
import { EngineError } from './errors.js';
import { faultPoint } from './fault-injection.js';
import { acquireBackupLock, type BackupLock } from './lock.js';

/**
 * The restore's staging area and its all-or-nothing swap.
 *
 * New data is unpacked into `.aurora-restore/new/` beside each live component (same folder, so the
 * same filesystem, so a rename is atomic). Once everything is staged and checked, a journal is
 * written and each component is swapped by renames: the live files move to `.aurora-restore/old/`,
 * the staged ones take their place. A database moves together with its `-wal`, `-shm` and `-journal`
 * files, so an old write-ahead log is never left beside a restored database (SQLite would replay it
 * into the restored data). Every step can be repeated, so after a crash `recoverInterruptedRestore`
 * simply runs the journal again: forward (the normal case: everything was already verified, only
 * renames remain) or back (after an error during the swap). Before the journal exists the data
 * directory has not been touched, and the leftover staging folder is just deleted.
 */

export const STAGING_DIR_NAME = '.aurora-restore';
const JOURNAL_FILE = 'journal.json';
/** 2: paths inside the data directory relative to it, with the identity of the folders it swaps in. */
const JOURNAL_VERSION = 2;
/** Files SQLite keeps beside a database; they belong to it and move with it. */
const DATABASE_COMPANIONS = ['-wal', '-shm', '-journal'] as const;

export interface SwapItem {
  component: Component;
  kind: 'database' | 'directory';
  /** The live path: `<data>/account.sqlite`, `<data>/blobs`. */
  target: string;
  /** The checked new content, in the staging folder beside `target`. */
  staged: string;
  /** Folder (beside `target`) that receives the live files while they are replaced. */
  aside: string;
}

export interface SwapJournal {
  version: number;
  /** `finished`: every item is in place either way, only staging is left to delete. */
  direction: 'forward' | 'back' | 'finished';
  startedAt: string;
  pid: number;
  backupPath: string;
  items: SwapItem[];
  /** Staging folders to delete once the swap is finished either way. */
  stagingRoots: string[];
}

/**
 * The journal as stored: paths inside the data directory are relative to it, so a restore run through
 * one path to it (a bind mount, a container's volume) is recovered through another; each folder it
 * swaps in is recorded by device and inode, so a journal is never run against some other directory.
 * Read back through this schema: a journal of another shape is never acted on.
 */
const storedJournalSchema = z.object({
  version: z.union([z.literal(1), z.literal(JOURNAL_VERSION)]),
  direction: z.enum(['forward', 'back', 'finished']),
  startedAt: z.string(),
  pid: z.number().int(),
  backupPath: z.string(),
  items: z
    .array(
      z.object({
        component: z.enum(COMPONENTS),
        kind: z.enum(['database', 'directory']),
        target: z.string().min(1),
        staged: z.string().min(1),
        aside: z.string().min(1),
      }),
    )
    .min(1),
  stagingRoots: z.array(z.string().min(1)),
  folders: z.record(z.string(), z.string()).optional(),
});

type StoredJournal = z.infer<typeof storedJournalSchema>;

export interface RecoveryResult {
  /** `completed`: an interrupted restore was finished; `rolled-back`: undone; `cleaned`: only staging leftovers were removed. */
  outcome: 'nothing' | 'cleaned' | 'completed' | 'rolled-back';
  components: Component[];
  backupPath: string | null;
}

/** The staging folder for a live path: beside it, so renames never cross filesystems. */
export function stagingRootFor(target: string): string {
  return path.join(path.dirname(target), STAGING_DIR_NAME);
}

export function swapItemFor(component: Component, kind: SwapItem['kind'], target: string): SwapItem {
  const root = stagingRootFor(target);
  return {
    component,
    kind,
    target,
    staged: path.join(root, 'new', kind === 'database' ? `${component}.sqlite` : component),
    aside: path.join(root, 'old', component),
  };
}

export function journalPath(dataDir: string): string {
  return path.join(dataDir, STAGING_DIR_NAME, JOURNAL_FILE);
}

/**
 * The data directory's lock. Restores and backups of the directory both take it, so a backup never
 * copies it while a restore swaps it, and two restores never swap it at once.
 */
export function lockDataDir(dataDir: string, purpose = 'restore'): Promise<BackupLock> {
  return acquireBackupLock(dataDir, purpose);
}

/**
 * Called before an interrupted swap is finished or undone, with the live databases it replaces: it
 * must make sure the PDS is stopped (or throw). Finishing a swap under a running PDS would move aside
 * everything it wrote since.
 */
export type EnsurePdsStopped = (databases: string[]) => Promise<void>;

/**
 * Swaps every item in, as one journalled operation. On an error during the swap every item already
 * swapped is put back and the error is rethrown; after a kill, `recoverInterruptedRestore` finishes
 * the job. The caller holds the data directory lock.
 */
export async function commitSwap(dataDir: string, journal: Omit<SwapJournal, 'version' | 'direction'>): Promise<void> {
  const full: SwapJournal = { version: JOURNAL_VERSION, direction: 'forward', ...journal };
  let current = full.items[0]!;
  await writeJournal(dataDir, full);
  faultPoint('journal:written');
  try {
    for (const item of full.items) {
      current = item;
      await swapIn(item);
    }
  } catch (error) {
    await writeJournal(dataDir, { ...full, direction: 'back' });
    faultPoint('journal:reversed');
    try {
      for (const item of [...full.items].reverse()) await swapOut(item);
    } catch (rollbackError) {
      throw new EngineError(
        `The restore failed (${(error as Error).message}) and putting the old data back failed too (${(rollbackError as Error).message}). ` +
          `Nothing is lost: the old data is in ${full.stagingRoots.map((r) => path.join(r, 'old')).join(', ')}. ` +
          `Fix the cause and run the restore again; it finishes putting the old data back first.`,
        'ROLLBACK_FAILED',
      );
    }
    await finish(dataDir, full);
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === 'EXDEV' || code === 'EBUSY' ? ` ${current.target} may be a mount point, which cannot be replaced by a rename: mount the folder that contains it instead.` : code === 'EPERM' || code === 'EACCES' ? ' Another program (the PDS, an antivirus, a file browser) may be holding a file in it, or this user may not write there.' : '';
    throw new EngineError(`Replacing ${current.target} failed (${(error as Error).message}); every component was put back as it was.${hint}`, code ?? 'SWAP_FAILED');
  }
  await finish(dataDir, full);
}

/**
 * Finishes or undoes a restore that was killed half-way, and deletes staging leftovers. Safe to call
 * at any time: returns `nothing` when there is nothing to do. Throws EngineError when a restore is
 * running on this data directory right now, or when `ensurePdsStopped` refuses.
 */
export async function recoverInterruptedRestore(dataDir: string, ensurePdsStopped: EnsurePdsStopped): Promise<RecoveryResult> {
  const absolute = path.resolve(dataDir);
  if (!(await exists(absolute))) return { outcome: 'nothing', components: [], backupPath: null };
  const lock = await lockDataDir(absolute);
  try {
    return await recoverLocked(absolute, ensurePdsStopped);
  } finally {
    await lock.release();
  }
}

/** `recoverInterruptedRestore` for a caller that already holds the data directory lock. */
export async function recoverLocked(dataDir: string, ensurePdsStopped: EnsurePdsStopped): Promise<RecoveryResult> {
  const journal = await readJournal(dataDir);
  if (!journal) {
    const root = path.join(dataDir, STAGING_DIR_NAME);
    if (!(await exists(root))) return { outcome: 'nothing', components: [], backupPath: null };
    await removeStagingRoot(root);
    return { outcome: 'cleaned', components: [], backupPath: null };
  }
  if (journal.direction !== 'finished') await ensurePdsStopped(await liveDatabases(journal.items));
  if (journal.direction === 'forward') for (const item of journal.items) await swapIn(item);
  else if (journal.direction === 'back') for (const item of [...journal.items].reverse()) await swapOut(item);
  await finish(dataDir, journal);
  return {
    outcome: journal.direction === 'back' ? 'rolled-back' : 'completed',
    components: journal.items.map((item) => item.component),
    backupPath: journal.backupPath,
  };
}

/**
 * Deletes a staging folder that no journal accounts for. Its `new/` is only unpacked backup data, but
 * anything in `old/` is live data a swap put aside: that is never deleted without a journal.
 */
export async function removeStagingRoot(root: string): Promise<void> {
  const oldDir = path.join(root, 'old');
  const putAside = await readdir(oldDir).catch(() => [] as string[]);
  for (const name of putAside) {
    if ((await readdir(path.join(oldDir, name)).catch(() => [])).length === 0) continue;
    throw new EngineError(
      `${path.join(oldDir, name)} holds data that an interrupted restore put aside, and no restore journal says where it belongs, so nothing was deleted. ` +
        `Put back by hand what belongs in the data directory (with the PDS stopped), then delete ${root}.`,
      'STAGING_HOLDS_DATA',
    );
  }
  await rm(root, { recursive: true, force: true });
}

/** The live databases a swap replaces (the actor stores under a swapped actors folder included): what a running PDS has open. */
async function liveDatabases(items: SwapItem[]): Promise<string[]> {
  const databases: string[] = [];
  for (const item of items) {
    if (item.kind === 'database') databases.push(item.target);
    else if (item.component === 'actors' && (await exists(item.target))) {
      for await (const entry of await opendir(item.target, { recursive: true })) {
        if (entry.isFile() && entry.name.endsWith('.sqlite')) databases.push(path.join(entry.parentPath, entry.name));
      }
    }
  }
  return databases;
}

/** The files that make up the live item, in the order they move aside (a database first, then its companions). */
function liveFiles(item: SwapItem): Array<{ live: string; aside: string }> {
  const name = path.basename(item.target);
  const files = [{ live: item.target, aside: path.join(item.aside, name) }];
  if (item.kind === 'database') {
    for (const suffix of DATABASE_COMPANIONS) files.push({ live: item.target + suffix, aside: path.join(item.aside, name + suffix) });
  }
  return files;
}

/**
 * Live files aside, staged content in. Repeatable: once `staged` is gone the item is in place. The
 * database moves aside before its `-wal`, so the live path never shows it without its log; the
 * staged database then appears alone, with no old log beside it.
 */
async function swapIn(item: SwapItem): Promise<void> {
  if (!(await exists(item.staged))) return;
  await mkdir(item.aside, { recursive: true });
  for (const file of liveFiles(item)) {
    if (!(await exists(file.live))) continue;
    await rename(file.live, file.aside);
    faultPoint(`swap:${item.component}:aside:${path.basename(file.live)}`);
  }
  await mkdir(path.dirname(item.target), { recursive: true });
  await rename(item.staged, item.target);
  await syncDir(path.dirname(item.target));
  faultPoint(`swap:${item.component}:in`);
}

/**
 * The reverse of swapIn, equally repeatable: the restored content (and anything SQLite made beside
 * it) goes back to staging, then the old files return, companions before the database.
 */
async function swapOut(item: SwapItem): Promise<void> {
  if (!(await exists(item.staged)) && (await exists(item.target))) {
    for (const file of liveFiles(item).slice(1)) await rm(file.live, { force: true });
    await rename(item.target, item.staged);
    faultPoint(`rollback:${item.component}:out`);
  }
  for (const file of liveFiles(item).reverse()) {
    if (!(await exists(file.aside))) continue;
    await rename(file.aside, file.live);
    faultPoint(`rollback:${item.component}:back:${path.basename(file.live)}`);
  }
  await syncDir(path.dirname(item.target));
}

/**
 * Marked finished first (from then on recovery only deletes), then staging emptied, the journal
 * removed, and the staging folders with it.
 */
async function finish(dataDir: string, journal: SwapJournal): Promise<void> {
  if (journal.direction !== 'finished') await writeJournal(dataDir, { ...journal, direction: 'finished' });
  const journalFile = journalPath(dataDir);
  for (const root of journal.stagingRoots) {
    for (const name of await readdir(root).catch(() => [] as string[])) {
      const entry = path.join(root, name);
      if (entry !== journalFile) await rm(entry, { recursive: true, force: true });
    }
  }
  await rm(journalFile, { force: true });
  faultPoint('journal:removed');
  for (const root of journal.stagingRoots) await rm(root, { recursive: true, force: true });
}

async function writeJournal(dataDir: string, journal: SwapJournal): Promise<void> {
  const file = journalPath(dataDir);
  await mkdir(path.dirname(file), { recursive: true });
  const stored: StoredJournal = {
    ...journal,
    version: JOURNAL_VERSION,
    items: journal.items.map((item) => ({
      ...item,
      target: relativeTo(dataDir, item.target),
      staged: relativeTo(dataDir, item.staged),
      aside: relativeTo(dataDir, item.aside),
    })),
    stagingRoots: journal.stagingRoots.map((root) => relativeTo(dataDir, root)),
    folders: {},
  };
  for (const folder of new Set(['.', ...stored.items.map((item) => path.dirname(item.target))])) {
    const found = await identity(path.resolve(dataDir, folder)).catch(() => null); // a folder the swap creates has none yet
    if (found) stored.folders![folder] = found;
  }
  const temp = `${file}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(JSON.stringify(stored, null, 2));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await syncDir(path.dirname(file));
}

async function readJournal(dataDir: string): Promise<SwapJournal | null> {
  const file = journalPath(dataDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  // The journal is written whole and renamed into place, so it either parses or was damaged or tampered with.
  const damaged = (why: string) =>
    new EngineError(
      `The restore journal ${file} is damaged (${why}), so nothing was changed. Look at ${path.dirname(file)} (old data is under old/, new under new/), ` +
        `put back by hand what belongs in the data directory with the PDS stopped, then remove the journal.`,
      'JOURNAL_DAMAGED',
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw damaged('it is not JSON');
  }
  const version = typeof json === 'object' && json !== null ? (json as { version?: unknown }).version : undefined;
  if (typeof version === 'number' && version !== JOURNAL_VERSION && version !== 1) {
    throw new EngineError(`The restore journal ${file} was written by another version of this app (format ${version}). Finish the restore with that version.`, 'JOURNAL_VERSION');
  }
  const parsed = storedJournalSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw damaged(`${issue.path.join('.') || 'its contents'}: ${issue.message}`);
  }
  const stored = parsed.data;
  for (const [folder, recorded] of Object.entries(stored.folders ?? {})) {
    const now = await identity(path.resolve(dataDir, folder)).catch(() => 'missing');
    if (now !== recorded) {
      throw new EngineError(
        `The restore journal ${file} was written for another folder than ${path.resolve(dataDir, folder)} (it is not the same directory on disk), so nothing was changed. ` +
          `Run the recovery on the data directory the restore was started on.`,
        'JOURNAL_ELSEWHERE',
      );
    }
  }
  const resolve = (p: string) => path.resolve(dataDir, p);
  return {
    ...stored,
    items: stored.items.map((item) => ({ ...item, target: resolve(item.target), staged: resolve(item.staged), aside: resolve(item.aside) })),
    stagingRoots: stored.stagingRoots.map(resolve),
  };
}

/** Inside the data directory: relative to it. Elsewhere (a component kept on another disk through a symlink): absolute. */
function relativeTo(dataDir: string, p: string): string {
  const relative = path.relative(dataDir, p);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative)) ? relative || '.' : p;
}

async function identity(folder: string): Promise<string> {
  const info = await stat(folder, { bigint: true });
  return `${info.dev}:${info.ino}`;
}

export async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}

/** Makes renames in a folder durable. Folders cannot be opened for sync on Windows; there NTFS journals metadata itself. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
