import type { Progress } from '../../../shared/progress.js';
import { formatBytes, formatEta, phaseLabel, progressFraction } from '../format.js';

/** A running operation: phase, a bar, bytes, files and time left. */
export function ProgressPanel({ progress, now, title, onCancel }: { progress: Progress; now: Date; title: string; onCancel?: () => void }) {
  const fraction = progressFraction(progress);
  const percent = Math.round(fraction * 100);
  const eta = formatEta(progress, now);
  return (
    <section className="card progress-card" aria-label={title} data-testid="progress">
      <div className="progress-head">
        <div>
          <h2 className="card-title">{title}</h2>
          <p className="progress-phase">
            {phaseLabel(progress.phase)}
            {progress.current ? <span className="muted"> · {progress.current}</span> : null}
          </p>
        </div>
        <span className="progress-percent" aria-hidden="true">
          {percent}%
        </span>
      </div>
      <div
        className="bar"
        role="progressbar"
        aria-label={`${title}: ${phaseLabel(progress.phase)}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
      >
        <div className="bar-fill" style={{ width: `${Math.max(2, percent)}%` }} />
      </div>
      <div className="progress-foot">
        <span>
          {progress.bytesTotal > 0 ? `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal)}` : formatBytes(progress.bytesDone)}
          {progress.filesTotal > 0 ? ` · ${progress.filesDone} of ${progress.filesTotal} files` : ''}
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
