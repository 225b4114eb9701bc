import type { ReactNode } from 'react';
import type { Progress } from '../../../shared/progress.js';
import { formatBytes, formatElapsed, formatEta, formatSpeed, phaseLabel, progressFraction } from '../format.js';

/** Bytes, files, speed, elapsed time and time left, each kept whole on one line. */
export function ProgressFigures({ progress, now }: { progress: Progress; now: Date }) {
  const eta = formatEta(progress, now);
  const speed = formatSpeed(progress, now);
  const parts = [
    progress.bytesTotal > 0 ? `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal)}` : progress.bytesDone > 0 ? formatBytes(progress.bytesDone) : null,
    progress.filesTotal > 0 ? `${progress.filesDone} of ${progress.filesTotal} files` : null,
    speed,
    `${formatElapsed(progress, now)} so far`,
    eta,
  ].filter((part): part is string => part !== null);
  return (
    <span className="progress-figures">
      {parts.map((part) => (
        <span key={part} className="figure">
          {part}
        </span>
      ))}
    </span>
  );
}

/**
 * A running operation: phase, a bar, bytes, files, speed and time left. Without progress yet (the job has
 * started but reported nothing), the bar moves without a number.
 */
export function ProgressPanel({ progress, now, title, onCancel, children }: { progress: Progress | null; now: Date; title: string; onCancel?: () => void; children?: ReactNode }) {
  const percent = progress ? Math.round(progressFraction(progress) * 100) : null;
  const phase = progress ? phaseLabel(progress.phase) : 'Getting ready…';
  return (
    <section className="card progress-card" aria-label={title} data-testid="progress">
      <div className="progress-head">
        <div>
          <h2 className="card-title">{title}</h2>
          <p className="progress-phase">
            {phase}
            {progress?.current ? <span className="muted"> · {progress.current}</span> : null}
          </p>
        </div>
        {percent !== null ? (
          <span className="progress-percent" aria-hidden="true">
            {percent}%
          </span>
        ) : null}
      </div>
      {children}
      <ProgressBar label={`${title}: ${phase}`} percent={percent} />
      <div className="progress-foot">
        {progress ? <ProgressFigures progress={progress} now={now} /> : <span />}
        {onCancel ? (
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </section>
  );
}

export function ProgressBar({ label, percent }: { label: string; percent: number | null }) {
  return (
    <div className="bar" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent ?? undefined}>
      {percent !== null ? <div className="bar-fill" style={{ width: `${Math.max(2, percent)}%` }} /> : <div className="bar-fill indeterminate" />}
    </div>
  );
}
