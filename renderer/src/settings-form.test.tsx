import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, validateSettings } from '../../shared/settings.js';
import { formFromSettings, settingsFromForm, unplacedErrors } from './settings-form.js';

describe('settings form', () => {
  it('round-trips the settings through form values keyed by field path', () => {
    const values = formFromSettings(DEFAULT_SETTINGS);
    expect(values['schedule.intervalHours']).toBe('24');
    expect(values['notifications.onFailure']).toBe(true);
    expect(values['pds.healthUrl']).toBe('');
    const { input, errors } = settingsFromForm(values);
    expect(errors).toEqual({});
    const { encryption: _changedElsewhere, ...formSettings } = DEFAULT_SETTINGS;
    expect(input).toEqual(formSettings);
  });

  it('leaves encryption out: saving the form sends none, so it cannot undo what Settings → Encryption set', () => {
    const recipient = 'age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq';
    const values = formFromSettings({ ...DEFAULT_SETTINGS, encryption: { recipients: [recipient], passphrase: false } });
    expect(Object.keys(values).filter((k) => k.startsWith('encryption'))).toEqual([]);
    expect(settingsFromForm(values).input).not.toHaveProperty('encryption');
  });

  it('uses the same paths as the FieldErrors of the settings schema, so each message lands next to its field', () => {
    const values = { ...formFromSettings(DEFAULT_SETTINGS), 'schedule.intervalHours': '0', 'pds.healthUrl': 'localhost' };
    const result = validateSettings(settingsFromForm(values).input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(Object.keys(result.errors).sort()).toEqual(['pds.healthUrl', 'schedule.intervalHours']);
    expect(result.errors['schedule.intervalHours']).toBe('At least 1 hour');
    expect(unplacedErrors(result.errors, values)).toEqual([]);
  });

  it('refuses text in a number field before sending anything', () => {
    const values = { ...formFromSettings(DEFAULT_SETTINGS), retainDays: 'thirty', keepLast: ' ' };
    expect(settingsFromForm(values).errors).toEqual({ retainDays: '“thirty” is not a whole number', keepLast: 'Enter a number' });
  });

  it('keeps errors that match no field, so none is lost', () => {
    expect(unplacedErrors({ '(settings)': 'Settings must be an object', retainDays: 'x' }, { retainDays: '1' })).toEqual(['Settings must be an object']);
  });
});
