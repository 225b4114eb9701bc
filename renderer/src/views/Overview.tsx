import { useState } from 'react';
import type { AppStatus } from '../../../shared/api.js';
import type { Progress } from '../../../shared/progress.js';
import { useApi } from '../api/client.js';
import { Icon } from '../components/Icon.js';
import { Notice } from '../components/Notice.js';
import { ProgressPanel } from '../components/ProgressPanel.js';
import { RestoreProgress } from '../components/RestoreProgress.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { errorText } from '../errors.js';
import { capitalize, formatAge, formatBytes, formatDateTime } from '../format.js';
import { showView } from '../hooks.js';
import { describeNextRun, describeStatus, secretsNotice } from '../status-text.js';

const RESULT_TEXT = { success: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled', running: 'Running' } as const;
const RESULT_TONE = { success: 'ok', failed: 'failed', cancelled: 'stale', running: 'running' } as const;

const KIND_TEXT = { backup: 'Backup', restore: 'Restore', verify: 'Verification', prune: 'Clean-up' } as const;

export function Overview({ status, running, now, connectionError }: { status: AppStatus | null; running: Progress | null; now: Date; connectionError: string | null }) {
  const api = useApi();
  const [message, setMessage] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);

  const act = async (work: () => Promise<string | null>) => {
    setMessage(null);
    try {
      setMessage(await work());
    } catch (error) {
      setMessage(errorText(error));
    }
  };
  const backUpNow = async () => {
    setStarting(true);
    await act(async () => {
      const answer = await api.startBackup();
      return answer.started ? null : answer.reason;
    });
    setStarting(false);
  };
  const cancel = () => act(async () => ((await api.cancel()).cancelled ? null : 'There was nothing to cancel.'));
  const togglePause = () => act(async () => (await api.pauseSchedule({ paused: !status?.paused }), null));

  if (!status) return connectionError ? null : <p className="muted">Connecting…</p>;
  const summary = describeStatus(status, now);
  const next = describeNextRun(status, now);
  const free = status.freeSpace;
  const usedFraction = free && free.totalBytes > 0 ? 1 - free.freeBytes / free.totalBytes : 0;
  const busy = status.state === 'running';
  const job = status.job;
  const action = summary.action;
  const unencrypted = secretsNotice(status.encryption);
  const fix = !action || 'backUp' in action ? null : 'view' in action ? () => showView(action.view) : () => act(async () => (await api.pauseSchedule({ paused: false }), null));

  return (
    <div className="stack">
      <section className={`card hero tone-${summary.tone}`} aria-labelledby="status-title">
        <span className="hero-icon" aria-hidden="true">
          <Icon name={summary.tone === 'ok' ? 'check' : summary.tone === 'failed' ? 'cross' : summary.tone === 'running' ? 'play' : 'alert'} size={28} />
        </span>
        <div className="hero-text">
          <h2 id="status-title" className="hero-title">
            {summary.title}
          </h2>
          <p className="hero-detail">{summary.detail}</p>
        </div>
        <div className="hero-actions">
          {fix && action ? (
            <button type="button" className="button" onClick={fix}>
              {action.label}
            </button>
          ) : null}
          <button type="button" className="button primary" onClick={backUpNow} disabled={busy || starting}>
            {!busy ? 'Back up now' : job?.kind === 'restore' ? 'Restore running…' : 'Backup running…'}
          </button>
        </div>
      </section>

      {message ? <Notice tone="error">{message}</Notice> : null}
      {unencrypted ? (
        <Notice tone="warning" title={unencrypted.title}>
          <p>{unencrypted.detail}</p>
          <button type="button" className="button small" onClick={() => showView('settings')}>
            Turn on encryption
          </button>
        </Notice>
      ) : null}
      {busy && job?.kind === 'restore' ? <RestoreProgress job={job} progress={running} now={now} onCancel={cancel} /> : null}
      {busy && job?.kind !== 'restore' ? <ProgressPanel progress={running} now={now} title="Backup" onCancel={cancel} /> : null}

      <div className="stats">
        <section className="card stat" aria-labelledby="stat-last">
          <h2 id="stat-last" className="stat-label">
            Last backup
          </h2>
          {status.lastBackup ? (
            <>
              <p className="stat-value">{capitalize(formatAge(status.lastBackup.createdAt, now))}</p>
              <p className="stat-detail">
                {formatBytes(status.lastBackup.size)} · {formatDateTime(status.lastBackup.createdAt)}
              </p>
            </>
          ) : (
            <>
              <p className="stat-value">None yet</p>
              <p className="stat-detail">Your first backup will show here.</p>
            </>
          )}
          {status.lastRun ? (
            <p className="stat-detail" data-testid="last-run">
              Last run: {KIND_TEXT[status.lastRun.kind]} <StatusBadge tone={RESULT_TONE[status.lastRun.result]}>{RESULT_TEXT[status.lastRun.result]}</StatusBadge>
            </p>
          ) : null}
        </section>

        <section className="card stat" aria-labelledby="stat-next">
          <h2 id="stat-next" className="stat-label">
            Next backup
          </h2>
          <p className="stat-value">{next.value}</p>
          <p className="stat-detail">{next.detail}</p>
          {status.scheduleEnabled ? (
            <button type="button" className="button small" onClick={togglePause}>
              {status.paused ? 'Resume schedule' : 'Pause schedule'}
            </button>
          ) : (
            <button type="button" className="button small" onClick={() => showView('settings')}>
              Open settings
            </button>
          )}
        </section>

        <section className="card stat" aria-labelledby="stat-space">
          <h2 id="stat-space" className="stat-label">
            Free space for backups
          </h2>
          {free ? (
            <>
              <p className="stat-value">{formatBytes(free.freeBytes)}</p>
              <div className="meter" role="meter" aria-label="Backup volume used" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(usedFraction * 100)}>
                <div className={`meter-fill${usedFraction > 0.9 ? ' low' : ''}`} style={{ width: `${usedFraction * 100}%` }} />
              </div>
              <p className="stat-detail" title={free.path}>
                free of {formatBytes(free.totalBytes)} on the backup volume
              </p>
            </>
          ) : (
            <>
              <p className="stat-value">Unknown</p>
              <p className="stat-detail">The backup folder does not exist yet.</p>
            </>
          )}
        </section>
      </div>
    </div>
  );
}
