import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Older PowerShell's Compress-Archive writes `\` between folders: the same zip with every stored name so written. */
function withBackslashes(zipFile: string) {
  const names = execFileSync('unzip', ['-Z1', zipFile], { encoding: 'utf8' }).split('\n').filter(Boolean).sort((a, b) => b.length - a.length);
  let bytes: Buffer = readFileSync(zipFile);
  for (const name of names) bytes = replaceAll(bytes, Buffer.from(name), Buffer.from(name.replaceAll('/', '\\')));
  writeFileSync(zipFile, bytes);
}

export function replaceAll(bytes: Buffer, from: Buffer, to: Buffer): Buffer {
  for (let at = bytes.indexOf(from); at !== -1; at = bytes.indexOf(from, at + to.length)) to.copy(bytes, at);
  return bytes;
}

/** A folder in backup.ps1's layout, made with Debian's zip: each database copied as a file, each folder zipped whole. */
export function makePs1Backup(dataDir: string, backupDir: string, opts: { backslashes?: boolean } = {}): string {
  const folder = path.join(backupDir, 'backup_20250322_143022');
  mkdirSync(path.join(folder, 'databases'), { recursive: true });
  for (const db of ['account', 'sequencer', 'did_cache']) execFileSync('zip', ['-qj', path.join(folder, 'databases', `${db}.sqlite.zip`), path.join(dataDir, `${db}.sqlite`)]);
  for (const dir of ['blobs', 'actors']) {
    execFileSync('zip', ['-qr', path.join(folder, `${dir}.zip`), dir], { cwd: dataDir });
    if (opts.backslashes) withBackslashes(path.join(folder, `${dir}.zip`));
  }
  writeFileSync(
    path.join(folder, 'manifest.json'),
    JSON.stringify({ backup_timestamp: '2025-03-22T14:30:22Z', backup_version: '1.0', pds_version: 'unknown', hostname: 'pds.example', service_did: 'unknown', compression: 'zip', databases: { account: 'account.sqlite', sequencer: 'sequencer.sqlite', did_cache: 'did_cache.sqlite' }, data_directories: { actor_store: 'actors', blob_store: 'blobs' }, backup_size: '2 MB' }, null, 2),
  );
  return folder;
}
