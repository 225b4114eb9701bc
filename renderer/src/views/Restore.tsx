import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { AppStatus, ConfigQuestion, EncryptionState, InspectResult, RestoreOutcome } from '../../../shared/api.js';
import type { Component } from '../../../shared/components.js';
import type { Progress } from '../../../shared/progress.js';
import type { Settings } from '../../../shared/settings.js';
import { useApi, useConnection } from '../api/client.js';
import { FolderBrowser } from '../components/FolderBrowser.js';
import { Icon } from '../components/Icon.js';
import { Modal } from '../components/Modal.js';
import { Notice } from '../components/Notice.js';
import { RestoreProgress } from '../components/RestoreProgress.js';
import { COMPONENT_INFO } from '../components-info.js';
import { decryptionFrom, DecryptionFields, NO_KEYS, withDefaultUse, type KeysForm } from '../components/DecryptionFields.js';
import { errorText } from '../errors.js';
import { countOf, formatAge, formatBytes, formatDateTime } from '../format.js';
import { partialRestoreRisks } from '../status-text.js';

/** A folder to open in Restore: dropped anywhere on the window, or chosen in Backups; `at` makes a second one of the same folder count. */
export interface DroppedFolder {
  path: string | null;
  at: number;
}

type Found = Extract<InspectResult, { ok: true }>;

/** The restore whose outcome the user has put away ("Restore something else"); kept for a reload of the tab. */
const DISMISSED_KEY = 'aurora-backup-dismissed-restore';

export function Restore({ dropped, onDroppedTaken, status, running, now }: { dropped: DroppedFolder | null; onDroppedTaken: () => void; status: AppStatus | null; running: Progress | null; now: Date }) {
  const api = useApi();
  const { native } = useConnection();
  const fieldId = useId();
  const [pathText, setPathText] = useState('');
  const [inspecting, setInspecting] = useState(false);
  const [inspection, setInspection] = useState<InspectResult | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [selected, setSelected] = useState<Component[]>([]);
  const [confirming, setConfirming] = useState(false);
  const [browsing, setBrowsing] = useState(false);
  const [starting, setStarting] = useState(false);
  const [settings, setSettings] = useState<Settings | null>(null);
  const [dragging, setDragging] = useState(false);
  const [dismissed, setDismissed] = useState(() => sessionStorage.getItem(DISMISSED_KEY));
  const [keys, setKeys] = useState<KeysForm>(NO_KEYS);
  const [withSecrets, setWithSecrets] = useState(true);
  const [remembered, setRemembered] = useState<EncryptionState | null>(null);

  useEffect(() => {
    api.getSettings().then(setSettings, () => setSettings(null));
  }, [api]);

  // Only the latest inspection fills the form: an earlier one answering late (a folder chosen twice; React's
  // development mode runs the hand-over effect twice) must not reset what the user has chosen since.
  const latestInspection = useRef(0);
  const inspect = async (path: string) => {
    const run = ++latestInspection.current;
    setPathText(path);
    setProblem(null);
    setInspection(null);
    setConfirming(false);
    setInspecting(true);
    try {
      const result = await api.inspectBackup({ path });
      if (run !== latestInspection.current) return;
      setInspection(result);
      setKeys(NO_KEYS);
      setWithSecrets(true);
      if (result.ok) setSelected(result.components.filter((c) => c.present).map((c) => c.component));
      if (result.ok && result.encryption) setRemembered(await api.getEncryption().catch(() => null));
    } catch (error) {
      if (run !== latestInspection.current) return;
      setProblem(errorText(error));
    }
    setInspecting(false);
  };

  const dismiss = () => {
    const id = status?.lastRestore?.entry.id ?? null;
    if (id) sessionStorage.setItem(DISMISSED_KEY, id);
    setDismissed(id);
  };

  // A folder handed over (dropped, or "Restore…" in Backups) is inspected once, then let go of.
  useEffect(() => {
    if (!dropped) return;
    dismiss();
    if (dropped.path) void inspect(dropped.path);
    else setProblem('What was dropped is not a folder on this computer. Drag the backup folder itself from your file manager, or type its path below.');
    onDroppedTaken();
  }, [dropped]);

  const choose = async () => {
    setProblem(null);
    if (!native) return setBrowsing(true);
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
    setInspection(null);
    setProblem(null);
    const before = status?.lastRestore?.entry.id;
    setStarting(true);
    try {
      const decryption = backup.encryption ? decryptionFrom(chosenKeys) : undefined;
      const secrets = backup.encryption?.secrets === true && withSecrets;
      const answer = await api.restore({ path: backup.path, components: selected, ...(decryption && { decryption }), ...(secrets && { secrets }) });
      // A restore that ran reports through the status; one refused before it began only here.
      if (!answer.ok && latestRestoreId.current === before) setProblem(answer.error);
    } catch (error) {
      setProblem(errorText(error));
    }
    setStarting(false);
  };
  const latestRestoreId = useRef(status?.lastRestore?.entry.id);
  latestRestoreId.current = status?.lastRestore?.entry.id;

  const reset = () => {
    setInspection(null);
    setProblem(null);
    setPathText('');
  };

  const job = status?.job?.kind === 'restore' ? status.job : null;
  if (job) {
    const cancel = () => void api.cancel().catch((error: unknown) => setProblem(errorText(error)));
    return (
      <div className="stack">
        <RestoreProgress job={job} progress={running} now={now} onCancel={cancel} />
        {problem ? <Notice tone="error">{problem}</Notice> : null}
        {status?.configQuestion ? (
          <ConfigQuestionDialog
            question={status.configQuestion}
            onAnswer={(choice) => void api.answerConfigQuestion({ choice }).catch((error: unknown) => setProblem(errorText(error)))}
            onCancel={cancel}
          />
        ) : null}
      </div>
    );
  }

  if (starting) return <p className="muted" role="status">Starting the restore…</p>;

  const outcome = status?.lastRestore && status.lastRestore.entry.result !== 'running' && status.lastRestore.entry.id !== dismissed ? status.lastRestore : null;
  if (outcome) return <RestoreOutcomeView outcome={outcome} now={now} onDone={dismiss} />;

  const found = inspection?.ok ? inspection : null;
  const present = found ? found.components.filter((c) => c.present).map((c) => c.component) : [];
  const risks = partialRestoreRisks(selected, present);
  const canRemember = found?.encryption ? (found.encryption.mode === 'passphrase' ? remembered?.passphraseRemembered === true : remembered?.keptIdentities != null) : false;
  const chosenKeys = found?.encryption ? withDefaultUse(keys, found.encryption.mode, canRemember) : keys;
  const keysMissing = found?.encryption ? decryptionFrom(chosenKeys) === null : false;

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
            <p className="muted">A folder named like backup_20250322_143022, with a manifest.json inside. Backups also has a Restore… button on each backup.</p>
            <button type="button" className="button" onClick={choose}>
              Choose folder…
            </button>
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
      {browsing ? (
        <FolderBrowser
          onClose={() => setBrowsing(false)}
          onChoose={(path) => {
            setBrowsing(false);
            void inspect(path);
          }}
        />
      ) : null}

      {problem ? <Notice tone="error">{problem}</Notice> : null}
      {inspection && !inspection.ok ? (
        <Notice tone="error" title="This folder cannot be restored">
          <p>{inspection.reason}</p>
          <p className="muted">Nothing was changed. Folder: {inspection.path}</p>
        </Notice>
      ) : null}

      {found ? (
        <section className="card" aria-labelledby="backup-title">
          <div className="card-head">
            <h2 id="backup-title" className="card-title">
              Backup from {formatDateTime(found.createdAt)}
            </h2>
            <button type="button" className="button small" onClick={reset}>
              Choose another
            </button>
          </div>
          <p className="lead">
            Made {formatAge(found.createdAt, now)}
            {found.hostname && found.hostname !== 'unknown' ? ` on ${found.hostname}` : ''}
            {found.pdsVersion && found.pdsVersion !== 'unknown' ? `, by PDS version ${found.pdsVersion}` : ''}.{' '}
            {found.counts ? `It holds ${countOf(found.counts.accounts, 'account')}, ${countOf(found.counts.actors, 'repository', 'repositories')} and ${countOf(found.counts.blobs, 'media file')}; ` : 'It holds '}
            {formatBytes(found.size)} stored{found.compression ? ` with ${found.compression}` : ''}.
          </p>
          {found.legacy ? <Notice tone="warning">Made by the original backup.sh: it has no checksums, so damage inside a file can only be found by unpacking it.</Notice> : null}
          <p className="muted small-path">{found.path}</p>

          <fieldset className="components">
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
            {found.encryption?.secrets ? (
              <label className="component">
                <input type="checkbox" name="component" value="secrets" checked={withSecrets} onChange={() => setWithSecrets(!withSecrets)} />
                <span className="component-text">
                  <span className="component-name">Configuration and secrets</span>
                  <span className="muted">pds.env: JWT secret, PLC rotation key, admin password. Written with mode 0600; asked first if the one here belongs to another PDS.</span>
                </span>
                <span className="component-size">encrypted</span>
              </label>
            ) : null}
          </fieldset>
          {risks.length ? <RisksNotice risks={risks} /> : null}
          {found.encryption ? (
            <DecryptionFields
              mode={found.encryption.mode}
              canRemember={canRemember}
              keys={chosenKeys}
              onChange={setKeys}
              onPickFile={
                native
                  ? async () => {
                      const file = await api.pickFolder({ purpose: 'identityFile' }).catch(() => null);
                      if (file) setKeys((k) => ({ ...k, use: 'file', identityPath: file }));
                    }
                  : null
              }
            />
          ) : null}

          <div className="button-row">
            <button type="button" className="button primary" disabled={selected.length === 0 || keysMissing} onClick={() => setConfirming(true)}>
              {selected.length === present.length ? 'Restore everything…' : `Restore ${selected.length} of ${found.components.length} parts…`}
            </button>
          </div>
          {confirming ? <ConfirmRestore found={found} selected={selected} risks={risks} settings={settings} onConfirm={() => void restore(found)} onCancel={() => setConfirming(false)} /> : null}
        </section>
      ) : null}
    </div>
  );
}

/** The restore waits: the configuration here names another hostname or service DID than the backup's. */
function ConfigQuestionDialog({ question, onAnswer, onCancel }: { question: ConfigQuestion; onAnswer: (choice: 'overwrite' | 'keep') => void; onCancel: () => void }) {
  const keepButton = useRef<HTMLButtonElement>(null);
  return (
    <Modal role="alertdialog" labelledBy="config-title" describedBy="config-text" onClose={onCancel} initialFocus={keepButton} className="confirm">
      <h2 id="config-title" className="card-title">
        Replace the configuration of another PDS?
      </h2>
      <div id="config-text">
        <p>
          <code>{question.target}</code> belongs to another PDS than the backup&apos;s configuration. Nothing has been changed yet.
        </p>
        <table className="config-differences">
          <thead>
            <tr>
              <th scope="col">Setting</th>
              <th scope="col">Here now</th>
              <th scope="col">In the backup</th>
            </tr>
          </thead>
          <tbody>
            {question.differences.map((d) => (
              <tr key={d.name}>
                <th scope="row">
                  <code>{d.name}</code>
                </th>
                <td className="mono">{d.now}</td>
                <td className="mono">{d.backup}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p>Keep it when this server is meant to run under its own name (the guide&apos;s &quot;update configuration&quot; step); replace it to bring the old server back as it was. A replaced file is kept beside it as <code>.before-restore</code>.</p>
      </div>
      <div className="button-row">
        <button type="button" className="button" onClick={onCancel}>
          Cancel the restore
        </button>
        <button type="button" className="button" ref={keepButton} onClick={() => onAnswer('keep')}>
          Keep this one, restore the data only
        </button>
        <button type="button" className="button danger" onClick={() => onAnswer('overwrite')}>
          Replace with the backup&apos;s
        </button>
      </div>
    </Modal>
  );
}

function RisksNotice({ risks }: { risks: string[] }) {
  return (
    <Notice tone="warning" title="A partial restore leaves the PDS inconsistent">
      <ul className="plain-list">
        {risks.map((risk) => (
          <li key={risk}>{risk}</li>
        ))}
      </ul>
    </Notice>
  );
}

function ConfirmRestore(props: { found: Found; selected: Component[]; risks: string[]; settings: Settings | null; onConfirm: () => void; onCancel: () => void }) {
  const { found, selected, risks, settings, onConfirm, onCancel } = props;
  const cancelButton = useRef<HTMLButtonElement>(null);
  return (
    <Modal role="alertdialog" labelledBy="confirm-title" describedBy="confirm-text" onClose={onCancel} initialFocus={cancelButton} className="confirm">
      <h2 id="confirm-title" className="card-title">
        Replace this data{settings ? ` in ${settings.dataDir}` : ''}?
      </h2>
      <div id="confirm-text">
        <p>These parts of the PDS will be replaced with the copy from {formatDateTime(found.createdAt)}:</p>
        <ul>
          {selected.map((c) => (
            <li key={c}>
              <strong>{COMPONENT_INFO[c].label}</strong>: {COMPONENT_INFO[c].description}
            </li>
          ))}
        </ul>
        {risks.length ? <RisksNotice risks={risks} /> : null}
        <p>
          First, the current data is saved as a <strong>pre-restore backup</strong>
          {settings ? ` in ${settings.backupDir}` : ''}, so you can go back if this was a mistake.
        </p>
        {settings?.pds.stopCommand ? (
          <p>
            The backup is unpacked and checked while the PDS still runs; only then is it stopped with <code>{settings.pds.stopCommand}</code>, and started again
            afterwards.
          </p>
        ) : (
          <p>No PDS stop command is set in Settings: make sure the PDS is stopped before you continue.</p>
        )}
      </div>
      <div className="button-row">
        <button type="button" className="button" ref={cancelButton} onClick={onCancel}>
          Cancel
        </button>
        <button type="button" className="button danger" onClick={onConfirm}>
          Replace and restore
        </button>
      </div>
    </Modal>
  );
}

function RestoreOutcomeView({ outcome, now, onDone }: { outcome: RestoreOutcome; now: Date; onDone: () => void }) {
  const { entry, result } = outcome;
  const when = entry.endedAt ? ` ${formatAge(entry.endedAt, now)}` : '';
  return (
    <div className="stack" data-testid="restore-outcome">
      {entry.result === 'success' && result ? (
        <Notice tone="success" title={`Restore complete${when}`}>
          <p>
            Restored {result.restored.map((c) => COMPONENT_INFO[c].label).join(', ')} from {entry.backupName} into {result.dataDir}.
          </p>
          <p>
            {result.preRestoreBackup
              ? `The data it replaced is kept in ${result.preRestoreBackup}${result.preRestoreEncryption ? ', encrypted as your backups are' : result.preRestoreEncryption === null ? ', not encrypted (encryption is off)' : ''}.`
              : 'There was no earlier data to keep.'}
          </p>
          {result.configRestored ? <p>The PDS configuration and secrets were restored to {result.configRestored} (readable by its owner only).</p> : null}
          {result.configRestored === null ? <p>The PDS configuration there was kept as it was.</p> : null}
          {result.newerBlobsKept > 0 ? <p>{result.newerBlobsKept === 1 ? 'One media file' : `${result.newerBlobsKept} media files`} uploaded since the backup {result.newerBlobsKept === 1 ? 'was' : 'were'} kept.</p> : null}
          {result.keptRaw.length ? (
            <>
              <p>These damaged databases could not be read, so the pre-restore backup keeps them exactly as they were:</p>
              <ul className="plain-list" aria-label="Kept as they were">
                {result.keptRaw.map((k) => (
                  <li key={k.path}>
                    <code>{k.path}</code> ({k.files.join(', ')}): {k.reason}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </Notice>
      ) : null}
      {result?.warnings.length ? (
        <Notice tone="warning" title="Worth checking">
          <ul className="plain-list">
            {result.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </Notice>
      ) : null}
      {entry.result === 'cancelled' ? <Notice tone="info" title={`Restore cancelled${when}`}>{outcome.error}</Notice> : null}
      {entry.result === 'failed' ? <Notice tone="error" title="The restore did not complete">{outcome.error}</Notice> : null}
      <div className="button-row">
        <button type="button" className="button" onClick={onDone}>
          Restore something else
        </button>
      </div>
    </div>
  );
}
