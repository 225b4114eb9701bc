import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../shared/manifest.js';
import { runBackup } from '../../electron/engine/backup.js';
import { resolveConfig } from '../../electron/engine/config.js';
import { createFixture } from '../../electron/engine/fixture.js';
import { restoreBackup } from '../../electron/engine/restore.js';
import { treeDigest } from '../helpers/digest.js';
import { makeLegacyBackup } from '../helpers/legacy-backup.js';
import { runCli } from '../helpers/run-cli.js';
import { makeTempDir } from '../helpers/tmp.js';

/** A data directory as the official installer lays it out: blobs in <data>/blocks, settings in <data>/pds.env. */
async function installerLayout(root: string, name = 'pds') {
  const dataDir = path.join(root, name);
  await createFixture(dataDir, { accounts: 3, posts: 6, blobMB: 1, seed: 'installer' });
  renameSync(path.join(dataDir, 'blobs'), path.join(dataDir, 'blocks'));
  writeInstallerEnv(dataDir);
  return dataDir;
}

function writeInstallerEnv(dataDir: string) {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(
    path.join(dataDir, 'pds.env'),
    `PDS_HOSTNAME=pds.example.com\nPDS_DATA_DIRECTORY=${dataDir}\nPDS_BLOBSTORE_DISK_LOCATION=${dataDir}/blocks\nPDS_BLOB_UPLOAD_LIMIT=52428800\n`,
  );
}

const blobFiles = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;

describe('configured locations with a data directory flag', () => {
  it('reads the data directory’s pds.env, says so, and honours its blob location, also moved to another data directory', async () => {
    const root = makeTempDir('locations');
    const dataDir = path.join(root, 'pds');
    writeInstallerEnv(dataDir);
    const config = await resolveConfig({ cwd: root, env: {}, dataDir });
    expect(config.envFile).toBe(path.join(dataDir, 'pds.env'));
    expect(config.notes).toEqual([`Settings read from ${path.join(dataDir, 'pds.env')}, found in the data directory (choose another file with --env-file).`]);
    expect(config.locations).toMatchObject({ blobsDir: path.join(dataDir, 'blocks'), actorsDir: path.join(dataDir, 'actors'), accountDb: path.join(dataDir, 'account.sqlite') });
    expect(config.hostname).toBe('pds.example.com');

    // backup --data /pds --env-file /pds/pds.env: the blobs are in blocks/ (this once backed up 0 blobs).
    const explicit = await resolveConfig({ cwd: root, env: {}, dataDir, envFile: path.join(dataDir, 'pds.env') });
    expect(explicit.locations.blobsDir).toBe(path.join(dataDir, 'blocks'));
    expect(explicit.notes).toEqual([]);
    // The same settings given with --env-file, for a copy of the data directory elsewhere: blocks/ inside the copy.
    const copy = path.join(root, 'copy');
    const moved = await resolveConfig({ cwd: root, env: {}, dataDir: copy, envFile: path.join(dataDir, 'pds.env') });
    expect(moved.locations.blobsDir).toBe(path.join(copy, 'blocks'));
    // From the environment, as a systemd unit's EnvironmentFile gives them.
    const fromEnv = await resolveConfig({ cwd: root, env: { PDS_DATA_DIRECTORY: dataDir, PDS_BLOBSTORE_DISK_LOCATION: `${dataDir}/blocks` }, dataDir: copy });
    expect(fromEnv.locations.blobsDir).toBe(path.join(copy, 'blocks'));
    // Without any PDS_DATA_DIRECTORY the locations are taken as they are.
    const plain = await resolveConfig({ cwd: root, env: { PDS_BLOBSTORE_DISK_LOCATION: '/mnt/media/blobs' }, dataDir: copy });
    expect(plain.locations.blobsDir).toBe('/mnt/media/blobs');
  });

  it('backs up and restores every blob of the official installer’s layout, each component where the target’s settings put it', async () => {
    const root = makeTempDir('locations');
    const dataDir = await installerLayout(root);
    const blobs = blobFiles(path.join(dataDir, 'blocks'));
    expect(blobs).toBeGreaterThan(0);
    const out = path.join(root, 'backups');

    const run = await runCli(['backup', '--data', dataDir, '--out', out, '--no-prune'], { cwd: root });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`Settings read from ${path.join(dataDir, 'pds.env')}, found in the data directory`);
    expect(run.stdout).toContain(`Held: account.sqlite 3 accounts; sequencer.sqlite events up to `);
    expect(run.stdout).toContain(`did_cache.sqlite 12 KB; blocks/ ${blobs} blobs; actors/ 3 actor stores`);
    const [name] = readdirSync(out);
    const backupPath = path.join(out, name!);
    const manifest = JSON.parse(readFileSync(path.join(backupPath, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.aurora_backup.locations).toEqual({ account: 'account.sqlite', sequencer: 'sequencer.sqlite', did_cache: 'did_cache.sqlite', actors: 'actors', blobs: 'blocks' });
    expect(manifest.aurora_backup.counts.blobs).toBe(blobs);
    // restore.sh and tar still find blobs.tar.gz in the guide's layout.
    expect(execFileSync('tar', ['-tzf', path.join(backupPath, 'blobs.tar.gz')], { encoding: 'utf8' })).toMatch(/^blobs\/did:plc:/m);

    // Into a new server set up by the installer: blocks/ again, every blob and record as they were.
    const sameLayout = path.join(root, 'new-server');
    writeInstallerEnv(sameLayout);
    const same = await restoreBackup({ backupPath, dataDir: sameLayout, backupDir: path.join(root, 'pre'), env: {}, cwd: root });
    expect(same.warnings.filter((w) => /came from/.test(w))).toEqual([]);
    expect(treeDigest(path.join(sameLayout, 'blocks'))).toBe(treeDigest(path.join(dataDir, 'blocks')));
    expect(treeDigest(path.join(sameLayout, 'actors'))).toBe(treeDigest(path.join(dataDir, 'actors')));
    expect(readdirSync(sameLayout).sort()).toEqual(['account.sqlite', 'actors', 'blocks', 'did_cache.sqlite', 'pds.env', 'sequencer.sqlite']);

    // Into a PDS with the default layout: blobs/, as its settings say, and the restore says so.
    const defaultLayout = path.join(root, 'default');
    const other = await restoreBackup({ backupPath, dataDir: defaultLayout, backupDir: path.join(root, 'pre'), env: {}, cwd: root });
    expect(other.warnings).toContain(`The backup's blobs came from blocks in its data directory; this PDS's configuration keeps blobs at ${path.join(defaultLayout, 'blobs')}, so they are restored there.`);
    expect(treeDigest(path.join(defaultLayout, 'blobs'))).toBe(treeDigest(path.join(dataDir, 'blocks')));
  });

  it('restores a backup.sh backup whose blob archive has a folder of another name (blobstore/) where the target keeps blobs', async () => {
    const root = makeTempDir('locations');
    const dataDir = path.join(root, 'data');
    await createFixture(dataDir, { accounts: 2, posts: 4, blobMB: 1, seed: 'blobstore' });
    const backupPath = makeLegacyBackup(dataDir, path.join(root, 'backups'));
    // The script archives the configured folder under its own name and records that name.
    renameSync(path.join(dataDir, 'blobs'), path.join(dataDir, 'blobstore'));
    rmSync(path.join(backupPath, 'blobs.tar.gz'));
    execFileSync('tar', ['-czf', path.join(backupPath, 'blobs.tar.gz'), '-C', dataDir, 'blobstore']);
    const manifestPath = path.join(backupPath, 'manifest.json');
    writeFileSync(manifestPath, readFileSync(manifestPath, 'utf8').replace('"blob_store": "blobs"', '"blob_store": "blobstore"'));

    const target = path.join(root, 'target');
    const result = await restoreBackup({ backupPath, dataDir: target, backupDir: path.join(root, 'pre'), env: {}, cwd: root });
    expect(result.warnings).toContain(`The backup's blobs came from blobstore in its data directory; this PDS's configuration keeps blobs at ${path.join(target, 'blobs')}, so they are restored there.`);
    expect(treeDigest(path.join(target, 'blobs'))).toBe(treeDigest(path.join(dataDir, 'blobstore')));

    // A target configured for blobstore/ gets them there, without a word about layouts.
    const alike = path.join(root, 'alike');
    const env = { PDS_BLOBSTORE_DISK_LOCATION: path.join(alike, 'blobstore') };
    const same = await restoreBackup({ backupPath, dataDir: alike, backupDir: path.join(root, 'pre'), env, cwd: root });
    expect(same.warnings.filter((w) => /came from/.test(w))).toEqual([]);
    expect(treeDigest(path.join(alike, 'blobstore'))).toBe(treeDigest(path.join(dataDir, 'blobstore')));
  });
});

describe('a backup says what it held', () => {
  it('warns about a data directory without accounts and about parts it did not find', async () => {
    const root = makeTempDir('locations');
    const dataDir = path.join(root, 'data');
    await createFixture(dataDir, { accounts: 1, posts: 0, blobMB: 0, seed: 'empty' });
    const db = new Database(path.join(dataDir, 'account.sqlite'));
    db.exec('DELETE FROM account; DELETE FROM actor');
    db.close();
    rmSync(path.join(dataDir, 'did_cache.sqlite'));
    rmSync(path.join(dataDir, 'blobs'), { recursive: true });
    const run = await runCli(['backup', '--data', dataDir, '--out', path.join(root, 'backups'), '--no-prune'], { cwd: root });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('Held: account.sqlite 0 accounts; sequencer.sqlite events up to 2; did_cache.sqlite not backed up; blobs/ not backed up; actors/ 1 actor store');
    expect(run.stdout).not.toContain('1 actor stores');
    expect(run.stdout).toContain(`Warning: No did_cache database at ${path.join(dataDir, 'did_cache.sqlite')}: the backup holds none.`);
    expect(run.stdout).toContain(`Warning: No blob folder at ${path.join(dataDir, 'blobs')}: the backup holds no blobs.`);
    expect(run.stdout).toContain(`Warning: ${path.join(dataDir, 'account.sqlite')} holds no accounts: check that this is the PDS's data directory.`);
  });

  it('records the version the running PDS reports at /xrpc/_health when PDS_VERSION is not set', async () => {
    const root = makeTempDir('locations');
    const dataDir = path.join(root, 'data');
    await createFixture(dataDir, { accounts: 1, posts: 1, blobMB: 0, seed: 'health' });
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ version: '0.4.158' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const healthUrl = `http://127.0.0.1:${port}/xrpc/_health`;
      const asked = await runBackup({ dataDir, backupDir: path.join(root, 'backups'), env: {}, healthUrl });
      expect(asked.manifest.pds_version).toBe('0.4.158');
      expect(requests).toEqual(['/xrpc/_health']);
      // PDS_VERSION, when set, is what the operator says: the PDS is not asked.
      const told = await runBackup({ dataDir, backupDir: path.join(root, 'backups'), env: { PDS_VERSION: '0.4.100' }, healthUrl });
      expect(told.manifest.pds_version).toBe('0.4.100');
      expect(requests).toHaveLength(1);
    } finally {
      server.close();
    }
    // Nothing answering: "unknown", as before.
    const silent = await runBackup({ dataDir, backupDir: path.join(root, 'backups'), env: {}, healthUrl: 'http://127.0.0.1:9/xrpc/_health' });
    expect(silent.manifest.pds_version).toBe('unknown');
  });
});
