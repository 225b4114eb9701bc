import { useEffect, useState } from 'react';
import type { AppStatus, HistoryEntry } from '../../../shared/api.js';
import { useApi } from '../api/client.js';
import { Icon } from '../components/Icon.js';
import { Notice } from '../components/Notice.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { errorText } from '../errors.js';
import { formatAge, formatBytes, formatDateTime, formatDuration } from '../format.js';

const KIND_TEXT = { backup: 'Backup', restore: 'Restore', verify: 'Verify', prune: 'Clean-up' } as const;
const TRIGGER_TEXT = { manual: 'by hand', schedule: 'on schedule', 'catch-up': 'made up after a missed run', cli: 'from the command line' } as const;
const RESULT = {
  success: { tone: 'ok', text: 'Succeeded' },
  failed: { tone: 'failed', text: 'Failed' },
  cancelled: { tone: 'stale', text: 'Cancelled' },
  running: { tone: 'running', text: 'Running' },
} as const;

export function History({ status, now }: { status: AppStatus | null; now: Date }) {
  const api = useApi();
  const [entries, setEntries] = useState<HistoryEntry[] | null>(null);
  const [logPath, setLogPath] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  // Reload whenever the status changes (a run started or ended).
  useEffect(() => {
    api.getHistory().then(setEntries, (failure: unknown) => setError(errorText(failure)));
  }, [api, status?.lastRun?.id, status?.lastRun?.result]);
  useEffect(() => {
    api.getLogPath().then(setLogPath, () => setLogPath(null));
  }, [api]);

  const openLog = async () => {
    try {
      const answer = await api.openFolder({ target: 'log' });
      setError(answer.opened ? null : (answer.error ?? 'The log file could not be opened.'));
    } catch (failure) {
      setError(errorText(failure));
    }
  };

  return (
    <div className="stack">
      <section className="card log-card">
        <div>
          <h2 className="card-title">Log file</h2>
          <p className="muted small-path">{logPath ?? 'Not known yet'}</p>
        </div>
        <button type="button" className="button" onClick={openLog}>
          Open log file
        </button>
      </section>
      {error ? <Notice tone="error">{error}</Notice> : null}
      {entries === null ? (
        <p className="muted">Loading history…</p>
      ) : entries.length === 0 ? (
        <section className="card empty">
          <Icon name="history" size={36} />
          <h2>No runs yet</h2>
          <p className="muted">Every backup, restore and verification is recorded here, with the reason when one fails.</p>
        </section>
      ) : (
        <section className="card table-card" aria-labelledby="runs-title">
          <h2 id="runs-title" className="card-title">
            Past runs
          </h2>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Started</th>
                <th scope="col" className="num">
                  Took
                </th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.id}>
                  <td>
                    <span className="cell-main">
                      {KIND_TEXT[entry.kind]} <span className="muted">{TRIGGER_TEXT[entry.trigger]}</span>
                    </span>
                    {entry.backupName ? (
                      <span className="cell-sub">
                        {entry.backupName}
                        {entry.size !== undefined ? ` · ${formatBytes(entry.size)}` : ''}
                      </span>
                    ) : null}
                    {entry.error ? <span className="cell-error">{entry.error}</span> : null}
                  </td>
                  <td className="nowrap">
                    <span className="cell-main">{formatDateTime(entry.startedAt)}</span>
                    <span className="cell-sub">{formatAge(entry.startedAt, now)}</span>
                  </td>
                  <td className="num">{entry.endedAt ? formatDuration(new Date(entry.endedAt).getTime() - new Date(entry.startedAt).getTime()) : '—'}</td>
                  <td>
                    <StatusBadge tone={RESULT[entry.result].tone}>{RESULT[entry.result].text}</StatusBadge>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}
