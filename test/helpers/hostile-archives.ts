import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { Pax } from 'tar';

/** One raw tar entry, written by hand so that tests can build archives no well-behaved tool would. */
export interface RawEntry {
  name: string;
  /** ustar type flag: '0' file, '1' hard link, '2' symlink, '3' char device, '4' block device, '5' dir, '6' FIFO. */
  type: '0' | '1' | '2' | '3' | '4' | '5' | '6';
  body?: Buffer | string;
  linkname?: string;
  /** The size the header claims, when the body is not given (appended by the caller). */
  size?: number;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** A ustar header block plus the body padded to 512 bytes; a name longer than the 100-byte field goes in a pax header before it. */
function entryBlocks(entry: RawEntry): Buffer {
  const body = Buffer.from(entry.body ?? '');
  const header = Buffer.alloc(512);
  const name = Buffer.from(entry.name, 'utf8');
  const pax = name.length > 100 ? new Pax({ path: entry.name }).encode() : Buffer.alloc(0);
  name.subarray(0, 100).copy(header, 0);
  header.write(octal(entry.type === '5' ? 0o755 : 0o644, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(entry.size ?? (entry.type === '0' ? body.length : 0), 12), 124, 'ascii');
  header.write(octal(1_700_000_000, 12), 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write(entry.type, 156, 'ascii');
  if (entry.linkname) header.write(entry.linkname, 157, 'utf8');
  header.write('ustar\u000000', 257, 'binary');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  const padded = Buffer.alloc(Math.ceil(body.length / 512) * 512);
  if (entry.type === '0') body.copy(padded);
  return Buffer.concat([pax, header, entry.type === '0' ? padded : Buffer.alloc(0)]);
}

export function tarOf(entries: RawEntry[]): Buffer {
  return Buffer.concat([...entries.map(entryBlocks), Buffer.alloc(1024)]);
}

export function tarGzOf(entries: RawEntry[]): Buffer {
  return gzipSync(tarOf(entries));
}

/**
 * A decompression bomb: `blobs/` with one file of `mib` MiB of zeros, about 1 KiB of gzip per MiB. Built
 * from gzip members (one per MiB, all the same), which gunzip reads as one stream, so it costs no time to make.
 */
export function blobsBombOf(mib: number): Buffer {
  const head = gzipSync(Buffer.concat([entryBlocks({ name: 'blobs/', type: '5' }), entryBlocks({ name: 'blobs/did_plc_abc/', type: '5' }), entryBlocks({ name: 'blobs/did_plc_abc/bomb', type: '0', size: mib * 1024 * 1024 })]));
  const zeros = gzipSync(Buffer.alloc(1024 * 1024));
  return Buffer.concat([head, ...Array.from({ length: mib }, () => zeros), gzipSync(Buffer.alloc(1024))]);
}

/** A well-formed blobs archive, the shape `tar -czf blobs.tar.gz -C data blobs` writes. */
export function goodBlobsEntries(): RawEntry[] {
  return [
    { name: 'blobs/', type: '5' },
    { name: 'blobs/did_plc_abc/', type: '5' },
    { name: 'blobs/did_plc_abc/bafkreia', type: '0', body: 'first blob' },
    { name: 'blobs/did_plc_abc/bafkreib', type: '0', body: Buffer.alloc(3000, 7) },
    { name: 'blobs/empty', type: '0', body: '' },
  ];
}

/**
 * Archives that must be refused whole. `escapeName` is a file name outside the target that a naive
 * extractor would create; the test checks that it never appears.
 */
export function hostileBlobsArchives(escapeDir: string): Array<{ name: string; archive: Buffer; problem: RegExp; platform?: NodeJS.Platform }> {
  const good = goodBlobsEntries();
  const withEntries = (...extra: RawEntry[]) => tarGzOf([...good, ...extra]);
  const archives: Array<{ name: string; archive: Buffer; problem: RegExp; platform?: NodeJS.Platform }> = [
    { name: 'path traversal', archive: withEntries({ name: 'blobs/../../escaped.txt', type: '0', body: 'x' }), problem: /"\.\."/ },
    { name: 'absolute path', archive: withEntries({ name: `${escapeDir}/absolute.txt`, type: '0', body: 'x' }), problem: /absolute path/ },
    {
      name: 'symlink escape',
      archive: withEntries(
        { name: 'blobs/link', type: '2', linkname: escapeDir },
        { name: 'blobs/link/through-link.txt', type: '0', body: 'x' },
      ),
      problem: /symbolic link/,
    },
    { name: 'hard link', archive: withEntries({ name: 'blobs/hard', type: '1', linkname: '/etc/passwd' }), problem: /hard link/ },
    { name: 'character device', archive: withEntries({ name: 'blobs/null', type: '3' }), problem: /character device/ },
    { name: 'block device', archive: withEntries({ name: 'blobs/sda', type: '4' }), problem: /block device/ },
    { name: 'FIFO', archive: withEntries({ name: 'blobs/pipe', type: '6' }), problem: /FIFO/ },
    // Names Windows cannot store: refused when restoring on Windows only.
    { name: 'Windows device name', archive: withEntries({ name: 'blobs/did_plc_abc/CON.txt', type: '0', body: 'x' }), problem: /reserved on Windows/, platform: 'win32' },
    { name: 'Windows-invalid character', archive: withEntries({ name: 'blobs/did_plc_abc/what?', type: '0', body: 'x' }), problem: /not allow/, platform: 'win32' },
    { name: 'trailing dot', archive: withEntries({ name: 'blobs/did_plc_abc/file.', type: '0', body: 'x' }), problem: /dot or space/, platform: 'win32' },
    { name: 'control character', archive: withEntries({ name: 'blobs/bad\u0007name', type: '0', body: 'x' }), problem: /control character/ },
    { name: '5000-character name', archive: withEntries({ name: `blobs/did_plc_abc/${'n'.repeat(5000)}`, type: '0', body: 'x' }), problem: /longer than 4096 bytes/ },
    { name: '300-character file name', archive: withEntries({ name: `blobs/did_plc_abc/${'n'.repeat(300)}`, type: '0', body: 'x' }), problem: /longer than 255 bytes/ },
    { name: 'link to a file inside the folder', archive: withEntries({ name: 'blobs/did_plc_abc/again', type: '1', linkname: 'blobs/did_plc_abc/bafkreia' }), problem: /hard link/ },
    { name: 'symbolic link inside the folder', archive: withEntries({ name: 'blobs/did_plc_abc/alias', type: '2', linkname: 'bafkreia' }), problem: /symbolic link/ },
    { name: 'file where the folder belongs', archive: tarGzOf([{ name: 'blobs', type: '0', body: 'x' }]), problem: /is a file where the folder blobs\/ belongs/ },
    { name: 'entry below a file', archive: withEntries({ name: 'blobs/did_plc_abc/bafkreia/inner', type: '0', body: 'x' }), problem: /holds as a file/ },
    { name: 'outside the component folder', archive: withEntries({ name: 'actors/sneaky', type: '0', body: 'x' }), problem: /not inside blobs\// },
    { name: 'duplicate entry', archive: withEntries({ name: 'blobs/did_plc_abc/bafkreia', type: '0', body: 'other' }), problem: /appears twice/ },
  ];
  const sound = tarGzOf(good);
  const truncated = sound.subarray(0, Math.floor(sound.length / 2));
  const flipped = Buffer.from(sound);
  flipped[Math.floor(flipped.length / 2)]! ^= 0x40;
  const notTar = gzipSync(Buffer.alloc(4096, 0x41));
  archives.push(
    { name: 'truncated gzip', archive: truncated, problem: /truncated or corrupt/ },
    { name: 'bit-flipped gzip', archive: flipped, problem: /truncated or corrupt|damaged/ },
    { name: 'gzip of something that is not tar', archive: notTar, problem: /damaged/ },
  );
  return archives;
}

/** One raw zip entry, written by hand so that tests can build zips no well-behaved tool would. */
export interface RawZipEntry {
  name: string;
  body?: Buffer | string;
  /** The Unix mode in the entry's external attributes (a symbolic link: 0o120777); default a plain file or folder. */
  mode?: number;
  /** The size the zip records it unpacks to, when it should lie (a bomb); default the body's. */
  recordedSize?: number;
}

/** A zip of deflated entries, as Info-ZIP on Unix writes them (names UTF-8, Unix modes in the external attributes). */
export function zipOf(entries: RawZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const body = Buffer.from(entry.body ?? '');
    const data = deflateRawSync(body);
    const folder = entry.name.endsWith('/');
    const mode = entry.mode ?? (folder ? 0o040755 : 0o100644);
    const fields = (header: Buffer, at: number) => {
      header.writeUInt16LE(20, at); // version needed
      header.writeUInt16LE(0x800, at + 2); // UTF-8 name
      header.writeUInt16LE(8, at + 4); // deflate
      header.writeUInt32LE(0, at + 6); // DOS time and date
      header.writeUInt32LE(crc32(body), at + 10);
      header.writeUInt32LE(data.length, at + 14);
      header.writeUInt32LE(entry.recordedSize ?? body.length, at + 18);
      header.writeUInt16LE(name.length, at + 22);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    fields(local, 4);
    const record = Buffer.alloc(46);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE((3 << 8) | 20, 4); // made on Unix
    fields(record, 6);
    record.writeUInt32LE((mode << 16) >>> 0, 38);
    record.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    central.push(record, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
