import { rm } from 'node:fs/promises';
import path from 'node:path';
import { BACKUP_NAME_PATTERN } from '../../shared/components.js';
import { resolveConfig } from '../engine/config.js';
import { downloadBackup } from '../engine/targets/download.js';
import { CliError } from './command.js';
import { createProgressBar } from './progress-bar.js';
import { asCliError, targetFromArg } from './targets-config.js';

/** Where `restore --from` puts what it downloads, inside the backup directory (no backup's own name pattern). */
export const DOWNLOAD_DIR = '.offsite-download';

/**
 * `restore <name> --from TARGET`: downloads the backup into a staging folder, every file checked against
 * the manifest's size and SHA-256, and resolves to that folder, which then restores as a local backup.
 * `discard` removes it once the restore has succeeded; after a failure it stays, and the next run reuses
 * what it holds.
 */
export async function fetchFromTarget(
  name: string,
  values: Record<string, unknown>,
  opts: { json: boolean; signal?: AbortSignal },
): Promise<{ backupPath: string; discard(): Promise<void> }> {
  if (!BACKUP_NAME_PATTERN.test(name)) throw new CliError(`With --from, name the backup as it is on the target (backup_YYYYMMDD_HHMMSS), not "${name}".`, 2);
  const config = await asCliError(resolveConfig({ backupDir: values.out as string | undefined, envFile: values['env-file'] as string | undefined }));
  const intoDir = path.resolve((values['download-dir'] as string | undefined) ?? path.join(config.backupDir, DOWNLOAD_DIR));
  const { target } = await targetFromArg(values.from as string, values);
  const bar = createProgressBar(process.stderr, 'downloading');
  try {
    if (!opts.json) process.stderr.write(`Downloading ${name} from ${target.location} into ${intoDir} …\n`);
    const backupPath = await asCliError(downloadBackup({ target, name, intoDir, signal: opts.signal, onProgress: opts.json ? undefined : (p) => bar.update(p) }), 1);
    return { backupPath, discard: () => rm(backupPath, { recursive: true, force: true }) };
  } finally {
    bar.finish();
    await target.close();
  }
}
