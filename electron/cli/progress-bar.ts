import { formatBytes } from '../../shared/format.js';
import { phaseLabel, type Progress } from '../../shared/progress.js';

const WIDTH = 24;
const REDRAW_MS = 100;

/** 0:07, 3:25, 1:02:09. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return `${h ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

/** `Restore: stopping the PDS`: one line per phase, for logs. */
export function phaseLine(p: Pick<Progress, 'operation' | 'phase'>): string {
  const label = phaseLabel(p.phase);
  return `${p.operation.charAt(0).toUpperCase()}${p.operation.slice(1)}: ${label.charAt(0).toLowerCase()}${label.slice(1)}`;
}

export interface ProgressBar {
  update(p: Progress): void;
  /** Clears the bar so the summary prints on a clean line. */
  finish(): void;
}

/**
 * A one-line progress bar with ETA on a terminal (stderr, so stdout stays for results and --json).
 * When stderr is not a terminal it writes one plain line per phase instead, which suits log files.
 * `title` replaces the phase name at the start of the line (for work that is not a backup phase).
 */
export function createProgressBar(stream: NodeJS.WriteStream = process.stderr, title?: string): ProgressBar {
  let lastDraw = 0;
  let lastPhase = '';
  let drawn = false;
  return {
    update(p) {
      if (!stream.isTTY) {
        if (p.phase !== lastPhase) stream.write(`${phaseLine(p)}\n`);
        lastPhase = p.phase;
        return;
      }
      const now = Date.now();
      if (now - lastDraw < REDRAW_MS && p.phase === lastPhase) return;
      lastDraw = now;
      lastPhase = p.phase;
      const fraction = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : 0;
      const filled = Math.round(fraction * WIDTH);
      const elapsed = now - Date.parse(p.startedAt);
      const eta = fraction > 0.01 && fraction < 1 ? ` ETA ${formatDuration((elapsed * (1 - fraction)) / fraction)}` : '';
      // The phase in words goes last: a narrow terminal cuts it rather than the numbers.
      const line =
        `${title ? `${title.padEnd(12)} ` : ''}[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ` +
        `${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)} ${p.filesDone}/${p.filesTotal} files${eta}${title ? '' : `  ${phaseLabel(p.phase)}`}`;
      const columns = stream.columns || 100;
      stream.write(`\r${line.slice(0, columns - 1).padEnd(Math.min(columns - 1, line.length + 10))}`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write(`\r${' '.repeat((stream.columns || 100) - 1)}\r`);
      drawn = false;
    },
  };
}
