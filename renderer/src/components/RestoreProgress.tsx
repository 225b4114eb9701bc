import type { RunningJob } from '../../../shared/api.js';
import type { Progress } from '../../../shared/progress.js';
import { progressFraction } from '../format.js';
import { RESTORE_STEPS, restoreCancellable, restorePdsText, restoreStep } from '../status-text.js';
import { Icon } from './Icon.js';
import { ProgressBar, ProgressFigures } from './ProgressPanel.js';

/** The last part of a path, on any OS the app runs on. */
export const baseName = (p: string): string => p.split(/[\\/]/).filter(Boolean).pop() ?? p;

/**
 * A running restore as a list of steps, each ticked off in turn (so it never goes backwards), with the
 * current step's bytes, speed and time left, and whether cancelling is still safe.
 */
export function RestoreProgress({ job, progress, now, onCancel }: { job: RunningJob; progress: Progress | null; now: Date; onCancel: () => void }) {
  const step = restoreStep(progress);
  const current = RESTORE_STEPS.findIndex((s) => s.id === step);
  const finished = progress?.phase === 'done';
  const percent = progress && progress.bytesTotal > 0 ? Math.round(progressFraction(progress) * 100) : null;
  return (
    <section className="card progress-card" aria-labelledby="restore-progress-title" data-testid="restore-progress">
      <h2 id="restore-progress-title" className="card-title">
        Restoring {job.backupPath ? baseName(job.backupPath) : 'a backup'}
      </h2>
      <p className="muted">{restorePdsText(step)}</p>
      <ol className="steps" aria-label="Restore steps">
        {RESTORE_STEPS.map((s, i) => {
          const state = i < current || finished ? 'done' : i === current ? 'current' : 'todo';
          return (
            <li key={s.id} className={`step step-${state}`} aria-current={state === 'current' ? 'step' : undefined}>
              <span className="step-mark" aria-hidden="true">
                {state === 'done' ? <Icon name="check" size={14} /> : i + 1}
              </span>
              <span className="step-body">
                <span className="step-label">
                  {s.label}
                  {state === 'done' ? <span className="visually-hidden"> (done)</span> : null}
                  {state === 'current' ? <span className="visually-hidden"> (now)</span> : null}
                </span>
                {state === 'current' && progress ? (
                  <>
                    {progress.bytesTotal > 0 ? <ProgressBar label={s.label} percent={percent} /> : null}
                    <span className="step-detail">
                      {progress.current ? <span className="muted">{progress.current} · </span> : null}
                      <ProgressFigures progress={progress} now={now} />
                    </span>
                  </>
                ) : null}
              </span>
            </li>
          );
        })}
      </ol>
      <div className="progress-foot">
        {restoreCancellable(progress) ? (
          <>
            <p className="muted">Cancelling now changes nothing: the data in place stays as it is.</p>
            <button type="button" className="button" onClick={onCancel}>
              Cancel restore
            </button>
          </>
        ) : (
          <p className="cancel-closed" role="status">
            {step === 'swap'
              ? 'The restore can no longer be cancelled: the restored data is being put in place, and stopping half-way would leave the PDS half old, half new.'
              : 'The restore can no longer be cancelled: the restored data is in place, and the PDS is being started again.'}
          </p>
        )}
      </div>
    </section>
  );
}
