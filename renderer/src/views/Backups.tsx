import { Fragment, useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import type { AppStatus, BackupSummary, CopyStateView, DecryptionInput, VerifyReport } from '../../../shared/api.js';
import type { Progress } from '../../../shared/progress.js';
import { useApi, useConnection } from '../api/client.js';
import { decryptionFrom, DecryptionFields, NO_KEYS, withDefaultUse } from '../components/DecryptionFields.js';
import { Icon } from '../components/Icon.js';
import { Modal } from '../components/Modal.js';
import { Notice } from '../components/Notice.js';
import { ProgressPanel } from '../components/ProgressPanel.js';
import { SizeChart } from '../components/SizeChart.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { errorText } from '../errors.js';
import { formatAge, formatBytes, formatDateTime, formatDuration } from '../format.js';
import { showView } from '../hooks.js';
import { CopyStates, OffsiteActivity, RestoreFromTarget, type OffsiteProgress } from './Offsite.js';

type Verification = { state: 'running'; deep: boolean; since: Date } | { state: 'done'; report: VerifyReport } | { state: 'error'; message: string };

const STATUS_TEXT = { complete: 'Complete', incomplete: 'Incomplete', corrupt: 'Corrupt' } as const;

export function Backups(props: {
  status: AppStatus | null;
  running: Progress | null;
  verifyProgress: Progress | null;
  offsiteProgress: OffsiteProgress | null;
  focus: string | null;
  now: Date;
  onRestore: (path: string) => void;
}) {
  const { status, running, verifyProgress, offsiteProgress, focus, now, onRestore } = props;
  const api = useApi();
  const { native } = useConnection();
  const [backups, setBackups] = useState<BackupSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [verifications, setVerifications] = useState<Record<string, Verification>>({});
  const [copies, setCopies] = useState<Record<string, Record<string, CopyStateView>>>({});
  const hasTargets = (status?.offsite.targets.length ?? 0) > 0;

  const load = useCallback(
    () =>
      api.listBackups().then(
        (list) => {
          setBackups(list);
          setError(null);
        },
        (failure: unknown) => setError(errorText(failure)),
      ),
    [api],
  );
  // Load on opening, then again when a run has finished or a new backup appears (not while one is
  // being written: its folder changes under the listing).
  const busy = running !== null;
  const loaded = backups !== null;
  useEffect(() => {
    if (!busy || !loaded) void load();
  }, [load, busy, status?.lastBackup?.name]);

  // Each backup's copies, again whenever a copy starts, ends or is queued.
  const offsiteKey = JSON.stringify(status?.offsite ?? null);
  useEffect(() => {
    api.copyStates().then(setCopies, () => {});
  }, [api, offsiteKey, backups]);
  const copyNow = async (backup: BackupSummary) => {
    try {
      const answer = await api.copyBackup({ path: backup.path });
      setError(answer.queued ? null : answer.reason);
    } catch (failure) {
      setError(errorText(failure));
    }
  };

  // A notification about one backup opens this view on it.
  useEffect(() => {
    if (focus && backups) document.querySelector(`tr[data-backup="${CSS.escape(focus)}"]`)?.scrollIntoView({ block: 'center' });
  }, [focus, backups]);

  const verify = async (backup: BackupSummary, deep: boolean, decryption?: DecryptionInput) => {
    // Progress events carry no backup name: those that started after this request are this one's.
    const since = new Date(Date.now() - 1000);
    setVerifications((all) => ({ ...all, [backup.name]: { state: 'running', deep, since } }));
    let result: Verification;
    try {
      result = { state: 'done', report: await api.verifyBackup({ path: backup.path, deep, ...(decryption && { decryption }) }) };
    } catch (failure) {
      result = { state: 'error', message: errorText(failure) };
    }
    setVerifications((all) => ({ ...all, [backup.name]: result }));
  };
  // A deep verification reads an encrypted backup's files: it asks for the key first, as a restore does.
  const [askingKey, setAskingKey] = useState<KeyQuestion | null>(null);
  const deepVerify = async (backup: BackupSummary) => {
    if (!backup.encrypted) return verify(backup, true);
    try {
      const [found, remembered] = await Promise.all([api.inspectBackup({ path: backup.path }), api.getEncryption().catch(() => null)]);
      if (!found.ok || !found.encryption) return verify(backup, true); // the verification says what is wrong with it
      const mode = found.encryption.mode;
      setAskingKey({ backup, mode, canRemember: mode === 'passphrase' ? remembered?.passphraseRemembered === true : remembered?.keptIdentities != null });
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const openFolder = async (backup: BackupSummary) => {
    try {
      const answer = await api.openFolder({ target: 'backup', path: backup.path });
      setError(answer.opened ? null : (answer.error ?? `Could not open ${backup.path}.`));
    } catch (failure) {
      setError(errorText(failure));
    }
  };

  if (!backups) return error ? <Notice tone="error">{error}</Notice> : <p className="muted">Loading backups…</p>;
  // Backups come newest first: the first complete pre-restore backup is the undo of the last restore.
  const lastPreRestore = backups.find((b) => b.kind === 'pre-restore' && b.status === 'complete');

  const restoreFromTarget = <RestoreFromTarget disabled={!!status?.job} progress={offsiteProgress} now={now} onDownloaded={onRestore} />;
  return (
    <div className="stack">
      {error ? <Notice tone="error">{error}</Notice> : null}
      <OffsiteActivity status={status} progress={offsiteProgress} now={now} />
      {backups.length === 0 ? (
        <section className="card empty">
          <Icon name="backups" size={36} />
          <h2>No backups yet</h2>
          <p className="muted">Backups you make, by hand or on schedule, are listed here with their size and whether they are intact.</p>
          <button type="button" className="button primary" onClick={() => showView('overview')}>
            Go to Overview to back up now
          </button>
        </section>
      ) : (
        <>
          {backups.filter((b) => b.status === 'complete').length >= 2 ? (
            <section className="card" aria-labelledby="chart-title">
              <h2 id="chart-title" className="card-title">
                Size over time
              </h2>
              <SizeChart backups={backups.filter((b) => b.kind === 'backup')} />
            </section>
          ) : null}
          <section className="card table-card" aria-labelledby="list-title">
            <h2 id="list-title" className="card-title">
              {backups.length === 1 ? '1 backup' : `${backups.length} backups`}
            </h2>
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Made</th>
                  <th scope="col" className="num">
                    Size
                  </th>
                  <th scope="col" className="num">
                    Took
                  </th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {backups.map((backup) => {
                  const verification = verifications[backup.name];
                  const isLastUndo = backup.name === lastPreRestore?.name;
                  return (
                    <Fragment key={backup.name}>
                      <tr data-backup={backup.name} className={backup.name === focus ? 'highlight' : undefined}>
                        <td className="nowrap">
                          <span className="cell-main">{formatDateTime(backup.createdAt)}</span>
                          <span className="cell-sub">
                            {formatAge(backup.createdAt, now)} · {backup.name}
                          </span>
                        </td>
                        <td className="num">
                          <span className="cell-main">{formatBytes(backup.size)}</span>
                          <span className="cell-sub" data-testid={`kind-${backup.name}`}>
                            {backup.backupKind === 'incremental'
                              ? `Incremental · stands for ${backup.standsForSize == null ? '—' : formatBytes(backup.standsForSize)}`
                              : 'Full'}
                          </span>
                        </td>
                        <td className="num">{backup.durationMs === null ? '—' : formatDuration(backup.durationMs)}</td>
                        <td>
                          {verification?.state === 'done' && !verification.report.ok ? (
                            <StatusBadge tone="failed">Damaged</StatusBadge>
                          ) : (
                            <StatusBadge tone={backup.status === 'complete' ? 'ok' : backup.status === 'corrupt' ? 'failed' : 'stale'}>
                              {STATUS_TEXT[backup.status]}
                            </StatusBadge>
                          )}
                          {backup.legacy ? <span className="cell-sub">from backup.sh</span> : null}
                          {backup.encrypted ? (
                            <span className="cell-sub" data-testid={`encrypted-${backup.name}`}>
                              <Icon name="lock" size={12} /> Encrypted
                            </span>
                          ) : null}
                          {backup.kind === 'pre-restore' ? (
                            <span className="cell-sub" data-testid={`pre-restore-${backup.name}`}>
                              Pre-restore backup: the data {backup.preRestoreOf ? `the restore of ${backup.preRestoreOf.backupName}` : 'a restore'} replaced
                            </span>
                          ) : null}
                          {backup.statusDetail ? <span className="cell-sub">{backup.statusDetail}</span> : null}
                          <CopyStates backup={backup.name} states={copies[backup.name]} />
                        </td>
                        <td>
                          <div className="actions">
                            {backup.status !== 'incomplete' ? (
                              <>
                                <button
                                  type="button"
                                  className="button small"
                                  onClick={() => verify(backup, false)}
                                  disabled={verification?.state === 'running'}
                                  aria-label={`Verify ${backup.name} (quick: sizes and checksums)`}
                                >
                                  {verification?.state === 'running' && !verification.deep ? 'Verifying…' : 'Verify'}
                                </button>
                                <button
                                  type="button"
                                  className="button small"
                                  onClick={() => void deepVerify(backup)}
                                  disabled={verification?.state === 'running'}
                                  aria-label={`Deep verify ${backup.name} (unpack and check every database)`}
                                >
                                  {verification?.state === 'running' && verification.deep ? 'Checking…' : 'Deep verify'}
                                </button>
                                <button
                                  type="button"
                                  className="button small"
                                  onClick={() => onRestore(backup.path)}
                                  disabled={status?.job !== null && status?.job !== undefined}
                                  aria-label={`Restore from ${backup.name}…`}
                                >
                                  Restore…
                                </button>
                                {hasTargets && backup.kind === 'backup' && backup.status === 'complete' ? (
                                  <button type="button" className="button small" onClick={() => copyNow(backup)} aria-label={`Copy off-site: ${backup.name}`}>
                                    Copy off-site
                                  </button>
                                ) : null}
                                {isLastUndo ? (
                                  <button
                                    type="button"
                                    className="button small"
                                    onClick={() => onRestore(backup.path)}
                                    disabled={status?.job !== null && status?.job !== undefined}
                                    aria-label={`Undo last restore (restore ${backup.name}, the data it replaced)…`}
                                  >
                                    Undo last restore…
                                  </button>
                                ) : null}
                              </>
                            ) : null}
                            {native ? (
                              <button
                                type="button"
                                className="button small icon-only"
                                onClick={() => openFolder(backup)}
                                aria-label={`Open the folder of ${backup.name}`}
                                title="Open folder"
                              >
                                <Icon name="folder" size={16} />
                              </button>
                            ) : null}
                          </div>
                        </td>
                      </tr>
                      {verification ? (
                        <tr className="detail-row">
                          <td colSpan={5}>
                            {verification.state === 'running' ? (
                              verifyProgress && new Date(verifyProgress.startedAt) >= verification.since ? (
                                <ProgressPanel progress={verifyProgress} now={now} title={verification.deep ? 'Deep verification' : 'Verification'} />
                              ) : (
                                <p className="muted" role="status">
                                  Verifying…
                                </p>
                              )
                            ) : (
                              <VerifyResult name={backup.name} verification={verification} />
                            )}
                          </td>
                        </tr>
                      ) : null}
                    </Fragment>
                  );
                })}
              </tbody>
            </table>
          </section>
        </>
      )}
      {restoreFromTarget}
      {askingKey ? (
        <VerifyKeyDialog
          question={askingKey}
          onPickFile={native ? () => api.pickFolder({ purpose: 'identityFile' }).catch(() => null) : null}
          onCancel={() => setAskingKey(null)}
          onVerify={(decryption) => {
            setAskingKey(null);
            void verify(askingKey.backup, true, decryption);
          }}
        />
      ) : null}
    </div>
  );
}

interface KeyQuestion {
  backup: BackupSummary;
  mode: 'recipients' | 'passphrase';
  canRemember: boolean;
}

/** The key a deep verification of an encrypted backup needs: the restore's fields, in a dialog. */
function VerifyKeyDialog(props: { question: KeyQuestion; onPickFile: (() => Promise<string | null>) | null; onCancel: () => void; onVerify: (decryption: DecryptionInput) => void }) {
  const { question, onPickFile, onCancel, onVerify } = props;
  const [keys, setKeys] = useState(NO_KEYS);
  const cancelButton = useRef<HTMLButtonElement>(null);
  const chosen = withDefaultUse(keys, question.mode, question.canRemember);
  const decryption = decryptionFrom(chosen);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (decryption) onVerify(decryption);
  };
  return (
    <Modal labelledBy="verify-key-title" onClose={onCancel} initialFocus={cancelButton} className="confirm">
      <form onSubmit={submit}>
        <h2 id="verify-key-title" className="card-title">
          Deep verify {question.backup.name}
        </h2>
        <DecryptionFields
          mode={question.mode}
          canRemember={question.canRemember}
          keys={chosen}
          onChange={setKeys}
          task="A deep verification"
          onPickFile={
            onPickFile
              ? async () => {
                  const file = await onPickFile();
                  if (file) setKeys((k) => ({ ...k, use: 'file', identityPath: file }));
                }
              : null
          }
        />
        <div className="button-row">
          <button type="button" className="button" ref={cancelButton} onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={!decryption}>
            Verify with this key
          </button>
        </div>
      </form>
    </Modal>
  );
}

function VerifyResult({ name, verification }: { name: string; verification: Exclude<Verification, { state: 'running' }> }) {
  if (verification.state === 'error') return <Notice tone="error" title={`Could not verify ${name}`}>{verification.message}</Notice>;
  const { report } = verification;
  const kind = report.deep ? 'Deep verification' : 'Quick verification';
  return (
    <div className="verify" data-testid={`verify-${name}`}>
      {report.ok ? (
        <Notice tone="success" title={`${kind} passed`}>
          {report.checksumsAvailable
            ? `All ${report.files.length} files are intact.`
            : 'This backup came from backup.sh and has no checksums: its files unpack and its databases pass integrity_check.'}
        </Notice>
      ) : (
        <Notice tone="error" title={`${kind} found problems — do not rely on this backup`}>
          <ul className="plain-list">
            {report.problems.map((problem) => (
              <li key={problem}>{problem}</li>
            ))}
          </ul>
        </Notice>
      )}
      <ul className="file-results" aria-label={`Files of ${name}`}>
        {report.files.map((file) => (
          <li key={file.path} className={file.ok ? 'ok' : 'bad'}>
            <Icon name={file.ok ? 'check' : 'cross'} size={14} />
            <code>{file.path}</code>
            <span className="muted">{file.detail}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
