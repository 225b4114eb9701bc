import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Component } from '../../shared/components.js';

export interface LegacyBackupOptions {
  /** The moment the script "ran"; gives the folder name (local time) and backup_timestamp (UTC). */
  at?: Date;
  /** What the script read from the PDS's .env. */
  env?: { PDS_VERSION?: string; PDS_HOSTNAME?: string; PDS_SERVICE_DID?: string };
  /** Leave out parts, as the script does when a database or folder is not found. */
  skip?: Component[];
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `date +%Y%m%d_%H%M%S` for a given moment (local time). */
export function folderStamp(at: Date): string {
  return `${at.getFullYear()}${pad(at.getMonth() + 1)}${pad(at.getDate())}_${pad(at.getHours())}${pad(at.getMinutes())}${pad(at.getSeconds())}`;
}

function hasSqlite3(): boolean {
  try {
    execFileSync('sqlite3', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes `backup_YYYYMMDD_HHMMSS/` in `backupDir` from `dataDir` the way the original scripts/backup.sh
 * does, with the system's tools: `sqlite3 .backup` (or `cp` when sqlite3 is missing, as the script falls
 * back), `gzip -6` in place, `tar -cf` of the folder from its parent then `gzip -6`, a heredoc
 * manifest.json with only the original fields (databases and data_directories as objects, the timestamp
 * in UTC ISO form), `du -sh` for backup_size, and the log file beside the folder. Returns the folder.
 */
export function makeLegacyBackup(dataDir: string, backupDir: string, opts: LegacyBackupOptions = {}): string {
  const at = opts.at ?? new Date();
  const stamp = folderStamp(at);
  const backupPath = path.join(backupDir, `backup_${stamp}`);
  const skip = new Set(opts.skip ?? []);
  mkdirSync(path.join(backupPath, 'databases'), { recursive: true });
  appendFileSync(path.join(backupDir, `backup_${stamp}.log`), `[${at.toISOString()}] [INFO] Aurora Locus PDS Backup\n`);

  const sqlite3 = hasSqlite3();
  for (const db of ['account', 'sequencer', 'did_cache'] as const) {
    const source = path.join(dataDir, `${db}.sqlite`);
    if (skip.has(db) || !existsSync(source)) continue;
    const target = path.join(backupPath, 'databases', `${db}.sqlite`);
    if (sqlite3) execFileSync('sqlite3', [source, `.backup '${target}'`]);
    else execFileSync('cp', [source, target]);
    execFileSync('gzip', ['-6', target]);
  }
  for (const dir of ['blobs', 'actors'] as const) {
    if (skip.has(dir) || !existsSync(path.join(dataDir, dir))) continue;
    const archive = path.join(backupPath, `${dir}.tar`);
    execFileSync('tar', ['-cf', archive, '-C', dataDir, dir]);
    execFileSync('gzip', ['-6', archive]);
  }

  const backupSize = execFileSync('du', ['-sh', backupPath], { encoding: 'utf8' }).split('\t')[0];
  const env = opts.env ?? {};
  const manifest = `{
  "backup_timestamp": "${at.toISOString().replace(/\.\d{3}Z$/, 'Z')}",
  "backup_version": "1.0",
  "pds_version": "${env.PDS_VERSION ?? 'unknown'}",
  "hostname": "${env.PDS_HOSTNAME ?? 'unknown'}",
  "service_did": "${env.PDS_SERVICE_DID ?? 'unknown'}",
  "compression": "gzip",
  "databases": {
    "account": "account.sqlite",
    "sequencer": "sequencer.sqlite",
    "did_cache": "did_cache.sqlite"
  },
  "data_directories": {
    "actor_store": "actors",
    "blob_store": "blobs"
  },
  "backup_size": "${backupSize}"
}
`;
  writeFileSync(path.join(backupPath, 'manifest.json'), manifest);
  return backupPath;
}
