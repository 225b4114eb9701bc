import { mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture } from '../../electron/engine/fixture.js';
import { inspectBackup } from '../../electron/engine/inspect.js';
import { makeLegacyBackup } from '../helpers/legacy-backup.js';
import { countData, makeManifestBackup } from '../helpers/manifest-backup.js';

let root: string;
let dataDir: string;
let n = 0;
const next = () => ({ at: new Date(2025, 2, 22, 14, 30, ++n) });

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'inspect-test-'));
  dataDir = path.join(root, 'data');
  await createFixture(dataDir, { accounts: 2, posts: 3, blobMB: 0.2, seed: 'inspect' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('inspectBackup', () => {
  it('gives the facts of one of our backups', async () => {
    const folder = makeManifestBackup(dataDir, path.join(root, 'b'), { ...next(), env: { PDS_VERSION: '0.4.1', PDS_HOSTNAME: 'pds.example.org' } });
    const result = await inspectBackup(folder);
    if (!result.ok) throw new Error(result.reason);
    expect(result).toMatchObject({ name: path.basename(folder), pdsVersion: '0.4.1', hostname: 'pds.example.org', compression: 'gzip', legacy: false });
    expect(result.counts).toEqual(countData(dataDir));
    expect(result.counts?.actors).toBe(2);
    expect(result.createdAt).toBe(new Date(2025, 2, 22, 14, 30, n).toISOString());
    expect(result.components.map((c) => c.component)).toEqual(['account', 'sequencer', 'did_cache', 'blobs', 'actors']);
    expect(result.components.find((c) => c.component === 'blobs')!.size).toBe(statSync(path.join(folder, 'blobs.tar.gz')).size);
    expect(result.size).toBe(result.components.reduce((sum, c) => sum + c.size, 0));
  });

  it('shows the components a partial backup holds', async () => {
    const folder = makeManifestBackup(dataDir, path.join(root, 'b'), { ...next(), skip: ['blobs', 'sequencer'] });
    const result = await inspectBackup(folder);
    expect(result.ok && result.components.filter((c) => c.present).map((c) => c.component)).toEqual(['account', 'did_cache', 'actors']);
  });

  it('flags a backup from the original backup.sh as legacy, without counts', async () => {
    const folder = makeLegacyBackup(dataDir, path.join(root, 'b'), { ...next(), env: { PDS_VERSION: '0.2.0' } });
    const result = await inspectBackup(folder);
    expect(result).toMatchObject({ ok: true, legacy: true, counts: null, pdsVersion: '0.2.0', hostname: 'unknown' });
    expect(result.ok && result.createdAt).toBe(new Date(2025, 2, 22, 14, 30, n).toISOString());
  });

  it('explains in plain words why a folder is not a usable backup', async () => {
    const empty = path.join(root, 'empty');
    mkdirSync(empty);
    expect(await inspectBackup(empty)).toEqual({ ok: false, path: empty, reason: 'This folder has no manifest.json, so it is not an Aurora Locus backup.' });

    const file = path.join(root, 'a-file.txt');
    writeFileSync(file, 'x');
    expect(await inspectBackup(file)).toMatchObject({ ok: false, reason: `${file} is a file, not a backup folder. Choose the backup_YYYYMMDD_HHMMSS folder itself.` });
    expect(await inspectBackup(path.join(root, 'nope'))).toMatchObject({ ok: false, reason: `There is no folder at ${path.join(root, 'nope')}. Check the path.` });

    const broken = makeManifestBackup(dataDir, path.join(root, 'b'), next());
    unlinkSync(path.join(broken, 'actors.tar.gz'));
    expect(await inspectBackup(broken)).toMatchObject({ ok: false, reason: 'This backup is incomplete: actors.tar.gz is missing, so it cannot be restored.' });

    const newer = makeManifestBackup(dataDir, path.join(root, 'b'), { ...next(), edit: (m) => void (m.aurora_backup.format_version = 3) });
    const result = await inspectBackup(newer);
    expect(!result.ok && result.reason).toMatch(/format version 3.*update Aurora Locus Backup/);

    const escaping = makeManifestBackup(dataDir, path.join(root, 'b'), { ...next(), edit: (m) => void (m.aurora_backup.files[0]!.path = '../../etc/passwd') });
    const escape = await inspectBackup(escaping);
    expect(!escape.ok && escape.reason).toMatch(/is not a valid backup manifest: aurora_backup\.files\.0\.path: must be a relative path inside the backup folder/);

    const moved = makeManifestBackup(dataDir, path.join(root, 'b'), { ...next(), edit: (m) => void (m.aurora_backup.files[3]!.path = 'stuff/blobs.tar.gz') });
    const layoutResult = await inspectBackup(moved);
    expect(!layoutResult.ok && layoutResult.reason).toMatch(/lists stuff\/blobs\.tar\.gz for blobs; the backup layout puts it at blobs\.tar\.gz/);

    const wrongLayout = path.join(root, 'wrong');
    mkdirSync(wrongLayout);
    writeFileSync(path.join(wrongLayout, 'manifest.json'), '{"backup_version": "1.0", "compression": "gzip"}');
    const layout = await inspectBackup(wrongLayout);
    expect(!layout.ok && layout.reason).toMatch(/has a manifest\.json but none of the backup files/);
  });
});
