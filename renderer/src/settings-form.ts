import type { FieldErrors, Settings } from '../../shared/settings.js';

/** The settings form's state: one entry per field path ("schedule.intervalHours"), as the user typed it. */
export type FormValues = Record<string, string | boolean>;

/** Fields typed as text but stored as whole numbers. */
export const NUMBER_FIELDS = new Set([
  'retainDays',
  'keepLast',
  'fullEveryDays',
  'schedule.intervalHours',
  'notifications.staleHours',
  'notifications.lowSpaceMB',
]);

/**
 * Settings → form values, keyed by the same paths that setSettings uses in its FieldErrors. Encryption is
 * not part of the form: Settings → Encryption changes it through its own requests (the keychain with it).
 */
export function formFromSettings({ encryption: _own, ...settings }: Settings): FormValues {
  const values: FormValues = {};
  const walk = (object: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(object)) {
      const path = prefix + key;
      if (value && typeof value === 'object') walk(value as Record<string, unknown>, `${path}.`);
      else values[path] = typeof value === 'boolean' ? value : String(value);
    }
  };
  walk(settings as unknown as Record<string, unknown>, '');
  return values;
}

/**
 * Form values → the object sent to setSettings. A number field holding something that is not a whole
 * number is reported here, next to the field, before anything is sent.
 */
export function settingsFromForm(values: FormValues): { input: Record<string, unknown>; errors: FieldErrors } {
  const input: Record<string, unknown> = {};
  const errors: FieldErrors = {};
  for (const [path, raw] of Object.entries(values)) {
    let value: unknown = raw;
    if (NUMBER_FIELDS.has(path) && typeof raw === 'string') {
      const text = raw.trim();
      value = Number(text);
      if (!/^-?\d+$/.test(text)) errors[path] = text ? `“${text}” is not a whole number` : 'Enter a number';
    }
    const keys = path.split('.');
    let target = input;
    for (const key of keys.slice(0, -1)) target = (target[key] ??= {}) as Record<string, unknown>;
    target[keys[keys.length - 1]!] = value;
  }
  return { input, errors };
}

/** Errors whose path matches no field in the form (shown above the form so none is ever lost). */
export function unplacedErrors(errors: FieldErrors, values: FormValues): string[] {
  return Object.entries(errors)
    .filter(([path]) => !(path in values))
    .map(([path, message]) => (path === '(settings)' ? message : `${path}: ${message}`));
}
