import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { ComponentInBackup, InspectResult } from '../../shared/api.js';
import { COMPONENTS } from '../../shared/components.js';
import { isSecretsFile, readBackupFolder, storedCompression } from './backup-folder.js';
import { EngineError } from './errors.js';

/**
 * What a dropped folder holds, for the restore screen: the backup's facts, or in plain words why it is
 * not a usable backup. Never throws for a bad folder. Quick: reads the manifest and file sizes only.
 */
export async function inspectBackup(folder: string): Promise<InspectResult> {
  const absolute = path.resolve(folder);
  const refuse = (reason: string): InspectResult => ({ ok: false, path: absolute, reason });
  let backup;
  try {
    backup = await readBackupFolder(absolute);
  } catch (error) {
    if (!(error instanceof EngineError)) return refuse(`This folder cannot be read: ${(error as Error).message}.`);
    if (error.code === 'NO_MANIFEST') return refuse('This folder has no manifest.json, so it is not an Aurora Locus backup.');
    return refuse(error.message);
  }
  if (backup.missing.length > 0) {
    const names = backup.missing.map((f) => f.path).join(', ');
    return refuse(`This backup is incomplete: ${names} ${backup.missing.length === 1 ? 'is' : 'are'} missing, so it cannot be restored.`);
  }

  const components: ComponentInBackup[] = await Promise.all(
    COMPONENTS.map(async (component) => {
      const file = backup.files.find((f) => f.component === component);
      return { component, present: file !== undefined, size: file ? (await stat(path.join(backup.path, file.path))).size : 0 };
    }),
  );
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  const encryption = backup.manifest?.aurora_backup.encryption;
  return {
    ok: true,
    path: backup.path,
    name: backup.name,
    createdAt: backup.createdAt.toISOString(),
    pdsVersion: text(backup.rawManifest.pds_version),
    hostname: text(backup.rawManifest.hostname),
    compression: storedCompression(backup),
    legacy: backup.legacy,
    components,
    counts: backup.manifest?.aurora_backup.counts ?? null,
    size: components.reduce((sum, c) => sum + c.size, 0),
    encryption: encryption ? { mode: encryption.mode, recipients: encryption.recipients, secrets: backup.files.some(isSecretsFile) } : null,
  };
}
