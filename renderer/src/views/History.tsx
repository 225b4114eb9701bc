import { useEffect, useId, useState } from 'react';
import type { AppStatus, HistoryEntry, LogLevel, LogLines } from '../../../shared/api.js';
import { useApi, useConnection } from '../api/client.js';
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

const LOG_LINES = 200;
const LEVEL_TEXT: Record<LogLevel | 'all', string> = { all: 'Everything', info: 'Information and up', warn: 'Warnings and errors', error: 'Errors only' };

export function History({ status, now }: { status: AppStatus | null; now: Date }) {
  const api = useApi();
  const { native } = useConnection();
  const [entries, setEntries] = useState<HistoryEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  // Reload whenever the status changes (a run started or ended).
  useEffect(() => {
    api.getHistory().then(setEntries, (failure: unknown) => setError(errorText(failure)));
  }, [api, status?.lastRun?.id, status?.lastRun?.result]);

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
      <LogViewer refreshKey={`${status?.lastRun?.id}-${status?.lastRun?.result}`} onOpen={native ? openLog : null} />
    </div>
  );
}

/** The end of the log file, filterable by level; "Open log file" only where a program can open it (the desktop). */
function LogViewer({ refreshKey, onOpen }: { refreshKey: string; onOpen: (() => Promise<void>) | null }) {
  const api = useApi();
  const levelId = useId();
  const [level, setLevel] = useState<LogLevel | 'all'>('all');
  const [log, setLog] = useState<LogLines | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const load = () =>
    api.readLog({ lines: LOG_LINES, ...(level === 'all' ? {} : { level }) }).then(
      (lines) => {
        setLog(lines);
        setProblem(null);
      },
      (failure: unknown) => setProblem(errorText(failure)),
    );
  useEffect(() => {
    void load();
  }, [api, level, refreshKey]);

  return (
    <section className="card log-card" aria-labelledby="log-title">
      <div className="card-head">
        <h2 id="log-title" className="card-title">
          Log
        </h2>
        <div className="log-controls">
          <label htmlFor={levelId}>Show</label>
          <select id={levelId} value={level} onChange={(e) => setLevel(e.target.value as LogLevel | 'all')}>
            {(Object.keys(LEVEL_TEXT) as (LogLevel | 'all')[]).map((l) => (
              <option key={l} value={l}>
                {LEVEL_TEXT[l]}
              </option>
            ))}
          </select>
          <button type="button" className="button small" onClick={() => void load()}>
            Refresh
          </button>
          {onOpen ? (
            <button type="button" className="button small" onClick={() => void onOpen()}>
              Open log file
            </button>
          ) : null}
        </div>
      </div>
      <p className="muted small-path">{log?.path ?? ''}</p>
      {problem ? <Notice tone="error">{problem}</Notice> : null}
      {log && log.lines.length === 0 ? <p className="muted">{level === 'all' ? 'The log is empty.' : 'No lines of this level.'}</p> : null}
      {log && log.lines.length > 0 ? (
        <>
          {log.more ? <p className="muted">The last {log.lines.length} lines; older ones are in the file.</p> : null}
          <pre className="log-lines" tabIndex={0} aria-label="Last lines of the log">
            {log.lines.map((line, i) => (
              <span key={i} className={`log-line log-${line.level}`}>
                {line.text}
                {'\n'}
              </span>
            ))}
          </pre>
        </>
      ) : null}
    </section>
  );
}
