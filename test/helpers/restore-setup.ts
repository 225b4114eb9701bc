import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { COMPONENTS, type Component } from '../../shared/components.js';
import { componentDigest } from './digest.js';

export const WRITER_SCRIPT = path.resolve(import.meta.dirname, '../../scripts/simulate-pds-writer.mjs');

/** Starts scripts/simulate-pds-writer.mjs on a data directory and resolves once it writes. */
export async function startWriter(dataDir: string, rate = 100) {
  const child = spawn(process.execPath, [WRITER_SCRIPT, dataDir, '--rate', String(rate)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  while (!output.includes('ready')) await once(child.stdout!, 'data');
  return {
    pid: child.pid!,
    /** SIGTERM: the writer closes its databases cleanly. */
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
      return output;
    },
    /** SIGKILL: the writer dies mid-flight, leaving -wal files, like a crashed PDS. */
    async crash() {
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/**
 * What a backup holds, unpacked with the system's gunzip and tar (not with our code), as a data
 * directory in the default layout.
 */
export function unpackWithSystemTools(backupPath: string, into: string, components: readonly Component[] = COMPONENTS): string {
  mkdirSync(into, { recursive: true });
  for (const c of components) {
    if (c === 'blobs' || c === 'actors') execFileSync('tar', ['-xzf', path.join(backupPath, `${c}.tar.gz`), '-C', into]);
    else execFileSync('sh', ['-c', `gunzip -c "${path.join(backupPath, 'databases', `${c}.sqlite.gz`)}" > "${path.join(into, `${c}.sqlite`)}"`]);
  }
  return into;
}

export function digests(dataDir: string): Record<Component, string> {
  return Object.fromEntries(COMPONENTS.map((c) => [c, componentDigest(dataDir, c)])) as Record<Component, string>;
}

export function copyDir(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  return to;
}
