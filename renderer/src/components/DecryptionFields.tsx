import { useId } from 'react';
import type { DecryptionInput } from '../../../shared/api.js';

/** What the user gave to decrypt an encrypted backup. */
export interface KeysForm {
  use: 'file' | 'passphrase' | 'remembered' | null;
  identityPath: string;
  passphrase: string;
}
export const NO_KEYS: KeysForm = { use: null, identityPath: '', passphrase: '' };

/** Until the user picks, what the app remembers is used when it can be, else the backup's own kind of key. */
export function withDefaultUse(keys: KeysForm, mode: 'recipients' | 'passphrase', canRemember: boolean): KeysForm {
  return keys.use ? keys : { ...keys, use: canRemember ? 'remembered' : mode === 'recipients' ? 'file' : 'passphrase' };
}

export function decryptionFrom(keys: KeysForm): DecryptionInput | null {
  if (keys.use === 'remembered') return { remembered: true };
  if (keys.use === 'file' && keys.identityPath.trim()) return { identityPath: keys.identityPath.trim() };
  if (keys.use === 'passphrase' && keys.passphrase) return { passphrase: keys.passphrase };
  return null;
}

/** An encrypted backup's key: its identity file or its passphrase, or what the app remembers. */
export function DecryptionFields(props: {
  mode: 'recipients' | 'passphrase';
  canRemember: boolean;
  keys: KeysForm;
  onChange: (k: KeysForm) => void;
  onPickFile: (() => Promise<void>) | null;
  /** What the key is for, in the hint: `Restoring it` (the default), `A deep verification`. */
  task?: string;
}) {
  const { mode, canRemember, keys, onChange, onPickFile, task = 'Restoring it' } = props;
  const id = useId();
  const byFile = mode === 'recipients';
  const own: KeysForm['use'] = byFile ? 'file' : 'passphrase';
  const use = keys.use;
  const set = (change: Partial<KeysForm>) => onChange({ ...keys, ...change });
  return (
    <fieldset className="decryption">
      <legend>This backup is encrypted {byFile ? 'to a public key' : 'with a passphrase'}</legend>
      <p className="hint">{byFile ? `${task} needs the identity file (AGE-SECRET-KEY-1…) of its key pair.` : `${task} needs its passphrase.`} A wrong key changes nothing.</p>
      {canRemember ? (
        <>
          <label className="check">
            <input type="radio" name={`${id}-use`} checked={use === 'remembered'} onChange={() => set({ use: 'remembered' })} />
            {byFile ? 'Use the identity the app keeps' : "Use the passphrase in this computer's keychain"}
          </label>
          <label className="check">
            <input type="radio" name={`${id}-use`} checked={use === own} onChange={() => set({ use: own })} />
            {byFile ? 'Use an identity file' : 'Type the passphrase'}
          </label>
        </>
      ) : null}
      {use === 'file' ? (
        <div className="field">
          <label htmlFor={`${id}-identity`}>Identity file</label>
          <div className="input-row">
            <input id={`${id}-identity`} type="text" className="mono" value={keys.identityPath} onChange={(e) => set({ identityPath: e.target.value })} placeholder="/home/me/aurora-backup-identity.txt" spellCheck={false} />
            {onPickFile ? (
              <button type="button" className="button" onClick={() => void onPickFile()}>
                Choose file…
              </button>
            ) : null}
          </div>
        </div>
      ) : null}
      {use === 'passphrase' ? (
        <div className="field">
          <label htmlFor={`${id}-passphrase`}>Passphrase</label>
          <input id={`${id}-passphrase`} type="password" autoComplete="current-password" value={keys.passphrase} onChange={(e) => set({ passphrase: e.target.value })} />
        </div>
      ) : null}
    </fieldset>
  );
}
