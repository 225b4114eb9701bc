import { useEffect, useId, useState, type FormEvent } from 'react';
import type { InspectResult, RestoreResult } from '../../../shared/api.js';
import type { Component } from '../../../shared/components.js';
import type { Progress } from '../../../shared/progress.js';
import type { Settings } from '../../../shared/settings.js';
import { useApi, useConnection } from '../api/client.js';
import { Icon } from '../components/Icon.js';
import { Notice } from '../components/Notice.js';
import { ProgressPanel } from '../components/ProgressPanel.js';
import { COMPONENT_INFO } from '../components-info.js';
import { errorText } from '../errors.js';
import { formatAge, formatBytes, formatDateTime } from '../format.js';

/** A folder dropped anywhere on the window (App catches the drop); `at` makes a second drop of the same folder count. */
export interface DroppedFolder {
  path: string | null;
  at: number;
}

type Found = Extract<InspectResult, { ok: true }>;
type Outcome = { ok: true; result: RestoreResult } | { ok: false; error: string };

export function Restore({ dropped, running, now }: { dropped: DroppedFolder | null; running: Progress | null; now: Date }) {
  const api = useApi();
  const { native } = useConnection();
  const fieldId = useId();
  const [pathText, setPathText] = useState('');
  const [inspecting, setInspecting] = useState(false);
  const [inspection, setInspection] = useState<InspectResult | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [selected, setSelected] = useState<Component[]>([]);
  const [confirming, setConfirming] = useState(false);
  const [restoring, setRestoring] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [settings, setSettings] = useState<Settings | null>(null);
  const [dragging, setDragging] = useState(false);

  useEffect(() => {
    api.getSettings().then(setSettings, () => setSettings(null));
  }, [api]);

  const inspect = async (path: string) => {
    setPathText(path);
    setProblem(null);
    setInspection(null);
    setConfirming(false);
    setOutcome(null);
    setInspecting(true);
    try {
      const result = await api.inspectBackup({ path });
      setInspection(result);
      if (result.ok) setSelected(result.components.filter((c) => c.present).map((c) => c.component));
    } catch (error) {
      setProblem(errorText(error));
    }
    setInspecting(false);
  };

  // Only a new drop starts an inspection (not a re-render).
  useEffect(() => {
    if (!dropped) return;
    if (dropped.path) void inspect(dropped.path);
    else setProblem('What was dropped is not a folder on this computer. Drag the backup folder itself from your file manager, or type its path below.');
  }, [dropped]);

  const choose = async () => {
    setProblem(null);
    try {
      const path = await api.pickFolder({ purpose: 'restore' });
      if (path) await inspect(path);
    } catch (error) {
      setProblem(errorText(error));
    }
  };

  const submitPath = (event: FormEvent) => {
    event.preventDefault();
    if (pathText.trim()) void inspect(pathText.trim());
  };

  const restore = async (backup: Found) => {
    setConfirming(false);
    setRestoring(true);
    try {
      setOutcome(await api.restore({ path: backup.path, components: selected }));
    } catch (error) {
      setOutcome({ ok: false, error: errorText(error) });
    }
    setRestoring(false);
  };

  const reset = () => {
    setInspection(null);
    setOutcome(null);
    setProblem(null);
    setPathText('');
  };

  const found = inspection?.ok ? inspection : null;

  return (
    <div className="stack">
      {!found ? (
        <section className="card">
          <div
            className={`dropzone${dragging ? ' dragging' : ''}`}
            data-testid="dropzone"
            onDragEnter={() => setDragging(true)}
            onDragLeave={() => setDragging(false)}
            onDrop={() => setDragging(false)}
          >
            <Icon name="folder" size={40} />
            <p className="dropzone-title">Drop a backup folder here</p>
            <p className="muted">A folder named like backup_20250322_143022, with a manifest.json inside.</p>
            {native ? (
              <button type="button" className="button" onClick={choose}>
                Choose folder…
              </button>
            ) : null}
          </div>
          <form className="path-form" onSubmit={submitPath}>
            <label htmlFor={fieldId}>Or type the path of a backup folder</label>
            <div className="input-row">
              <input id={fieldId} type="text" value={pathText} onChange={(e) => setPathText(e.target.value)} placeholder="/var/backups/pds/backup_20250322_143022" spellCheck={false} />
              <button type="submit" className="button" disabled={inspecting || !pathText.trim()}>
                {inspecting ? 'Reading…' : 'Open'}
              </button>
            </div>
          </form>
        </section>
      ) : null}

      {problem ? <Notice tone="error">{problem}</Notice> : null}
      {inspection && !inspection.ok ? (
        <Notice tone="error" title="This folder cannot be restored">
          <p>{inspection.reason}</p>
          <p className="muted">Nothing was changed. Folder: {inspection.path}</p>
        </Notice>
      ) : null}

      {found && !outcome ? (
        <section className="card" aria-labelledby="backup-title">
          <div className="card-head">
            <h2 id="backup-title" className="card-title">
              Backup from {formatDateTime(found.createdAt)}
            </h2>
            <button type="button" className="button small" onClick={reset} disabled={restoring}>
              Choose another
            </button>
          </div>
          <p className="lead">
            Made {formatAge(found.createdAt, now)}
            {found.hostname ? ` on ${found.hostname}` : ''}
            {found.pdsVersion && found.pdsVersion !== 'unknown' ? `, by PDS version ${found.pdsVersion}` : ''}.{' '}
            {found.counts ? `It holds ${found.counts.accounts} accounts, ${found.counts.actors} repositories and ${found.counts.blobs} media files; ` : 'It holds '}
            {formatBytes(found.size)} stored{found.compression ? ` with ${found.compression}` : ''}.
          </p>
          {found.legacy ? <Notice tone="warning">Made by the original backup.sh: it has no checksums, so damage inside a file can only be found by unpacking it.</Notice> : null}
          <p className="muted small-path">{found.path}</p>

          <fieldset className="components" disabled={restoring || confirming}>
            <legend>What to restore</legend>
            {found.components.map((part) => {
              const info = COMPONENT_INFO[part.component];
              const checked = selected.includes(part.component);
              return (
                <label key={part.component} className={`component${part.present ? '' : ' absent'}`}>
                  <input
                    type="checkbox"
                    name="component"
                    value={part.component}
                    checked={checked}
                    disabled={!part.present}
                    onChange={() => setSelected(checked ? selected.filter((c) => c !== part.component) : [...selected, part.component])}
                  />
                  <span className="component-text">
                    <span className="component-name">{info.label}</span>
                    <span className="muted">{info.description}</span>
                  </span>
                  <span className="component-size">{part.present ? formatBytes(part.size) : 'not in this backup'}</span>
                </label>
              );
            })}
          </fieldset>

          {!confirming ? (
            <div className="button-row">
              <button type="button" className="button primary" disabled={selected.length === 0 || restoring} onClick={() => setConfirming(true)}>
                {selected.length === found.components.filter((c) => c.present).length ? 'Restore everything…' : `Restore ${selected.length} of ${found.components.length} parts…`}
              </button>
            </div>
          ) : (
            <div className="confirm" role="alertdialog" aria-labelledby="confirm-title" aria-describedby="confirm-text">
              <h3 id="confirm-title">Replace this data{settings ? ` in ${settings.dataDir}` : ''}?</h3>
              <div id="confirm-text">
                <p>These parts of the PDS will be replaced with the copy from {formatDateTime(found.createdAt)}:</p>
                <ul>
                  {selected.map((c) => (
                    <li key={c}>
                      <strong>{COMPONENT_INFO[c].label}</strong>: {COMPONENT_INFO[c].description}
                    </li>
                  ))}
                </ul>
                <p>
                  First, the current data is saved as a <strong>pre-restore backup</strong>
                  {settings ? ` in ${settings.backupDir}` : ''}, so you can go back if this was a mistake.
                </p>
                {settings?.pds.stopCommand ? (
                  <p>
                    The backup is unpacked and checked while the PDS still runs; only then is it stopped with <code>{settings.pds.stopCommand}</code>, and
                    started again afterwards.
                  </p>
                ) : (
                  <p>No PDS stop command is set in Settings: make sure the PDS is stopped before you continue.</p>
                )}
              </div>
              <div className="button-row">
                <button type="button" className="button danger" onClick={() => restore(found)} autoFocus>
                  Replace and restore
                </button>
                <button type="button" className="button" onClick={() => setConfirming(false)}>
                  Go back
                </button>
              </div>
            </div>
          )}
        </section>
      ) : null}

      {restoring ? <ProgressPanel progress={running} now={now} title="Restoring" /> : null}

      {outcome?.ok ? (
        <Notice tone="success" title="Restore complete">
          <p>
            Restored {outcome.result.restored.map((c) => COMPONENT_INFO[c].label).join(', ')} into {outcome.result.dataDir}.
          </p>
          <p>{outcome.result.preRestoreBackup ? `The data it replaced is kept in ${outcome.result.preRestoreBackup}.` : 'There was no earlier data to keep.'}</p>
          {outcome.result.keptRaw.length ? (
            <>
              <p>These damaged databases could not be read, so the pre-restore backup keeps them exactly as they were:</p>
              <ul className="plain-list" aria-label="Kept as they were">
                {outcome.result.keptRaw.map((k) => (
                  <li key={k.path}>
                    <code>{k.path}</code> ({k.files.join(', ')}): {k.reason}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </Notice>
      ) : null}
      {outcome?.ok && outcome.result.warnings.length ? (
        <Notice tone="warning" title="Worth checking">
          <ul className="plain-list">
            {outcome.result.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </Notice>
      ) : null}
      {outcome && !outcome.ok ? <Notice tone="error" title="The restore did not complete">{outcome.error}</Notice> : null}
      {outcome ? (
        <div className="button-row">
          <button type="button" className="button" onClick={reset}>
            Restore something else
          </button>
        </div>
      ) : null}
    </div>
  );
}
