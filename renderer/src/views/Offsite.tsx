import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import type { ApiEvents, AppStatus, BackupSummary, CopyStateView, TargetInfo } from '../../../shared/api.js';
import type { FieldErrors } from '../../../shared/settings.js';
import { useApi, useConnection } from '../api/client.js';
import { FolderBrowser } from '../components/FolderBrowser.js';
import { Notice } from '../components/Notice.js';
import { ProgressPanel } from '../components/ProgressPanel.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { errorText } from '../errors.js';
import { formatAge, formatBytes, formatDateTime } from '../format.js';

export type OffsiteProgress = ApiEvents['offsiteProgress'];

const KIND_TEXT = { folder: 'Folder', s3: 'S3-compatible', sftp: 'SFTP' } as const;

// ---- Settings: the Targets section --------------------------------------------------------------

/** Settings → Off-site targets: the list (test, remove, the pinned host key), and a form to add one. */
export function TargetsSection() {
  const api = useApi();
  const [targets, setTargets] = useState<TargetInfo[] | null>(null);
  const [notice, setNotice] = useState<{ tone: 'success' | 'error' | 'info'; title: string; text: string } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = useCallback(() => api.listTargets().then(setTargets, (error: unknown) => setNotice({ tone: 'error', title: 'Cannot list the targets', text: errorText(error) })), [api]);
  useEffect(() => void load(), [load]);

  const test = async (name: string) => {
    setBusy(name);
    try {
      const answer = await api.testTarget({ name });
      setNotice({ tone: answer.ok ? 'success' : 'error', title: answer.ok ? `"${name}" works` : `"${name}" does not work`, text: answer.message });
      await load();
    } catch (error) {
      setNotice({ tone: 'error', title: `Cannot test "${name}"`, text: errorText(error) });
    }
    setBusy(null);
  };
  const remove = async (name: string) => {
    setBusy(name);
    try {
      await api.removeTarget({ name });
      setNotice({ tone: 'info', title: `"${name}" removed`, text: 'No more copies go there. The copies it holds were left on it.' });
      await load();
    } catch (error) {
      setNotice({ tone: 'error', title: `Cannot remove "${name}"`, text: errorText(error) });
    }
    setBusy(null);
  };

  return (
    <section className="card settings-section" aria-labelledby="targets-title">
      <div className="settings-section-head">
        <h2 className="card-title" id="targets-title">
          Off-site copies
        </h2>
        <p className="muted">After each backup a copy goes to every target: another disk, an S3-compatible bucket or an SFTP server.</p>
      </div>
      <div className="settings-fields">
        {notice ? (
          <Notice tone={notice.tone} title={notice.title}>
            {notice.text}
          </Notice>
        ) : null}
        {targets === null ? (
          <p className="muted">Loading targets…</p>
        ) : targets.length === 0 ? (
          <p className="muted">No targets yet: backups are only in the backup folder.</p>
        ) : (
          <ul className="target-list" aria-label="Targets">
            {targets.map((t) => (
              <li key={t.spec.name} className="target" data-target={t.spec.name}>
                <div className="target-text">
                  <span className="cell-main">
                    {t.spec.name} <span className="muted">· {KIND_TEXT[t.spec.type]}</span>
                  </span>
                  <span className="cell-sub mono">{t.location}</span>
                  {t.hostKey ? <span className="cell-sub">Host key pinned: <code>{t.hostKey}</code></span> : null}
                  <span className="cell-sub">{lastCopyText(t)}</span>
                </div>
                <div className="actions">
                  <button type="button" className="button small" disabled={busy !== null} onClick={() => test(t.spec.name)} aria-label={`Test the connection to ${t.spec.name}`}>
                    {busy === t.spec.name ? 'Testing…' : 'Test'}
                  </button>
                  <button type="button" className="button small" disabled={busy !== null} onClick={() => remove(t.spec.name)} aria-label={`Remove the target ${t.spec.name}`}>
                    Remove
                  </button>
                </div>
              </li>
            ))}
          </ul>
        )}
        <AddTarget
          onAdded={async (answer) => {
            const pinned = answer.target.hostKey && answer.target.spec.type === 'sftp' ? ` Its host key ${answer.target.hostKey} is now pinned: check it matches the server's (ssh-keygen -lf).` : '';
            setNotice({
              tone: answer.test.ok ? 'success' : 'error',
              title: answer.test.ok ? `"${answer.target.spec.name}" added and tested` : `"${answer.target.spec.name}" added, but it does not work yet`,
              text: `${answer.test.message}${answer.test.ok ? pinned : ''}`,
            });
            await load();
          }}
        />
      </div>
    </section>
  );
}

function lastCopyText(t: TargetInfo): string {
  const last = t.lastCopy;
  if (!last) return 'No copy yet.';
  if (!last.ok) return `Last copy failed (${last.backupName}): ${last.error ?? 'no reason recorded'}`;
  return `Last copy: ${last.backupName}, ${formatDateTime(last.at)}.`;
}

type Kind = 'folder' | 's3' | 'sftp';

/** The add form: fields per kind; the secret (S3 secret access key, SFTP password) goes to the keychain. */
function AddTarget({ onAdded }: { onAdded: (answer: Extract<Awaited<ReturnType<ReturnType<typeof useApi>['addTarget']>>, { ok: true }>) => Promise<void> }) {
  const api = useApi();
  const { native } = useConnection();
  const id = useId();
  const [kind, setKind] = useState<Kind>('folder');
  const [values, setValues] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<FieldErrors>({});
  const [adding, setAdding] = useState(false);
  const [browsing, setBrowsing] = useState(false);
  const set = (field: string, value: string) => {
    setValues((all) => ({ ...all, [field]: value }));
    setErrors(({ [field]: _fixed, ...rest }) => rest);
  };
  const v = (field: string) => values[field]?.trim() ?? '';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const number = (field: string) => (v(field) && /^\d+$/.test(v(field)) ? Number(v(field)) : v(field) || undefined);
    const retention = v('retention.retainDays') || v('retention.keepLast') ? { retention: { retainDays: number('retention.retainDays'), keepLast: number('retention.keepLast') ?? 3 } } : {};
    const limit = v('bandwidthLimitKiBps') ? { bandwidthLimitKiBps: number('bandwidthLimitKiBps') } : {};
    const common = { name: v('name'), type: kind, ...retention, ...limit };
    const optional = (field: string) => (v(field) ? { [field]: v(field) } : {});
    const target =
      kind === 'folder'
        ? { ...common, path: v('path') }
        : kind === 's3'
          ? { ...common, bucket: v('bucket'), prefix: v('prefix'), endpoint: v('endpoint'), region: v('region') || 'us-east-1', forcePathStyle: v('endpoint') !== '', ...optional('accessKeyId') }
          : { ...common, host: v('host'), port: Number(v('port') || 22), username: v('username'), path: v('path'), ...optional('privateKeyFile'), ...optional('hostKey') };
    const secret = values.secret ? values.secret : undefined;
    setAdding(true);
    try {
      const answer = await api.addTarget({ target, ...(secret ? { secret } : {}) });
      if (answer.ok) {
        setValues({});
        setErrors({});
        await onAdded(answer);
      } else {
        setErrors(answer.errors);
        const first = Object.keys(answer.errors)[0];
        if (MORE.includes(first ?? '')) document.querySelector<HTMLDetailsElement>('.more-options')?.setAttribute('open', '');
        if (first) document.getElementById(`${id}-${first}`)?.focus();
      }
    } catch (error) {
      setErrors({ form: errorText(error) });
    }
    setAdding(false);
  };

  const field = (name: string, label: string, opts: { hint?: string; placeholder?: string; type?: 'text' | 'password'; mono?: boolean; after?: React.ReactNode } = {}) => {
    const fid = `${id}-${name}`;
    const error = errors[name];
    const described = [error ? `${fid}-error` : '', opts.hint ? `${fid}-hint` : ''].filter(Boolean).join(' ');
    return (
      <div className={`field${error ? ' invalid' : ''}`}>
        <label htmlFor={fid}>{label}</label>
        <div className="input-row">
          <input
            id={fid}
            type={opts.type ?? 'text'}
            className={opts.mono ? 'mono' : undefined}
            value={values[name] ?? ''}
            placeholder={opts.placeholder}
            spellCheck={false}
            autoComplete={opts.type === 'password' ? 'new-password' : 'off'}
            aria-invalid={error ? true : undefined}
            aria-describedby={described || undefined}
            onChange={(e) => set(name, e.target.value)}
          />
          {opts.after}
        </div>
        {error ? (
          <p className="field-error" id={`${fid}-error`}>
            {error}
          </p>
        ) : null}
        {opts.hint ? (
          <p className="hint" id={`${fid}-hint`}>
            {opts.hint}
          </p>
        ) : null}
      </div>
    );
  };
  const stray = Object.entries(errors).filter(([name]) => !FIELDS[kind].includes(name));

  return (
    <form className="add-target" onSubmit={submit} noValidate aria-labelledby={`${id}-title`}>
      {browsing ? (
        <FolderBrowser
          folder
          title="Choose the folder for off-site copies"
          start={v('path') || undefined}
          onClose={() => setBrowsing(false)}
          onChoose={(chosen) => {
            set('path', chosen);
            setBrowsing(false);
          }}
        />
      ) : null}
      <h3 className="subhead" id={`${id}-title`}>
        Add a target
      </h3>
      <fieldset className="radio-group">
        <legend>Kind</legend>
        {(['folder', 's3', 'sftp'] as const).map((k) => (
          <label className="check" key={k}>
            <input type="radio" name={`${id}-kind`} checked={kind === k} onChange={() => (setKind(k), setErrors({}))} />
            {k === 'folder' ? 'Folder (another disk, a NAS share)' : k === 's3' ? 'S3-compatible bucket' : 'SFTP server'}
          </label>
        ))}
      </fieldset>
      {field('name', 'Name', { hint: 'Letters, digits, dot, dash, underscore: how the app and the CLI (--to NAME) call it.', placeholder: 'usb-disk' })}
      {kind === 'folder'
        ? field('path', 'Folder', {
            mono: true,
            hint: 'Copies go into this folder, one backup_… folder each.',
            after: native ? (
              <button type="button" className="button" onClick={async () => { const chosen = await api.pickFolder({ purpose: 'backupDir' }).catch(() => null); if (chosen) set('path', chosen); }} aria-label="Choose the folder for off-site copies">
                Choose…
              </button>
            ) : (
              <button type="button" className="button" onClick={() => setBrowsing(true)} aria-label="Choose the folder for off-site copies">
                Choose…
              </button>
            ),
          })
        : null}
      {kind === 's3' ? (
        <>
          {field('endpoint', 'Endpoint URL', { mono: true, placeholder: 'https://s3.eu-central-003.backblazeb2.com', hint: 'Empty for AWS itself.' })}
          {field('region', 'Region', { placeholder: 'us-east-1' })}
          {field('bucket', 'Bucket')}
          {field('prefix', 'Prefix', { mono: true, placeholder: 'aurora/', hint: 'Optional: a folder inside the bucket.' })}
          {field('accessKeyId', 'Access key ID', { mono: true, hint: 'Empty: the AWS environment variables or ~/.aws/credentials.' })}
          {field('secret', 'Secret access key', { type: 'password', hint: "Kept in this computer's keychain, never in the settings files." })}
        </>
      ) : null}
      {kind === 'sftp' ? (
        <>
          {field('host', 'Server')}
          {field('port', 'Port', { placeholder: '22' })}
          {field('username', 'User')}
          {field('path', 'Folder on the server', { mono: true, placeholder: 'backups' })}
          {field('privateKeyFile', 'Private key file', { mono: true, placeholder: '/home/me/.ssh/id_ed25519', hint: 'Or a password below.' })}
          {field('secret', 'Password', { type: 'password', hint: "Kept in this computer's keychain." })}
          {field('hostKey', 'Host key fingerprint', { mono: true, placeholder: 'SHA256:…', hint: "Optional: the server's key as ssh-keygen -lf prints it. Empty: the key the server shows first is pinned." })}
        </>
      ) : null}
      <details className="more-options">
        <summary>Retention and upload limit</summary>
        {field('retention.retainDays', 'Delete copies there older than (days)', { hint: 'Empty: copies are never removed there. Applied after each successful copy; the newest copy always stays.' })}
        {field('retention.keepLast', 'But always keep the newest (copies)', { placeholder: '3' })}
        {field('bandwidthLimitKiBps', 'Upload limit (KiB/s)', { hint: 'Empty: as fast as the connection allows.' })}
      </details>
      {stray.length ? (
        <Notice tone="error">
          <ul className="plain-list">
            {stray.map(([name, message]) => (
              <li key={name}>{name === 'form' ? message : `${name}: ${message}`}</li>
            ))}
          </ul>
        </Notice>
      ) : null}
      <div className="button-row">
        <button type="submit" className="button primary" disabled={adding}>
          {adding ? 'Adding and testing…' : 'Add target'}
        </button>
      </div>
    </form>
  );
}

const MORE = ['retention.retainDays', 'retention.keepLast', 'bandwidthLimitKiBps'];
const FIELDS: Record<Kind, string[]> = {
  folder: ['name', 'path', ...MORE],
  s3: ['name', 'endpoint', 'region', 'bucket', 'prefix', 'accessKeyId', 'secret', ...MORE],
  sftp: ['name', 'host', 'port', 'username', 'path', 'privateKeyFile', 'secret', 'hostKey', ...MORE],
};

// ---- Backups: copy states, upload progress, restore from a target -------------------------------

const STATE_TEXT: Record<CopyStateView['state'], string> = { copied: 'copied', failed: 'copy failed', copying: 'copying…', queued: 'waiting' };

/** One backup's copy on each target, as badges. */
export function CopyStates({ backup, states }: { backup: string; states: Record<string, CopyStateView> | undefined }) {
  const entries = Object.entries(states ?? {});
  if (!entries.length) return null;
  return (
    <span className="copy-states" data-testid={`copies-${backup}`} aria-label={`Off-site copies of ${backup}`}>
      {entries.map(([target, state]) => (
        <span key={target} title={state.state === 'failed' ? state.error : undefined} data-target={target} data-state={state.state}>
          <StatusBadge tone={state.state === 'copied' ? 'ok' : state.state === 'failed' ? 'failed' : 'running'}>{`${target}: ${STATE_TEXT[state.state]}`}</StatusBadge>
        </span>
      ))}
    </span>
  );
}

/** The copy (or download) running now, with its progress. */
export function OffsiteActivity({ status, progress, now }: { status: AppStatus | null; progress: OffsiteProgress | null; now: Date }) {
  const copying = status?.offsite.copying;
  if (!copying) return null;
  const live = progress && progress.target === copying.target && progress.backupName === copying.backupName ? progress.progress : null;
  const queued = status.offsite.queued;
  return (
    <ProgressPanel progress={live} now={now} title={`Copying ${copying.backupName} to "${copying.target}"`}>
      {queued ? <p className="muted">{queued === 1 ? 'One more copy waits.' : `${queued} more copies wait.`}</p> : null}
    </ProgressPanel>
  );
}

/** Backups → Restore from an off-site target: list what a target holds, download one, then restore it as usual. */
export function RestoreFromTarget({ disabled, progress, now, onDownloaded }: { disabled: boolean; progress: OffsiteProgress | null; now: Date; onDownloaded: (path: string) => void }) {
  const api = useApi();
  const id = useId();
  const [targets, setTargets] = useState<TargetInfo[] | null>(null);
  const [chosen, setChosen] = useState('');
  const [listing, setListing] = useState<{ state: 'loading' } | { state: 'done'; backups: BackupSummary[] } | { state: 'error'; error: string } | null>(null);
  const [downloading, setDownloading] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api.listTargets().then(
      (list) => {
        setTargets(list);
        setChosen((c) => c || list[0]?.spec.name || '');
      },
      (failure: unknown) => setError(errorText(failure)),
    );
  }, [api]);
  if (!targets?.length) return null;

  const show = async () => {
    setListing({ state: 'loading' });
    try {
      const answer = await api.listTargetBackups({ name: chosen });
      setListing(answer.ok ? { state: 'done', backups: answer.backups.filter((b) => b.kind === 'backup') } : { state: 'error', error: answer.error });
    } catch (failure) {
      setListing({ state: 'error', error: errorText(failure) });
    }
  };
  const download = async (backup: BackupSummary) => {
    setDownloading(backup.name);
    setError(null);
    try {
      const answer = await api.downloadFromTarget({ name: chosen, backupName: backup.name });
      if (answer.ok) onDownloaded(answer.path);
      else setError(answer.error);
    } catch (failure) {
      setError(errorText(failure));
    }
    setDownloading(null);
  };
  const live = downloading && progress?.backupName === downloading && progress.progress.phase === 'downloading' ? progress.progress : null;

  return (
    <section className="card" aria-labelledby={`${id}-title`}>
      <h2 className="card-title" id={`${id}-title`}>
        Restore from an off-site copy
      </h2>
      <p className="muted">When the backups here are gone or damaged: the copy is downloaded and checked, then restored like any backup.</p>
      <div className="input-row">
        <label htmlFor={`${id}-target`}>Target</label>
        <select id={`${id}-target`} value={chosen} onChange={(e) => (setChosen(e.target.value), setListing(null))}>
          {targets.map((t) => (
            <option key={t.spec.name} value={t.spec.name}>
              {t.spec.name} — {t.location}
            </option>
          ))}
        </select>
        <button type="button" className="button" onClick={show} disabled={listing?.state === 'loading'}>
          {listing?.state === 'loading' ? 'Listing…' : 'Show its backups'}
        </button>
      </div>
      {error ? <Notice tone="error">{error}</Notice> : null}
      {downloading ? <ProgressPanel progress={live} now={now} title={`Downloading ${downloading} from "${chosen}"`} /> : null}
      {listing?.state === 'error' ? <Notice tone="error">{listing.error}</Notice> : null}
      {listing?.state === 'done' ? (
        listing.backups.length === 0 ? (
          <p className="muted">"{chosen}" holds no backup.</p>
        ) : (
          <ul className="target-backups" aria-label={`Backups on ${chosen}`}>
            {listing.backups.map((b) => (
              <li key={b.name} data-remote-backup={b.name}>
                <span>
                  <span className="cell-main">{formatDateTime(b.createdAt)}</span>
                  <span className="cell-sub">
                    {formatAge(b.createdAt, now)} · {b.name} · {formatBytes(b.size)}
                  </span>
                </span>
                {b.status === 'complete' ? (
                  <button type="button" className="button small" disabled={disabled || downloading !== null} onClick={() => download(b)} aria-label={`Download and restore ${b.name} from ${chosen}…`}>
                    Download and restore…
                  </button>
                ) : (
                  <StatusBadge tone={b.status === 'corrupt' ? 'failed' : 'stale'}>{b.status === 'corrupt' ? 'Corrupt' : 'Incomplete'}</StatusBadge>
                )}
              </li>
            ))}
          </ul>
        )
      ) : null}
    </section>
  );
}
