import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from './settings-store.js';

/**
 * Launch at login on Linux desktops (Electron's setLoginItemSettings covers only macOS and Windows):
 * an XDG autostart entry, `~/.config/autostart/aurora-locus-backup.desktop`, started hidden in the tray.
 */
export async function setLinuxAutostart(enabled: boolean, opts: { exec: string; configHome?: string }): Promise<string> {
  const dir = path.join(opts.configHome || process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'autostart');
  const file = path.join(dir, 'aurora-locus-backup.desktop');
  if (!enabled) {
    await rm(file, { force: true });
    return file;
  }
  await mkdir(dir, { recursive: true });
  const quoted = `"${opts.exec.replace(/(["`$\\])/g, '\\$1')}"`;
  await writeFileAtomic(
    file,
    ['[Desktop Entry]', 'Type=Application', 'Name=Aurora Locus Backup', 'Comment=Backs up the Aurora Locus PDS on schedule', `Exec=${quoted} --hidden`, 'X-GNOME-Autostart-enabled=true', ''].join('\n'),
  );
  return file;
}
