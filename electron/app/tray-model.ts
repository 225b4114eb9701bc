import type { AppState, AppStatus } from '../../shared/api.js';
import { formatAge, formatWhen } from './format.js';
import { staleTargets } from './notification-policy.js';

export type TrayIcon = AppState; // icons in build/tray-<state>.png (…Template.png on macOS, .ico on Windows)

export type TrayAction = 'backup-now' | 'open' | 'toggle-pause' | 'open-backups' | 'quit';

export type TrayMenuItem =
  | { type: 'action'; action: TrayAction; label: string; enabled: boolean }
  | { type: 'info'; label: string }
  | { type: 'separator' };

export interface TrayModel {
  icon: TrayIcon;
  tooltip: string;
  menu: TrayMenuItem[];
}

const APP = 'Aurora Locus Backup';

function percent(status: AppStatus): number | null {
  const p = status.running;
  if (!p || p.bytesTotal <= 0) return null;
  return Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 100));
}

/** The running job in words: a restore (or its verification) is not a backup. */
function doing(status: AppStatus): string {
  return status.job?.kind === 'restore' || status.running?.operation === 'restore' ? 'restoring' : 'backing up';
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** What is wrong off-site, in words (a failed copy first), or null when nothing is. */
function offsiteProblem(status: AppStatus, now: Date): string | null {
  const failed = status.offsite.targets.filter((t) => t.lastCopy && !t.lastCopy.ok && status.offsite.copying?.target !== t.name);
  if (failed.length) return `copy to ${failed.map((t) => `"${t.name}"`).join(', ')} failed`;
  const stale = staleTargets(status, now);
  if (stale.length) return `copies on ${stale.map((t) => `"${t.name}"`).join(', ')} older than ${status.staleHours} h`;
  return null;
}

/** What the tray shows for a status. Pure, so every state is tested without Electron. */
export function trayModel(status: AppStatus, now: Date): TrayModel {
  const last = status.lastBackup;
  const lastRun = status.lastRun;
  const lastAge = last ? formatAge(new Date(last.createdAt), now) : null;

  let tooltip: string;
  switch (status.state) {
    case 'running': {
      const pct = percent(status);
      tooltip = `${APP}: ${doing(status)}${pct === null ? '…' : ` ${pct}%`}`;
      break;
    }
    case 'failed':
      tooltip = `${APP}: last backup failed${lastRun?.kind === 'backup' && lastRun.error ? ` (${lastRun.error})` : ''}`;
      break;
    case 'stale':
      tooltip = last ? `${APP}: last backup ${lastAge}, older than ${status.staleHours} h` : `${APP}: no backup yet`;
      break;
    default:
      tooltip = `${APP}: last backup ${lastAge ?? 'never'}`;
  }
  // A local backup that is fine but an off-site copy that is not: a warning, as stale backups are.
  const offsite = offsiteProblem(status, now);
  const icon = status.state === 'idle' && offsite ? 'stale' : status.state;
  if (offsite && status.state !== 'running') tooltip += `; off-site: ${offsite}`;
  const offsiteLine = status.offsite.copying
    ? `Off-site: copying to "${status.offsite.copying.target}"…`
    : offsite
      ? `Off-site: ${offsite}`
      : status.offsite.targets.length
        ? status.offsite.targets.every((t) => t.newestCopy)
          ? 'Off-site: copies up to date'
          : 'Off-site: not copied yet'
        : null;

  const lastLine = (() => {
    if (lastRun?.kind === 'backup' && lastRun.result === 'failed') return `Last backup: failed ${formatAge(new Date(lastRun.startedAt), now)}`;
    if (last) return `Last backup: ${lastAge}, OK`;
    return 'Last backup: none yet';
  })();
  const nextLine = (() => {
    if (!status.scheduleEnabled) return 'Schedule: off';
    if (status.paused) return 'Schedule: paused';
    return status.nextRunAt ? `Next backup: ${formatWhen(new Date(status.nextRunAt), now)}` : 'Next backup: —';
  })();
  const running = status.state === 'running';

  return {
    icon,
    // Windows cuts tray tooltips at 127 characters.
    tooltip: tooltip.length > 127 ? `${tooltip.slice(0, 126)}…` : tooltip,
    menu: [
      { type: 'action', action: 'backup-now', label: running ? `${capitalise(doing(status))}… ${percent(status) ?? 0}%` : 'Back up now', enabled: !running },
      { type: 'action', action: 'open', label: `Open ${APP}`, enabled: true },
      { type: 'separator' },
      { type: 'info', label: lastLine },
      { type: 'info', label: nextLine },
      ...(offsiteLine ? [{ type: 'info' as const, label: offsiteLine }] : []),
      { type: 'separator' },
      { type: 'action', action: 'toggle-pause', label: status.paused ? 'Resume schedule' : 'Pause schedule', enabled: status.scheduleEnabled },
      { type: 'action', action: 'open-backups', label: 'Open backups folder', enabled: true },
      { type: 'separator' },
      { type: 'action', action: 'quit', label: 'Quit', enabled: true },
    ],
  };
}
