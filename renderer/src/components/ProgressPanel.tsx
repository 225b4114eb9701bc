import type { Progress } from '../../../shared/progress.js';
import { formatBytes, formatEta, phaseLabel, progressFraction } from '../format.js';

/**
 * A running operation: phase, a bar, bytes, files and time left. Without progress yet (the job has
 * started but reported nothing), the bar moves without a number.
 */
export function ProgressPanel({ progress, now, title, onCancel }: { progress: Progress | null; now: Date; title: string; onCancel?: () => void }) {
  const percent = progress ? Math.round(progressFraction(progress) * 100) : null;
  const eta = progress ? formatEta(progress, now) : null;
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
      <div
        className="bar"
        role="progressbar"
        aria-label={`${title}: ${phase}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent ?? undefined}
      >
        {percent !== null ? <div className="bar-fill" style={{ width: `${Math.max(2, percent)}%` }} /> : <div className="bar-fill indeterminate" />}
      </div>
      <div className="progress-foot">
        <span>
          {progress ? (progress.bytesTotal > 0 ? `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal)}` : formatBytes(progress.bytesDone)) : ''}
          {progress && progress.filesTotal > 0 ? ` · ${progress.filesDone} of ${progress.filesTotal} files` : ''}
          {eta ? ` · ${eta}` : ''}
        </span>
        {onCancel ? (
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </section>
  );
}
