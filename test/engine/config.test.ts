import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnvFile, resolveConfig } from '../../electron/engine/config.js';
import { EngineError } from '../../electron/engine/errors.js';
import { makeTempDir } from '../helpers/tmp.js';

describe('parseEnvFile', () => {
  it('reads KEY=VALUE lines with comments, export and quotes like a PDS .env', () => {
    const env = parseEnvFile(
      ['# PDS settings', 'export PDS_HOSTNAME=pds.example.com', 'PDS_DATA_DIRECTORY="/srv/pds data"', "BACKUP_COMPRESSION='zstd'", 'BACKUP_RETAIN_DAYS=14 # two weeks', ''].join('\n'),
    );
    expect(env).toEqual({ PDS_HOSTNAME: 'pds.example.com', PDS_DATA_DIRECTORY: '/srv/pds data', BACKUP_COMPRESSION: 'zstd', BACKUP_RETAIN_DAYS: '14' });
  });
});

describe('resolveConfig', () => {
  it('uses the guide defaults when nothing is set', async () => {
    const cwd = makeTempDir();
    const config = await resolveConfig({ cwd, env: {} });
    expect(config.locations.dataDir).toBe(path.join(cwd, 'data'));
    expect(config.locations.accountDb).toBe(path.join(cwd, 'data', 'account.sqlite'));
    expect(config.locations.actorsDir).toBe(path.join(cwd, 'data', 'actors'));
    expect(config.backupDir).toBe(path.join(cwd, 'backups'));
    expect(config).toMatchObject({ compression: 'gzip', retainDays: 30, pdsVersion: 'unknown', serviceDid: 'unknown', envFile: null });
  });

  it('takes flags over the environment, the environment over the .env file', async () => {
    const cwd = makeTempDir();
    writeFileSync(
      path.join(cwd, '.env'),
      'BACKUP_DIR=./from-file\nBACKUP_COMPRESSION=zstd\nBACKUP_RETAIN_DAYS=7\nPDS_DATA_DIRECTORY=./file-data\nPDS_VERSION=0.4.0\nPDS_SERVICE_DID=did:web:pds.example\n',
    );
    const fromFile = await resolveConfig({ cwd, env: {} });
    expect(fromFile.envFile).toBe(path.join(cwd, '.env'));
    expect(fromFile).toMatchObject({ backupDir: path.join(cwd, 'from-file'), compression: 'zstd', retainDays: 7, pdsVersion: '0.4.0', serviceDid: 'did:web:pds.example' });
    expect(fromFile.locations.dataDir).toBe(path.join(cwd, 'file-data'));

    const env = { BACKUP_DIR: '/env/backups', COMPRESSION: 'none', BACKUP_RETAIN_DAYS: '60', PDS_DATA_DIRECTORY: '/env/data' };
    const fromEnv = await resolveConfig({ cwd, env });
    expect(fromEnv).toMatchObject({ backupDir: '/env/backups', compression: 'none', retainDays: 60, pdsVersion: '0.4.0' });
    expect(fromEnv.locations.dataDir).toBe('/env/data');

    const fromFlags = await resolveConfig({ cwd, env, backupDir: 'flag-out', dataDir: '/flag/data', compression: 'gzip', retainDays: 3 });
    expect(fromFlags).toMatchObject({ backupDir: path.join(cwd, 'flag-out'), compression: 'gzip', retainDays: 3 });
    expect(fromFlags.locations.dataDir).toBe('/flag/data');
  });

  it('prefers BACKUP_COMPRESSION over COMPRESSION', async () => {
    const config = await resolveConfig({ cwd: makeTempDir(), env: { COMPRESSION: 'none', BACKUP_COMPRESSION: 'zstd' } });
    expect(config.compression).toBe('zstd');
  });

  it('reads relative paths in a .env file from the file’s folder', async () => {
    const pdsHome = makeTempDir();
    writeFileSync(path.join(pdsHome, 'pds.env'), 'PDS_DATA_DIRECTORY=./data\nBACKUP_DIR=../backups\n');
    const config = await resolveConfig({ cwd: makeTempDir(), env: {}, envFile: path.join(pdsHome, 'pds.env') });
    expect(config.locations.dataDir).toBe(path.join(pdsHome, 'data'));
    expect(config.backupDir).toBe(path.resolve(pdsHome, '..', 'backups'));
  });

  it('honours the PDS location variables, unless a data directory flag is given', async () => {
    const env = {
      PDS_DATA_DIRECTORY: '/srv/pds',
      PDS_ACCOUNT_DB_LOCATION: '/srv/db/account.sqlite',
      PDS_SEQUENCER_DB_LOCATION: '/srv/db/seq.sqlite',
      PDS_DID_CACHE_DB_LOCATION: '/srv/db/did.sqlite',
      PDS_ACTOR_STORE_DIRECTORY: '/srv/actors',
      PDS_BLOBSTORE_DISK_LOCATION: '/srv/blobstore',
    };
    const config = await resolveConfig({ cwd: makeTempDir(), env });
    expect(config.locations).toEqual({
      dataDir: '/srv/pds',
      accountDb: '/srv/db/account.sqlite',
      sequencerDb: '/srv/db/seq.sqlite',
      didCacheDb: '/srv/db/did.sqlite',
      actorsDir: '/srv/actors',
      blobsDir: '/srv/blobstore',
    });
    const flagged = await resolveConfig({ cwd: makeTempDir(), env, dataDir: '/other' });
    expect(flagged.locations).toMatchObject({ accountDb: '/other/account.sqlite', blobsDir: '/other/blobs', actorsDir: '/other/actors' });
  });

  it('refuses an unknown compression, a bad retention and a missing --env-file with a clear message', async () => {
    const cwd = makeTempDir();
    await expect(resolveConfig({ cwd, env: { BACKUP_COMPRESSION: 'rar' } })).rejects.toThrow(/Unknown compression "rar".*gzip, zstd, bzip2, xz, none/);
    await expect(resolveConfig({ cwd, env: { BACKUP_RETAIN_DAYS: 'forever' } })).rejects.toThrow(/BACKUP_RETAIN_DAYS must be a whole number/);
    const missing = path.join(cwd, 'nope.env');
    const error = await resolveConfig({ cwd, env: {}, envFile: missing }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as Error).message).toContain(`${missing} does not exist`);
  });
});
