import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { zstdCompressSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkEntryPath, safeExtract } from '../../electron/engine/safe-extract.js';
import { goodBlobsEntries, hostileBlobsArchives, tarGzOf, tarOf } from '../helpers/hostile-archives.js';

let sandbox: string;
beforeEach(() => {
  sandbox = mkdtempSync(path.join(os.tmpdir(), 'aurora-extract-'));
});
afterEach(() => rmSync(sandbox, { recursive: true, force: true }));

/** Every file below `dir`, relative, sorted. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)) + (d.isDirectory() ? '/' : ''))
    .sort();
}

describe('safeExtract', () => {
  it('unpacks a sound archive that the system tar also accepts', async () => {
    const archive = path.join(sandbox, 'blobs.tar.gz');
    writeFileSync(archive, tarGzOf(goodBlobsEntries()));
    expect(execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' })).toContain('blobs/did_plc_abc/bafkreia');

    const dest = path.join(sandbox, 'staging', 'blobs');
    const result = await safeExtract({ archive, compression: 'gzip', topDir: 'blobs', dest });
    expect(result.files).toBe(3);
    expect(readFileSync(path.join(dest, 'did_plc_abc', 'bafkreia'), 'utf8')).toBe('first blob');
    expect(readFileSync(path.join(dest, 'did_plc_abc', 'bafkreib'))).toEqual(Buffer.alloc(3000, 7));
    expect(tree(dest)).toEqual(['did_plc_abc/', 'did_plc_abc/bafkreia', 'did_plc_abc/bafkreib', 'empty']);
  });

  it('accepts an empty archive, as tar writes it for an empty folder', async () => {
    const archive = path.join(sandbox, 'blobs.tar.gz');
    writeFileSync(archive, tarGzOf([]));
    expect(execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' })).toBe('');
    const dest = path.join(sandbox, 'blobs');
    expect(await safeExtract({ archive, compression: 'gzip', topDir: 'blobs', dest })).toEqual({ files: 0, directories: 0, bytes: 0 });
    expect(readdirSync(dest)).toEqual([]);
  });

  it('unpacks zstd and refuses a cut zstd archive, naming it', async () => {
    const archive = path.join(sandbox, 'blobs.tar.zst');
    const zstd = zstdCompressSync(tarOf(goodBlobsEntries()));
    writeFileSync(archive, zstd);
    expect((await safeExtract({ archive, compression: 'zstd', topDir: 'blobs', dest: path.join(sandbox, 'whole') })).files).toBe(3);

    writeFileSync(archive, zstd.subarray(0, zstd.length - 20));
    const dest = path.join(sandbox, 'cut');
    // Node's zstd decoder ends a cut frame silently (no error), so the cut shows as damaged tar data.
    const error = await safeExtract({ archive, compression: 'zstd', topDir: 'blobs', dest }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^Refused .*blobs\.tar\.zst: the (zstd stream is truncated or corrupt|tar data is damaged)/);
    expect(existsSync(dest)).toBe(false);
  });

  it('stops when cancelled half-way through a file, closing every file and leaving nothing', async () => {
    const archive = path.join(sandbox, 'blobs.tar.gz');
    // Media does not compress, and each file is larger than one read, so a cancel lands inside a file.
    const media = Array.from({ length: 12 }, (_, i) => ({ name: `blobs/media-${i}`, type: '0' as const, body: randomBytes(3 << 20) }));
    writeFileSync(archive, tarGzOf([{ name: 'blobs/', type: '5' }, ...media]));
    for (const cancelAfterMiB of [1, 7, 20]) {
      const dest = path.join(sandbox, `cancelled-${cancelAfterMiB}`);
      const cancel = new AbortController();
      let read = 0;
      const onRead = (chunk: Buffer) => {
        read += chunk.length;
        if (read >= cancelAfterMiB << 20) cancel.abort();
      };
      await expect(safeExtract({ archive, compression: 'gzip', topDir: 'blobs', dest, signal: cancel.signal, onRead })).rejects.toMatchObject({ name: 'AbortError' });
      expect(existsSync(dest)).toBe(false);
    }
    const openBelowSandbox = readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(sandbox);
      } catch {
        return false;
      }
    });
    expect(openBelowSandbox).toEqual([]);
  });

  it('refuses to unpack into a folder that already exists', async () => {
    const archive = path.join(sandbox, 'blobs.tar.gz');
    writeFileSync(archive, tarGzOf(goodBlobsEntries()));
    await expect(safeExtract({ archive, compression: 'gzip', topDir: 'blobs', dest: sandbox })).rejects.toThrow(/EEXIST/);
  });

  // A naive extractor would write into `outside`, a sibling of the staging folder.
  const outsideName = 'outside';
  for (const { name, archive: bytes, problem, platform } of hostileBlobsArchives(path.join(os.tmpdir(), 'aurora-hostile', outsideName))) {
    it(`refuses a hostile archive whole: ${name}${platform ? ` (on ${platform})` : ''}`, async () => {
      const archive = path.join(sandbox, 'blobs.tar.gz');
      writeFileSync(archive, bytes);
      const dest = path.join(sandbox, 'stage', 'deeper', 'blobs');

      const error = await safeExtract({ archive, compression: 'gzip', topDir: 'blobs', dest, platform }).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(problem);
      expect((error as Error).message).toContain(archive);
      expect(existsSync(dest)).toBe(false);
      expect(existsSync(path.join(os.tmpdir(), 'aurora-hostile'))).toBe(false);
      // Nothing anywhere but the archive and the (now empty) staging parents.
      expect(tree(sandbox)).toEqual(['blobs.tar.gz', 'stage/', 'stage/deeper/']);
    });
  }
});

describe('checkEntryPath', () => {
  it('accepts ordinary names and ./ prefixes', () => {
    expect(checkEntryPath('./blobs/did_plc_x/bafy', 'blobs')).toEqual({ ok: true, relative: 'did_plc_x/bafy' });
    expect(checkEntryPath('actors/ab/did_plc_x/store.sqlite', 'actors')).toEqual({ ok: true, relative: 'ab/did_plc_x/store.sqlite' });
    expect(checkEntryPath('blobs/', 'blobs')).toEqual({ ok: true, relative: '' });
  });

  it('accepts the raw DID folders of blobs where the platform can store them, and only there', () => {
    expect(checkEntryPath('blobs/did:plc:abc/bafy', 'blobs', 'linux')).toEqual({ ok: true, relative: 'did:plc:abc/bafy' });
    expect(checkEntryPath('blobs/did:plc:abc/bafy', 'blobs', 'darwin').ok).toBe(true);
    const onWindows = checkEntryPath('blobs/did:plc:abc/bafy', 'blobs', 'win32');
    expect(onWindows.ok ? '' : onWindows.reason).toMatch(/":", which Windows does not allow/);
  });

  it.each([
    ['C:/Windows/evil', /absolute/],
    ['\\\\server\\share', /absolute/],
    ['blobs\\..\\evil', /not allow/],
    ['blobs/aux', /reserved/],
    ['blobs/LPT1.log', /reserved/],
    ['blobs/ends-with-space ', /dot or space/],
    ['blobs/x.', /dot or space/],
    ['blobs/a:b', /":"/],
    ['blobs/a?b', /not allow/],
    ['', /empty/],
  ])('refuses %j on Windows', (name, reason) => {
    const checked = checkEntryPath(name, 'blobs', 'win32');
    expect(checked.ok).toBe(false);
    expect(checked.ok ? '' : checked.reason).toMatch(reason);
  });

  it.each(['blobs/aux', 'blobs/LPT1.log', 'blobs/ends-with-space ', 'blobs/x.', 'blobs/a:b', 'blobs/a?b'])('accepts %j on Linux and macOS, which store it', (name) => {
    expect(checkEntryPath(name, 'blobs', 'linux')).toEqual({ ok: true, relative: name.slice('blobs/'.length) });
    expect(checkEntryPath(name, 'blobs', 'darwin').ok).toBe(true);
  });
});
