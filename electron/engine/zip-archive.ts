import { createWriteStream, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import { EngineError } from './errors.js';
import { checkEntryPath, EntryRules } from './safe-extract.js';

/**
 * Zip archives of the original backup.ps1: `databases/<name>.sqlite.zip` (one plain copy of the live
 * database each) and `blobs.zip` / `actors.zip` (PowerShell's Compress-Archive of the folder, whose older
 * versions write `\` as the separator; yauzl reads it as `/`). Read through yauzl, entry by entry, with
 * the EntryRules tar archives follow (safe-extract.ts), for restore and verify alike; each entry's
 * CRC-32 is checked as it is read.
 */

export interface ZipEntry {
  /** '/'-separated, as stored (backslashes read as '/'). */
  name: string;
  /** Below the archive's top folder ('' for a database zip's one file). */
  relative: string;
  isDirectory: boolean;
  /** Bytes it unpacks to, as the zip's directory records them. */
  size: number;
  /** The entry's bytes, CRC-checked: the stream fails when they do not match the archive's CRC-32. */
  open(): Promise<Readable>;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/**
 * Walks a zip's entries in order; `onEntry` is awaited before the next one is read. `topDir` null: any one
 * folder (the first entry's); '' a database zip's one file. `platform`: where it is unpacked.
 */
export async function readZip(archive: string, topDir: string | null, onEntry: (entry: ZipEntry) => Promise<void>, platform?: NodeJS.Platform): Promise<void> {
  let zip: yauzl.ZipFile;
  try {
    // Names are decoded below without yauzl's own check, and sizes checked as entries are read, so that
    // the EntryRules refuse a hostile zip with the same words as a tar (yauzl would say "invalid relative path").
    zip = await yauzl.openPromise(archive, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: false });
  } catch (error) {
    throw refusal(archive, `it is not a readable zip archive, or it was cut short (${(error as Error).message})`);
  }
  const rules = new EntryRules({ topDir, platform });
  try {
    for (;;) {
      const entry = await nextEntry(zip).catch((error: Error) => {
        throw refusal(archive, `the zip directory is damaged (${error.message})`);
      });
      if (!entry) return;
      // yauzl's decoding (UTF-8 or CP437, Info-ZIP's Unicode path field, `\` read as `/`), without its name check.
      const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
      const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
      const isDirectory = name.endsWith('/') || mode === S_IFDIR;
      let relative = '';
      if (topDir !== '') {
        const type = mode === S_IFLNK ? 'SymbolicLink' : mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR ? 'SpecialFile' : isDirectory ? 'Directory' : 'File';
        const checked = rules.check({ name, type, size: entry.uncompressedSize });
        if (!checked.ok) throw refusal(archive, checked.problem);
        relative = checked.relative;
      } else {
        // A database zip holds one file at its top: checked as a folder of its own name.
        if (mode === S_IFLNK || (mode !== 0 && mode !== S_IFREG)) throw refusal(archive, `the entry "${printable(name)}" is not a regular file; a database zip holds one`);
        const checked = checkEntryPath(name, name.split('/')[0] ?? '', platform);
        if (!checked.ok || checked.relative !== '') throw refusal(archive, `the entry "${printable(name)}" ${checked.ok ? 'is not at the top of the archive' : checked.reason}`);
      }
      await onEntry({
        name,
        relative,
        isDirectory,
        size: entry.uncompressedSize,
        open: async () => {
          const stream = await zip.openReadStreamPromise(entry);
          let crc = 0;
          let bytes = 0;
          const check = new Transform({
            transform(chunk: Buffer, _encoding, callback) {
              bytes += chunk.length;
              // Stopped as soon as it passes its recorded size: a bomb is never inflated whole.
              if (bytes > entry.uncompressedSize) return callback(refusal(archive, `the entry "${printable(name)}" unpacks to more than the ${entry.uncompressedSize} bytes the zip records for it (a damaged archive, or a decompression bomb)`));
              crc = crc32(chunk, crc);
              callback(null, chunk);
            },
            flush(callback) {
              if (bytes < entry.uncompressedSize) return callback(refusal(archive, `the entry "${printable(name)}" is damaged (it unpacks to ${bytes} bytes, the zip records ${entry.uncompressedSize})`));
              callback(crc >>> 0 === entry.crc32 >>> 0 ? null : refusal(archive, `the entry "${printable(name)}" is damaged (its CRC-32 does not match)`));
            },
          });
          stream.on('error', (error) => check.destroy(refusal(archive, `the entry "${printable(name)}" cannot be read (${error.message})`)));
          check.once('close', () => stream.destroy()); // refused or abandoned half-way: stop inflating, free the file
          return stream.pipe(check);
        },
      });
    }
  } finally {
    zip.close();
  }
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry) => (cleanup(), resolve(entry));
    const onEnd = () => (cleanup(), resolve(null));
    const onError = (error: Error) => (cleanup(), reject(error));
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

/**
 * Unpacks a folder's zip into `dest` (which must not exist): the top folder's contents land in `dest`.
 * Only files and folders are created, files with `wx`; on refusal or any error `dest` is removed.
 */
export async function extractZip(opts: {
  archive: string;
  dest: string;
  platform?: NodeJS.Platform;
  onFile?: (file: string) => void;
  /** Awaited before each write with the (unpacked) bytes about to be written; throws to stop (the disk is filling, say). */
  beforeWrite?: (bytes: number) => Promise<void>;
}): Promise<{ files: number }> {
  const dest = path.resolve(opts.dest);
  mkdirSync(path.dirname(dest), { recursive: true });
  mkdirSync(dest);
  let files = 0;
  try {
    await readZip(opts.archive, null, async (entry) => {
      const target = entry.relative === '' ? dest : path.join(dest, ...entry.relative.split('/'));
      if (entry.isDirectory) {
        mkdirSync(target, { recursive: true });
        return;
      }
      mkdirSync(path.dirname(target), { recursive: true });
      await writeEntry(opts.archive, entry, target, opts.beforeWrite);
      files++;
      opts.onFile?.(target);
    }, opts.platform);
    return { files };
  } catch (error) {
    await rm(dest, { recursive: true, force: true, maxRetries: 5 });
    throw error;
  }
}

/** Writes the one database in a `<name>.sqlite.zip` to `target` (which must not exist). */
export async function unzipDatabase(archive: string, target: string, platform?: NodeJS.Platform, beforeWrite?: (bytes: number) => Promise<void>): Promise<void> {
  let written = false;
  try {
    await readZip(archive, '', async (entry) => {
      if (entry.isDirectory) return;
      if (written) throw refusal(archive, `it holds more than one file ("${printable(entry.name)}"); a database zip holds one`);
      await writeEntry(archive, entry, target, beforeWrite);
      written = true;
    }, platform);
    if (!written) throw refusal(archive, 'it holds no database file');
  } catch (error) {
    await rm(target, { force: true });
    throw error;
  }
}

async function writeEntry(archive: string, entry: ZipEntry, target: string, beforeWrite?: (bytes: number) => Promise<void>): Promise<void> {
  const asked = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      (beforeWrite ? beforeWrite(chunk.length) : Promise.resolve()).then(() => callback(null, chunk), callback);
    },
  });
  try {
    await pipeline(await entry.open(), asked, createWriteStream(target, { flags: 'wx', flush: true }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw refusal(archive, `the entry "${printable(entry.name)}" appears twice in the archive`);
    throw error;
  }
}

/** The bytes a zip's entries unpack to, as its central directory records them (nothing is decompressed); `database`: a database zip. */
export async function zipUnpackedSize(archive: string, database: boolean): Promise<number> {
  let total = 0;
  await readZip(archive, database ? '' : null, async (entry) => {
    total += entry.size;
  }).catch(() => undefined); // a damaged zip is refused, with its reason, when it is unpacked
  return total;
}

function refusal(archive: string, problem: string): EngineError {
  return new EngineError(`Refused ${archive}: ${problem}. Nothing from it was restored.`, 'ARCHIVE_REFUSED');
}

function printable(name: string): string {
  return JSON.stringify(name).slice(1, -1);
}
