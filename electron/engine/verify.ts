import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ReadEntry } from 'tar';
import type { VerifyFileResult, VerifyReport } from '../../shared/api.js';
import type { Progress } from '../../shared/progress.js';
import { ACCOUNT_QUERIES, AGE_HEADER_PROBLEM, CHECKSUM_PROBLEM, checkedByAge, missingAccountsProblem, ZIP_NOTICE, isDatabaseFile, readBackupFolder, sizeProblem, type BackupFile, type BackupFolder } from './backup-folder.js';
import { BLOB_REFERENCE_QUERIES, describeMissing, missingBlobs, referencesFrom, type BlobReference } from './blob-references.js';
import { assertSupportedCompression } from './compress.js';
import { ageHeaderSha256, MAX_AGE_HEAD_BYTES, type DecryptionKeys } from './crypto/age-stream.js';
import { assertKeysOpenBackup, fileDecoder } from './crypto/backup-keys.js';
import { assertKeysOpenChain, isIncremental, resolveSources, type ResolvedSources } from './chain.js';
import { EngineError } from './errors.js';
import { IntegrityChecks } from './integrity.js';
import { progressReporter, type ProgressReporter } from './progress.js';
import { EntryRules } from './safe-extract.js';
import { describeStreamError, tarLister } from './tar-lister.js';
import { readZip, unzipDatabase } from './zip-archive.js';

export interface VerifyOptions {
  /** Also decompress everything, list every archive and run integrity_check on every database. */
  deep?: boolean;
  /** Where a restore would unpack it (default: here): names Windows cannot store fail only on Windows, as in restore. */
  platform?: NodeJS.Platform;
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
  /** An encrypted backup's identity or passphrase: needed for a deep check, not for a quick one. */
  decryption?: DecryptionKeys;
}

export const LEGACY_NOTE = 'checksums not available (backup made by the original backup.sh)';

/**
 * Checks a backup folder. Quick: every file is present with the size and SHA-256 that manifest.json
 * records. Deep (and always for backups from the original scripts, which have no checksums): every
 * stream decompresses, every archive lists, every database snapshot passes `PRAGMA integrity_check`.
 * File-level problems come back in the report; a folder that is not a readable backup at all (no
 * manifest, unknown newer format, …) throws EngineError.
 */
export async function verifyBackup(folder: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const deep = opts.deep ?? false;
  const backup = await readBackupFolder(folder);
  const checkContents = deep || backup.legacy;
  if (checkContents) {
    try {
      assertSupportedCompression(backup.compression);
    } catch {
      const tool = backup.compression === 'xz' ? 'xz' : 'bzip2';
      throw new EngineError(
        `${backup.path} uses ${backup.compression} compression, which this version cannot decompress, so its contents cannot be checked. ` +
          `Check it with the system's tools instead: ${tool} -t on each file.`,
        'UNSUPPORTED_COMPRESSION',
      );
    }
  }
  const files: VerifyFileResult[] = [];
  const problems: string[] = [];

  for (const file of backup.missing) {
    files.push({ path: file.path, ok: false, detail: 'missing' });
    problems.push(`${file.path} is missing${backup.legacy ? '' : ' (manifest.json lists it)'}.`);
  }
  const present = backup.files.filter((file) => !backup.missing.includes(file));
  // An incremental backup is checked with the files of its chain it needs, against its own record of them.
  const chainFiles: Array<{ folder: BackupFolder; file: BackupFile; label: string }> = [];
  let sources: ResolvedSources | null = null;
  if (isIncremental(backup)) {
    sources = await resolveSources(backup);
    for (const problem of sources.problems) {
      files.push({ path: problem.split(' ')[0]!, ok: false, detail: problem.replace(/^\S+ /, '') });
      problems.push(`${problem}: this incremental backup needs it (its chain: ${sources.needs.join(', ')}).`);
    }
    const seen = new Set<string>();
    for (const part of [...sources.parts.values()].flat()) {
      const label = `../${part.holder}/${part.file.path}`;
      if (part.folder === backup.path || seen.has(label) || sources.problems.some((p) => p.startsWith(part.holder))) continue;
      seen.add(label);
      // Its archives hold what later backups replaced too: there is no count to compare them with.
      chainFiles.push({ folder: { ...backup, manifest: null, path: part.folder, name: part.holder, compression: part.compression }, file: part.file, label });
    }
  }
  const sizes = await Promise.all(present.map(async (file) => (await stat(path.join(backup.path, file.path))).size));
  const progress = progressReporter('verify', opts.onProgress, { phase: 'verifying', filesTotal: present.length, bytesTotal: sizes.reduce((a, b) => a + b, 0) });

  // A missing or wrong key is said once, before anything is read (a quick check reads no contents: it needs none).
  if (checkContents) await assertKeysOpenBackup(backup, opts.decryption, present);
  if (checkContents && sources) await assertKeysOpenChain(backup, sources, opts.decryption, [...sources.parts.keys()]);
  const tempDir = checkContents ? await mkdtemp(path.join(os.tmpdir(), 'aurora-verify-')) : null;
  const checker = new IntegrityChecks();
  const blobUse: BlobUse = { archived: null, references: [], storesRead: false };
  try {
    for (const [index, file] of present.entries()) {
      const check = { tempDir, checker, progress, signal: opts.signal, blobUse, platform: opts.platform, decryption: opts.decryption };
      const outcome = backup.zip ? await checkZipFile(backup, file, sizes[index]!, check) : await checkFile(ownFilesView(backup), file, sizes[index]!, check);
      files.push({ path: file.path, ok: outcome.problems.length === 0, detail: outcome.problems.length ? outcome.problems.join('; ') : outcome.notes.join(', ') });
      problems.push(...outcome.problems.map((problem) => `${file.path}: ${problem}.`));
      progress.fileDone();
    }
    for (const { folder, file, label } of chainFiles) {
      // The chain's older actor stores may use blobs deleted since: only this backup's own stores' uses count.
      const check = { tempDir, checker, progress, signal: opts.signal, platform: opts.platform, decryption: opts.decryption, blobUse: { archived: null, references: [], storesRead: false } };
      const outcome = await checkFile(folder, file, (await stat(path.join(folder.path, file.path))).size, check);
      files.push({ path: label, ok: outcome.problems.length === 0, detail: outcome.problems.length ? outcome.problems.join('; ') : outcome.notes.join(', ') });
      problems.push(...outcome.problems.map((problem) => `${label}: ${problem}.`));
    }
    const contents = backup.manifest?.aurora_backup.contents;
    if (isIncremental(backup) && contents) {
      blobUse.archived = new Set(contents.blobs.map((b) => b[0]));
      blobUse.storesRead ||= !backup.files.some((f) => f.component === 'actors');
    }
    if (checkContents) checkBlobUse(backup, blobUse, files, problems);
  } catch (error) {
    if (opts.signal?.aborted) throw new EngineError(`Verification of ${backup.path} was cancelled.`, 'CANCELLED');
    throw error;
  } finally {
    await checker.close();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
  progress.done();
  return { backupPath: backup.path, deep, ok: problems.length === 0, checksumsAvailable: !backup.legacy, files, problems, ...(backup.zip && { notice: ZIP_NOTICE }) };
}

/** An incremental backup's manifest counts what it stands for; its own archives hold only what it stored. */
function ownFilesView(backup: BackupFolder): BackupFolder {
  const block = backup.manifest?.aurora_backup;
  if (!isIncremental(backup) || !block?.contents) return backup;
  const counts = {
    ...block.counts,
    blobs: block.contents.blobs.filter((b) => b[1] === 0).length,
    actors: block.contents.actors.filter((a) => a[1] === 0 && a[2].includes('store.sqlite')).length,
  };
  return { ...backup, manifest: { ...backup.manifest!, aurora_backup: { ...block, counts } } };
}

interface FileCheck {
  tempDir: string | null;
  checker: IntegrityChecks;
  progress: ProgressReporter;
  signal?: AbortSignal;
  blobUse: BlobUse;
  platform?: NodeJS.Platform;
  decryption?: DecryptionKeys;
}

/** What a deep check learns about blobs: the blob archive's files and the blobs the actor stores' records use. */
interface BlobUse {
  /** `<did>/<cid>` of every file in the blob archive, once it was listed to its end; null until then. */
  archived: Set<string> | null;
  references: BlobReference[];
  /** Whether the actor archive was read to its end (its stores' uses are then all known). */
  storesRead: boolean;
}

/**
 * A post restored without its image answers "Blob not found": every blob that a record in the actor
 * stores uses must be in the blob archive. Named by record and blob, on the blob archive's line.
 */
function checkBlobUse(backup: BackupFolder, use: BlobUse, files: VerifyFileResult[], problems: string[]): void {
  if (!use.storesRead || use.references.length === 0) return;
  const blobsFile = backup.files.find((f) => f.component === 'blobs') ?? (isIncremental(backup) ? { path: 'the blobs this backup stands for' } : undefined);
  if (!blobsFile) {
    problems.push(`The actor stores use ${use.references.length} blobs, but the backup has no blob archive: restored posts would lose their images.`);
    return;
  }
  if (!use.archived) return; // the blob archive is missing or unreadable: reported already
  const missing = missingBlobs(use.references, use.archived);
  if (missing.length === 0) return;
  const problem = describeMissing(missing, blobsFile.path);
  problems.push(`${blobsFile.path}: ${problem}.`);
  const result = files.find((f) => f.path === blobsFile.path);
  if (result) {
    result.detail = result.ok ? problem : `${result.detail}; ${problem}`;
    result.ok = false;
  }
}

/** One read of the file feeds both the hash and, when asked, the decompression check. */
async function checkFile(backup: BackupFolder, file: BackupFile, size: number, check: FileCheck): Promise<{ problems: string[]; notes: string[] }> {
  const problems: string[] = [];
  const notes: string[] = [];
  const wrongSize = sizeProblem(file, size);
  if (wrongSize) return { problems: [wrongSize], notes };

  check.progress.file(file.path);
  const hash = createHash('sha256');
  // An age file's first bytes, until they hold its header and nonce: what a restore checks it by (checkedByAge).
  let start: Buffer | null = checkedByAge(file) ? Buffer.alloc(0) : null;
  let headerSha256: string | null = null;
  const contents = check.tempDir ? contentCheck(backup, file, check.tempDir, check.checker, check.blobUse, check.platform, check.decryption) : null;
  try {
    for await (const chunk of createReadStream(path.join(backup.path, file.path), { signal: check.signal })) {
      hash.update(chunk as Buffer);
      check.progress.add((chunk as Buffer).length);
      if (start) {
        start = Buffer.concat([start, chunk as Buffer]);
        headerSha256 = ageHeaderSha256(start);
        if (headerSha256 !== null || start.length > MAX_AGE_HEAD_BYTES) start = null;
      }
      if (contents) await contents.write(chunk as Buffer);
    }
  } catch (error) {
    if (check.signal?.aborted) throw error;
    contents?.abandon();
    problems.push(`cannot be read (${(error as Error).message})`);
    return { problems, notes };
  }
  check.signal?.throwIfAborted();

  if (file.sha256 === null) notes.push('no checksum (original backup.sh)');
  else if (hash.digest('hex') === file.sha256) notes.push('sha256 ok');
  else problems.push(CHECKSUM_PROBLEM);
  // The record a restore relies on instead of the SHA-256 must agree with the file too.
  if (checkedByAge(file)) {
    if (headerSha256 === file.ageHeaderSha256) notes.push('age header ok');
    else problems.push(AGE_HEADER_PROBLEM);
  }

  if (contents) {
    const result = await contents.finish();
    problems.push(...result.problems);
    notes.push(...result.notes);
  }
  return { problems, notes };
}

/**
 * A backup.ps1 zip: read through the zip library (the central directory is at the end, so not as a
 * stream); every entry's name checked as a restore would, its CRC-32 checked as it is read; databases
 * (the one in a database zip, each actor store) unpacked to the temp folder and integrity-checked.
 */
async function checkZipFile(backup: BackupFolder, file: BackupFile, size: number, check: FileCheck): Promise<{ problems: string[]; notes: string[] }> {
  const problems: string[] = [];
  const notes = ['no checksum (original backup.ps1)'];
  const archive = path.join(backup.path, file.path);
  const tempDir = check.tempDir!;
  check.progress.file(file.path);
  const plain = (error: unknown) => (error as Error).message.replace(/^Refused .*?: /, '').replace(/\. Nothing from it was restored\.$/, '');
  try {
    if (isDatabaseFile(file)) {
      const temp = path.join(tempDir, `${file.component}.sqlite`);
      await unzipDatabase(archive, temp, check.platform);
      const integrity = await check.checker.check(temp);
      await rm(temp, { force: true });
      if (!integrity.ok) problems.push(`integrity_check failed: ${integrity.messages.join('; ')}`);
      else notes.push('unzips', 'integrity_check ok');
    } else {
      let entries = 0;
      let passed = 0;
      const blobFiles = new Set<string>();
      const storesDir = path.join(tempDir, file.component);
      await readZip(archive, null, async (entry) => {
        entries++;
        if (entry.isDirectory) return;
        if (file.component === 'blobs') blobFiles.add(entry.relative);
        const stream = await entry.open();
        if (!entry.relative.endsWith('.sqlite')) {
          for await (const _chunk of stream); // read through: the CRC check runs at the end
          return;
        }
        const temp = path.join(storesDir, String(entries));
        mkdirSync(temp, { recursive: true });
        const db = path.join(temp, 'store.sqlite');
        await pipeline(stream, createWriteStream(db));
        const isStore = file.component === 'actors' && path.posix.basename(entry.relative) === 'store.sqlite';
        const result = await check.checker.check(db, isStore ? BLOB_REFERENCE_QUERIES : undefined);
        if (isStore && result.answers) check.blobUse.references.push(...referencesFrom(result.answers, path.posix.dirname(entry.relative)));
        if (result.ok) passed++;
        else problems.push(`${entry.name}: integrity_check failed: ${result.messages.join('; ')}`);
        await rm(temp, { recursive: true, force: true });
      }, check.platform);
      notes.push('unzips', `${entries} archive entries listed` + (passed ? `, ${passed} databases pass integrity_check` : ''));
      if (file.component === 'blobs') check.blobUse.archived = blobFiles;
      if (file.component === 'actors') check.blobUse.storesRead = true;
    }
  } catch (error) {
    if (check.signal?.aborted) throw error;
    problems.push(plain(error));
  }
  check.progress.add(size);
  return { problems, notes };
}

interface ContentCheck {
  write(chunk: Buffer): Promise<void>;
  finish(): Promise<{ problems: string[]; notes: string[] }>;
  /** Stops the decompression when the file itself could not be read. */
  abandon(): void;
}

/**
 * Decompresses into a temp file (databases, then integrity_check) or into a tar lister (archives; the
 * SQLite files inside, the actor stores, are unpacked one folder at a time and integrity-checked too).
 */
function contentCheck(backup: BackupFolder, file: BackupFile, tempDir: string, checker: IntegrityChecks, blobUse: BlobUse, platform: NodeJS.Platform | undefined, decryption: DecryptionKeys | undefined): ContentCheck {
  const head = fileDecoder(path.join(backup.path, file.path), backup.compression, file, decryption);
  const problems: string[] = [];
  const notes: string[] = [];
  let failure: Error | null = null;

  let done: Promise<void>;
  let afterwards: () => Promise<void>;
  /** Ends what a damaged archive left half-written: an entry cut off never ends by itself, and would keep the process alive. */
  let stopUnpacking = async () => undefined as void;
  if (isDatabaseFile(file)) {
    const temp = path.join(tempDir, `${file.component}.sqlite`);
    const out = createWriteStream(temp);
    done = pipeline(head, out);
    afterwards = async () => {
      const bytes = out.bytesWritten;
      const recorded = backup.manifest?.aurora_backup.database_snapshots.find((s) => s.name === file.component)?.snapshot_size;
      if (recorded !== undefined && recorded !== bytes) {
        problems.push(`decompresses to ${bytes} bytes, manifest.json records a ${recorded}-byte snapshot`);
      }
      const integrity = await checker.check(temp, file.component === 'account' ? ACCOUNT_QUERIES : undefined);
      if (integrity.ok) notes.push('integrity_check ok');
      else problems.push(`integrity_check failed: ${integrity.messages.join('; ')}`);
      const noAccounts = integrity.ok ? missingAccountsProblem(backup, file.component, bytes, integrity.answers) : null;
      if (noAccounts) problems.push(noAccounts);
      await rm(temp, { force: true });
    };
  } else {
    const stores = archivedDatabases(path.join(tempDir, file.component), checker, problems, file.component === 'actors' ? blobUse.references : null);
    stopUnpacking = () => stores.abandon();
    const blobFiles = file.component === 'blobs' ? new Set<string>() : null;
    let entries = 0;
    let regularFiles = 0;
    let actorStores = 0;
    // The rules restore applies, entry by entry: what restore would refuse fails here, with the same reason.
    const rules = new EntryRules({ topDir: backup.legacy ? null : file.component, platform, unpackedBytes: file.unpackedSize });
    done = pipeline(
      head,
      tarLister((entry) => {
        const checked = rules.check({ name: entry.path, type: entry.type, size: entry.size ?? 0 });
        if (!checked.ok) throw new EntryRefused(checked.problem);
        entries++;
        if (entry.type === 'File') {
          regularFiles++;
          blobFiles?.add(checked.relative);
          if (path.posix.basename(entry.path) === 'store.sqlite') actorStores++;
        }
        return stores.take(entry);
      }),
    );
    afterwards = async () => {
      const passed = await stores.finish();
      // Our manifest counts what went into the archives: a file lost on the way shows up here.
      const counts = backup.manifest?.aurora_backup.counts;
      if (counts && file.component === 'blobs' && regularFiles !== counts.blobs) {
        problems.push(`holds ${regularFiles} blob files, manifest.json counts ${counts.blobs}`);
      }
      if (counts && file.component === 'actors' && actorStores !== counts.actors) {
        problems.push(`holds ${actorStores} actor stores, manifest.json counts ${counts.actors}`);
      }
      notes.push(`${entries} archive entries listed` + (passed ? `, ${passed} databases pass integrity_check` : ''));
      if (blobFiles) blobUse.archived = blobFiles;
      if (file.component === 'actors') blobUse.storesRead = true;
    };
  }
  const settled = done.catch((error: Error) => {
    failure = error;
  });

  return {
    async write(chunk) {
      if (failure) return;
      if (!head.write(chunk)) await Promise.race([once(head, 'drain').catch(() => undefined), settled]);
    },
    abandon() {
      head.destroy();
      void stopUnpacking();
    },
    async finish() {
      if (!failure) head.end();
      await settled;
      if (failure) {
        problems.push(failure instanceof EntryRefused ? failure.message : describeStreamError(failure, backup.compression));
        await stopUnpacking();
      } else {
        notes.push(backup.compression === 'none' ? 'readable' : 'decompresses');
        await afterwards();
      }
      return { problems, notes };
    },
  };
}

const SQLITE_ENTRY = /^[^/\\]+\.sqlite(-wal)?$/;

/**
 * The SQLite files inside an archive (actor stores): each folder's `*.sqlite` (with its `-wal`, when the
 * original script archived a live store) is written to a temp folder and integrity-checked as soon as the
 * archive moves on to the next folder, then deleted, so temp space stays small.
 */
function archivedDatabases(tempRoot: string, checker: IntegrityChecks, problems: string[], references: BlobReference[] | null) {
  let folder: { name: string; temp: string; databases: string[]; writes: Promise<void>[] } | null = null;
  const unpacking = new Set<ReadEntry>();
  let folders = 0;
  let passed = 0;
  const checks: Promise<void>[] = [];

  const close = () => {
    const current = folder;
    if (!current) return;
    checks.push(
      (async () => {
        try {
          await Promise.all(current.writes);
          for (const entryPath of current.databases) {
            const isStore = references !== null && path.posix.basename(entryPath) === 'store.sqlite';
            const result = await checker.check(path.join(current.temp, path.posix.basename(entryPath)), isStore ? BLOB_REFERENCE_QUERIES : undefined);
            if (isStore && result.answers) references.push(...referencesFrom(result.answers, current.name));
            if (result.ok) passed++;
            else problems.push(`${entryPath}: integrity_check failed: ${result.messages.join('; ')}`);
          }
        } catch (error) {
          problems.push(`${current.databases.join(', ')}: cannot be checked (${(error as Error).message})`);
        } finally {
          await rm(current.temp, { recursive: true, force: true });
        }
      })(),
    );
  };

  return {
    /** Takes a SQLite entry's bytes (true) or leaves the entry to be skipped (false). */
    take(entry: ReadEntry): boolean {
      const name = path.posix.basename(entry.path);
      if (entry.type !== 'File' || !SQLITE_ENTRY.test(name)) return false;
      const dir = path.posix.dirname(entry.path);
      if (folder?.name !== dir) {
        close();
        folder = { name: dir, temp: path.join(tempRoot, String(++folders)), databases: [], writes: [] };
        mkdirSync(folder.temp, { recursive: true });
      }
      if (name.endsWith('.sqlite')) folder.databases.push(entry.path);
      unpacking.add(entry);
      folder.writes.push(pipeline(entry, createWriteStream(path.join(folder.temp, name))).finally(() => unpacking.delete(entry)));
      return true;
    },
    /** The archive is damaged: stops the files being written (their streams close) and waits for every check begun. */
    async abandon(): Promise<void> {
      // Only the entry the archive ended in: one whose bytes all arrived may still be on its way to disk, for the check of a whole store.
      for (const entry of unpacking) if (entry.remain > 0) entry.destroy(new Error('The archive ended early.'));
      const cutOff = folder; // its last file is incomplete: nothing there to check
      folder = null;
      if (cutOff) checks.push(Promise.allSettled(cutOff.writes).then(() => rm(cutOff.temp, { recursive: true, force: true })));
      await Promise.allSettled(checks);
    },
    /** Waits for the last checks; resolves to how many databases passed. */
    async finish(): Promise<number> {
      close();
      folder = null;
      await Promise.all(checks);
      return passed;
    },
  };
}

/** An entry the EntryRules refuse: a restore would refuse the archive for it. */
class EntryRefused extends Error {}


