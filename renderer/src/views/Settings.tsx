import { createContext, useContext, useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { WRITABLE_COMPRESSIONS } from '../../../shared/components.js';
import { unsupportedSettings, type FieldErrors, type Settings } from '../../../shared/settings.js';
import { useApi, useConnection } from '../api/client.js';
import { EncryptionSettings } from '../components/EncryptionSettings.js';
import { FolderBrowser } from '../components/FolderBrowser.js';
import { Notice } from '../components/Notice.js';
import { errorText } from '../errors.js';
import { formFromSettings, settingsFromForm, unplacedErrors, type FormValues } from '../settings-form.js';
import { TargetsSection } from './Offsite.js';

interface Form {
  values: FormValues;
  errors: FieldErrors;
  set(path: string, value: string | boolean): void;
}
const FormContext = createContext<Form | null>(null);
const useForm = () => useContext(FormContext)!;
const fieldId = (path: string) => `field-${path.replaceAll('.', '-')}`;

const COMPRESSION_TEXT: Record<(typeof WRITABLE_COMPRESSIONS)[number], string> = {
  gzip: 'gzip — works everywhere (default)',
  zstd: 'zstd — smaller, needs zstd to open by hand',
  none: 'none — fastest, largest',
};
const isWritable = (c: string): c is (typeof WRITABLE_COMPRESSIONS)[number] => (WRITABLE_COMPRESSIONS as readonly string[]).includes(c);

export function SettingsView() {
  const api = useApi();
  const { native } = useConnection();
  const [saved, setSaved] = useState<Settings | null>(null);
  const [values, setValues] = useState<FormValues>({});
  const [errors, setErrors] = useState<FieldErrors>({});
  const [notice, setNotice] = useState<{ tone: 'success' | 'error' | 'info'; text: string } | null>(null);
  const [saving, setSaving] = useState(false);
  const [browsing, setBrowsing] = useState<string | null>(null);

  useEffect(() => {
    api.getSettings().then(
      (settings) => {
        setSaved(settings);
        setValues(formFromSettings(settings));
        // A value saved earlier (or imported) that backups cannot use is marked at once, not at the next backup.
        setErrors(unsupportedSettings(settings));
      },
      (error: unknown) => setNotice({ tone: 'error', text: errorText(error) }),
    );
  }, [api]);

  const set = (path: string, value: string | boolean) => {
    setValues((all) => ({ ...all, [path]: value }));
    setErrors(({ [path]: _fixed, ...rest }) => rest);
    setNotice(null);
  };

  const showErrors = (found: FieldErrors) => {
    setErrors(found);
    const count = Object.keys(found).length;
    setNotice({ tone: 'error', text: `${count === 1 ? 'One setting needs' : `${count} settings need`} attention — nothing was saved. See the marked ${count === 1 ? 'field' : 'fields'}.` });
    const first = Object.keys(found).find((path) => path in values);
    if (first) document.getElementById(fieldId(first))?.focus();
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    const { input, errors: typing } = settingsFromForm(values);
    if (Object.keys(typing).length) return showErrors(typing);
    setSaving(true);
    try {
      const answer = await api.setSettings(input);
      if (answer.ok) {
        setSaved(answer.settings);
        setValues(formFromSettings(answer.settings));
        setErrors({});
        setNotice({ tone: 'success', text: 'Settings saved.' });
      } else showErrors(answer.errors);
    } catch (error) {
      setNotice({ tone: 'error', text: errorText(error) });
    }
    setSaving(false);
  };

  const importEnv = async () => {
    const path = String(values.envFile ?? '').trim();
    if (!path) return setErrors((all) => ({ ...all, envFile: 'Enter the path of the PDS .env file first' }));
    try {
      const answer = await api.importEnv({ path });
      if (!answer.ok) return setErrors((all) => ({ ...all, envFile: answer.error }));
      setValues({ ...formFromSettings(answer.settings), envFile: path });
      setErrors(unsupportedSettings(answer.settings));
      setNotice({
        tone: 'info',
        text: answer.imported.length
          ? `Read ${answer.imported.join(', ')} from ${path}. Check the values below, then Save.`
          : `${path} has no backup settings to import.`,
      });
    } catch (error) {
      setErrors((all) => ({ ...all, envFile: errorText(error) }));
    }
  };

  const undo = () => {
    if (saved) setValues(formFromSettings(saved));
    setErrors({});
    setNotice(null);
  };

  if (!saved) return notice ? <Notice tone="error">{notice.text}</Notice> : <p className="muted">Loading settings…</p>;
  const changed = JSON.stringify(values) !== JSON.stringify(formFromSettings(saved));
  const stray = unplacedErrors(errors, values);
  const picker = (path: string, purpose: 'dataDir' | 'backupDir' | 'envFile') =>
    // In the browser, folders are chosen through the API (a .env file is typed: the chooser lists folders only).
    !native && purpose !== 'envFile' ? (
      <button type="button" className="button" onClick={() => setBrowsing(path)} aria-label={`Choose a folder for ${path}`}>
        Choose…
      </button>
    ) : native ? (
      <button
        type="button"
        className="button"
        onClick={async () => {
          const chosen = await api.pickFolder({ purpose }).catch(() => null);
          if (chosen) set(path, chosen);
        }}
        aria-label={`Choose ${purpose === 'envFile' ? 'the .env file' : 'a folder'} for ${path}`}
      >
        Choose…
      </button>
    ) : null;

  return (
    <FormContext.Provider value={{ values, errors, set }}>
      {browsing ? (
        <FolderBrowser
          folder
          title={browsing === 'dataDir' ? 'Choose the PDS data directory' : 'Choose the backup folder'}
          start={String(values[browsing] ?? '') || undefined}
          onClose={() => setBrowsing(null)}
          onChoose={(chosen) => {
            set(browsing, chosen);
            setBrowsing(null);
          }}
        />
      ) : null}
      <EncryptionSettings />
      <form className="settings" onSubmit={save} noValidate>
        {stray.length ? (
          <Notice tone="error">
            <ul className="plain-list">
              {stray.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          </Notice>
        ) : null}

        <Section title="Folders">
          <TextField path="dataDir" label="PDS data directory" hint="Holds account.sqlite, actors/ and blobs/ (PDS_DATA_DIRECTORY)." after={picker('dataDir', 'dataDir')} mono />
          <TextField path="backupDir" label="Backup folder" hint="Each backup is a backup_YYYYMMDD_HHMMSS folder in here (BACKUP_DIR). Best on another disk." after={picker('backupDir', 'backupDir')} mono />
          <TextField
            path="envFile"
            label="PDS .env file"
            hint="Optional. Its PDS_* paths are used for backups; Import copies its BACKUP_* settings into this form."
            mono
            after={
              <>
                {picker('envFile', 'envFile')}
                <button type="button" className="button" onClick={importEnv}>
                  Import
                </button>
              </>
            }
          />
        </Section>

        <Section title="Schedule">
          <CheckField path="schedule.enabled" label="Back up automatically" />
          <fieldset className="radio-group">
            <legend>How often</legend>
            <label className="check">
              <input type="radio" name="schedule-mode" checked={values['schedule.mode'] === 'interval'} onChange={() => set('schedule.mode', 'interval')} />
              Every few hours
            </label>
            <label className="check">
              <input type="radio" name="schedule-mode" checked={values['schedule.mode'] === 'daily'} onChange={() => set('schedule.mode', 'daily')} />
              Once a day
            </label>
          </fieldset>
          {values['schedule.mode'] === 'interval' ? (
            <TextField path="schedule.intervalHours" label="Every" unit="hours" numeric hint="A run missed while the computer slept is made up soon after it wakes. (BACKUP_INTERVAL_HOURS)" />
          ) : (
            <TextField path="schedule.dailyAt" label="At" type="time" hint="Local time. A missed run is made up soon after the computer wakes." />
          )}
        </Section>

        <Section title="Keeping backups">
          <TextField path="retainDays" label="Delete backups older than" unit="days" numeric hint="Checked after each successful backup. (BACKUP_RETAIN_DAYS)" />
          <TextField path="keepLast" label="But always keep the newest" unit="backups" numeric hint="However old they are, so an outage never leaves you with none." />
          <TextField
            path="fullEveryDays"
            label="Full backup at least every"
            unit="days"
            numeric
            hint="Between full backups, each backup stores only what changed and is restored with the backups before it. (BACKUP_FULL_EVERY_DAYS)"
          />
          <div className={`field${errors.compression ? ' invalid' : ''}`}>
            <label htmlFor={fieldId('compression')}>Compression</label>
            <select
              id={fieldId('compression')}
              value={String(values.compression)}
              onChange={(e) => set('compression', e.target.value)}
              aria-invalid={errors.compression ? true : undefined}
              aria-describedby={errors.compression ? `${fieldId('compression')}-error` : undefined}
            >
              {isWritable(String(values.compression)) ? null : <option value={String(values.compression)}>{String(values.compression)} — cannot be used</option>}
              {WRITABLE_COMPRESSIONS.map((c) => (
                <option key={c} value={c}>
                  {COMPRESSION_TEXT[c]}
                </option>
              ))}
            </select>
            <FieldError path="compression" />
          </div>
        </Section>

        <Section title="Notifications">
          <CheckField path="notifications.onFailure" label="When a backup fails" />
          <CheckField path="notifications.onStale" label="When backups are out of date" />
          <TextField path="notifications.staleHours" label="Out of date after" unit="hours" numeric disabled={values['notifications.onStale'] !== true} />
          <CheckField path="notifications.onLowSpace" label="When the backup volume is nearly full" />
          <TextField path="notifications.lowSpaceMB" label="Nearly full below" unit="MB free" numeric disabled={values['notifications.onLowSpace'] !== true} />
          <CheckField path="notifications.onSuccess" label="When a backup succeeds" />
        </Section>

        <Section title="PDS" description="Used by restore: the PDS must not write while its data is replaced.">
          <TextField path="pds.stopCommand" label="Stop command" placeholder="systemctl stop aurora-locus" mono />
          <TextField path="pds.startCommand" label="Start command" placeholder="systemctl start aurora-locus" mono />
          <TextField path="pds.healthUrl" label="Health check URL" placeholder="http://localhost:2583/xrpc/_health" hint="Checked after a restore to see the PDS came back." mono />
          <TextField path="pds.version" label="PDS version" hint="Optional (PDS_VERSION). Written into each manifest; restore warns when a backup came from another version." />
        </Section>

        <Section title="System">
          <CheckField path="launchAtLogin" label="Start Aurora Locus Backup when I log in" hint="It waits in the tray and runs the schedule." />
        </Section>

        <div className="save-bar">
          {notice ? <Notice tone={notice.tone}>{notice.text}</Notice> : <span className="muted">{changed ? 'You have unsaved changes.' : 'All changes saved.'}</span>}
          <div className="button-row">
            <button type="button" className="button" disabled={!changed || saving} onClick={undo}>
              Undo changes
            </button>
            <button type="submit" className="button primary" disabled={saving}>
              {saving ? 'Saving…' : 'Save'}
            </button>
          </div>
        </div>
      </form>
      <TargetsSection />
    </FormContext.Provider>
  );
}

function Section({ title, description, children }: { title: string; description?: string; children: ReactNode }) {
  return (
    <section className="card settings-section" aria-label={title}>
      <div className="settings-section-head">
        <h2 className="card-title">{title}</h2>
        {description ? <p className="muted">{description}</p> : null}
      </div>
      <div className="settings-fields">{children}</div>
    </section>
  );
}

function FieldError({ path }: { path: string }) {
  const { errors } = useForm();
  return errors[path] ? (
    <p className="field-error" id={`${fieldId(path)}-error`}>
      {errors[path]}
    </p>
  ) : null;
}

function TextField(props: {
  path: string;
  label: string;
  hint?: string;
  unit?: string;
  type?: 'text' | 'time';
  numeric?: boolean;
  placeholder?: string;
  disabled?: boolean;
  mono?: boolean;
  after?: ReactNode;
}) {
  const { values, errors, set } = useForm();
  const id = fieldId(props.path);
  const error = errors[props.path];
  const described = [error ? `${id}-error` : '', props.hint ? `${id}-hint` : '', props.unit ? `${id}-unit` : ''].filter(Boolean).join(' ');
  return (
    <div className={`field${error ? ' invalid' : ''}`}>
      <label htmlFor={id}>{props.label}</label>
      <div className="input-row">
        <input
          id={id}
          type={props.type ?? 'text'}
          inputMode={props.numeric ? 'numeric' : undefined}
          className={`${props.numeric ? 'short' : ''}${props.mono ? ' mono' : ''}`}
          value={String(values[props.path] ?? '')}
          placeholder={props.placeholder}
          disabled={props.disabled}
          spellCheck={false}
          aria-invalid={error ? true : undefined}
          aria-describedby={described || undefined}
          onChange={(e) => set(props.path, e.target.value)}
        />
        {props.unit ? (
          <span className="unit" id={`${id}-unit`}>
            {props.unit}
          </span>
        ) : null}
        {props.after}
      </div>
      <FieldError path={props.path} />
      {props.hint ? (
        <p className="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

function CheckField({ path, label, hint }: { path: string; label: string; hint?: string }) {
  const { values, set } = useForm();
  const id = fieldId(path);
  return (
    <div className="field">
      <label className="check" htmlFor={id}>
        <input id={id} type="checkbox" checked={values[path] === true} onChange={(e) => set(path, e.target.checked)} aria-describedby={hint ? `${id}-hint` : undefined} />
        {label}
      </label>
      <FieldError path={path} />
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
    </div>
  );
}
