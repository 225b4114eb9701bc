import { useEffect, useId, useState, type FormEvent } from 'react';
import type { EncryptionState } from '../../../shared/api.js';
import { useApi, useConnection } from '../api/client.js';
import { errorText } from '../errors.js';
import { secretsNotice } from '../status-text.js';
import { Notice } from './Notice.js';

type Choice = 'generate' | 'paste' | 'passphrase';

const CHOICES: Array<{ id: Choice; label: string }> = [
  { id: 'generate', label: 'Generate a key pair (recommended)' },
  { id: 'paste', label: 'Use existing age public keys' },
  { id: 'passphrase', label: 'Use a passphrase' },
];

/**
 * Settings → Encryption: its own requests, each saved at once (a key pair, pasted public keys, a
 * passphrase for the keychain), never through the settings form. Shows public keys only.
 */
export function EncryptionSettings() {
  const api = useApi();
  const { native } = useConnection();
  const id = useId();
  const [state, setState] = useState<EncryptionState | null>(null);
  const [choice, setChoice] = useState<Choice | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [identityPath, setIdentityPath] = useState('');
  const [keepCopy, setKeepCopy] = useState(false);
  const [pasted, setPasted] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [again, setAgain] = useState('');

  useEffect(() => {
    api.getEncryption().then(setState, (e: unknown) => setError(errorText(e)));
  }, [api]);

  const pick = (next: Choice | null) => {
    setChoice(next);
    setError(null);
    setSaved(null);
  };

  const run = async (work: () => Promise<{ ok: true; state: EncryptionState; message: string } | { ok: false; error: string } | null>) => {
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      const answer = await work();
      if (answer?.ok) {
        setState(answer.state);
        setSaved(answer.message);
        setChoice(null);
        setPassphrase('');
        setAgain('');
        setPasted('');
        setIdentityPath('');
      } else if (answer) setError(answer.error);
    } catch (e) {
      setError(errorText(e));
    }
    setBusy(false);
  };

  const generate = (event: FormEvent) => {
    event.preventDefault();
    if (!native && !identityPath.trim()) return setError('Enter the full path of the file to save the identity in.');
    void run(async () => {
      const answer = await api.generateEncryptionKey({ keepCopy, ...(native ? {} : { identityPath: identityPath.trim() }) });
      if (!answer.ok) return answer.cancelled ? null : answer;
      return {
        ok: true,
        state: answer.state,
        message: `Identity saved to ${answer.identityPath}. Keep it safe, away from this server: without it these backups cannot be read.${keepCopy ? ' A copy is also kept in the app folder.' : ''}`,
      };
    });
  };

  const usePasted = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      const answer = await api.setEncryption({ mode: 'recipients', recipients: pasted.split(/\r?\n/) });
      return answer.ok ? { ...answer, message: 'Backups will be encrypted to these public keys.' } : answer;
    });
  };

  const usePassphrase = (event: FormEvent) => {
    event.preventDefault();
    if (passphrase !== again) return setError('The two passphrases differ: type the same passphrase twice.');
    void run(async () => {
      const answer = await api.setEncryption({ mode: 'passphrase', passphrase });
      return answer.ok ? { ...answer, message: "Backups will be encrypted with this passphrase. It is kept in this computer's keychain; keep a copy of it elsewhere too." } : answer;
    });
  };

  const turnOff = () =>
    void run(async () => {
      const answer = await api.setEncryption({ mode: 'off' });
      return answer.ok ? { ...answer, message: 'Encryption is off for the next backups. Backups already made stay encrypted.' } : answer;
    });

  const copy = async (key: string, input: HTMLInputElement | null) => {
    try {
      await navigator.clipboard.writeText(key);
      setSaved('Public key copied.');
    } catch {
      input?.select();
      setSaved('Select the key and copy it (Ctrl+C).');
    }
  };

  const off = state ? secretsNotice({ recipients: state.recipients, passphrase: state.mode === 'passphrase' }) : null;

  return (
    <section className="card settings-section encryption-settings" aria-label="Encryption">
      <div className="settings-section-head">
        <h2 className="card-title">Encryption</h2>
        <p className="muted">
          age format: any backup can be decrypted without this app, with <code>age -d -i key.txt</code>.
        </p>
      </div>
      <div className="settings-fields">
        {!state ? <p className="muted">{error ?? 'Loading…'}</p> : null}
        {off ? (
          <Notice tone="warning" title={off.title}>
            <p>{off.detail}</p>
          </Notice>
        ) : null}
        {state?.mode === 'recipients' ? (
          <div className="field">
            <p className="field-label">Backups are encrypted to {state.recipients.length === 1 ? 'this public key' : 'these public keys'}</p>
            {state.recipients.map((key, i) => (
              <div className="input-row" key={key}>
                <input id={`${id}-key-${i}`} type="text" className="mono" readOnly value={key} aria-label={`Public key ${i + 1}`} spellCheck={false} />
                <button type="button" className="button" onClick={() => void copy(key, document.getElementById(`${id}-key-${i}`) as HTMLInputElement | null)}>
                  Copy
                </button>
              </div>
            ))}
            <p className="hint">Public keys can be shared: they only encrypt. Restores need the identity file (AGE-SECRET-KEY-1…) that belongs to one of them.</p>
          </div>
        ) : null}
        {state?.mode === 'passphrase' ? (
          state.passphraseRemembered ? (
            <p>Backups are encrypted with a passphrase, kept in this computer&apos;s keychain (never in the settings file).</p>
          ) : (
            <Notice tone="error" title="The passphrase is not in this computer's keychain">
              <p>Backups are set to use a passphrase, but the keychain does not hold it: backups fail until you enter it again below.</p>
            </Notice>
          )
        ) : null}
        {state?.keptIdentities ? (
          <p className="hint">
            The app keeps a copy of its identities in <code>{state.keptIdentities}</code>, readable only by your user account; restores can use it.
          </p>
        ) : null}
        {saved ? <Notice tone="success">{saved}</Notice> : null}

        {state ? (
          <fieldset className="radio-group">
            <legend>{state.mode === 'off' ? 'Turn on encryption' : 'Change how backups are encrypted'}</legend>
            {CHOICES.map((c) => (
              <label className="check" key={c.id}>
                <input type="radio" name={`${id}-choice`} checked={choice === c.id} onChange={() => pick(c.id)} />
                {c.label}
              </label>
            ))}
          </fieldset>
        ) : null}

        {choice === 'generate' ? (
          <form className="field" onSubmit={generate} aria-label="Generate a key pair">
            <Notice tone="warning" title="Without the identity file the backups cannot be read">
              <p>
                The app makes a key pair: backups are encrypted to its public key, and only its identity file can decrypt them. Save that file somewhere other than this
                server (a password manager, a USB stick). If it is lost, nobody can read these backups, you included.
              </p>
            </Notice>
            {!native ? (
              <div className="field">
                <label htmlFor={`${id}-identity-path`}>Save the identity file to</label>
                <input
                  id={`${id}-identity-path`}
                  type="text"
                  className="mono"
                  value={identityPath}
                  onChange={(e) => setIdentityPath(e.target.value)}
                  placeholder="/home/me/aurora-backup-identity.txt"
                  spellCheck={false}
                  aria-describedby={`${id}-identity-path-hint`}
                />
                <p className="hint" id={`${id}-identity-path-hint`}>
                  A full path on the machine running the app; an existing file is never overwritten.
                </p>
              </div>
            ) : null}
            <label className="check">
              <input type="checkbox" checked={keepCopy} onChange={(e) => setKeepCopy(e.target.checked)} aria-describedby={`${id}-keep-hint`} />
              Also keep a copy in the app folder
            </label>
            <p className="hint" id={`${id}-keep-hint`}>
              Off by default: the identity is then only in the file you save. With a copy (readable only by your user account), restores here need no file, but anyone who can read
              the app folder can read your backups.
            </p>
            <div className="button-row">
              <button type="submit" className="button primary" disabled={busy}>
                {native ? 'Generate and save the identity…' : 'Generate key pair'}
              </button>
            </div>
          </form>
        ) : null}

        {choice === 'paste' ? (
          <form className="field" onSubmit={usePasted} aria-label="Use existing public keys">
            <label htmlFor={`${id}-pasted`}>Public keys (age1…, one a line)</label>
            <textarea id={`${id}-pasted`} className="mono" rows={3} value={pasted} onChange={(e) => setPasted(e.target.value)} spellCheck={false} aria-describedby={`${id}-pasted-hint`} />
            <p className="hint" id={`${id}-pasted-hint`}>
              From age-keygen (its &quot;public key&quot; line) or another machine. Keep the matching identity file safe: it is what restores need.
            </p>
            <div className="button-row">
              <button type="submit" className="button primary" disabled={busy || !pasted.trim()}>
                Encrypt to these keys
              </button>
            </div>
          </form>
        ) : null}

        {choice === 'passphrase' ? (
          <form className="field" onSubmit={usePassphrase} aria-label="Use a passphrase">
            <label htmlFor={`${id}-passphrase`}>Passphrase</label>
            <input id={`${id}-passphrase`} type="password" autoComplete="new-password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} aria-describedby={`${id}-passphrase-hint`} />
            <label htmlFor={`${id}-again`}>The same passphrase again</label>
            <input id={`${id}-again`} type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} />
            <p className="hint" id={`${id}-passphrase-hint`}>
              At least 10 characters. The app keeps it in this computer&apos;s keychain, never in its settings file, so scheduled backups can use it. Keep a copy elsewhere too:
              without it the backups cannot be read.
            </p>
            <div className="button-row">
              <button type="submit" className="button primary" disabled={busy || !passphrase}>
                Encrypt with this passphrase
              </button>
            </div>
          </form>
        ) : null}

        {error && state ? <Notice tone="error">{error}</Notice> : null}
        {state && state.mode !== 'off' ? (
          <div className="button-row">
            <button type="button" className="button" onClick={turnOff} disabled={busy}>
              Turn encryption off
            </button>
          </div>
        ) : null}
      </div>
    </section>
  );
}
