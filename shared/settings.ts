import { z } from 'zod';
import { COMPRESSIONS, WRITABLE_COMPRESSIONS } from './components.js';
import { AGE_RECIPIENT_PATTERN } from './encryption.js';

/** "HH:MM", 24-hour clock, local time. */
const timeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'Use a 24-hour time like 02:00');
const optionalCommand = z.string().max(2000).default('');

/**
 * The app's settings. Defaults follow appendix A of the backup & recovery guide
 * (BACKUP_ENABLED=false, BACKUP_INTERVAL_HOURS=24, BACKUP_DIR=./backups, BACKUP_RETAIN_DAYS=30,
 * BACKUP_COMPRESSION=gzip); the daily time is the guide's systemd timer, 02:00.
 */
export const settingsSchema = z.object({
  dataDir: z.string().min(1, 'Choose the PDS data directory').default('./data'),
  backupDir: z.string().min(1, 'Choose where backups are kept').default('./backups'),
  envFile: z.string().default(''),
  compression: z.enum(COMPRESSIONS).default('gzip'),
  retainDays: z.number().int('Whole days').min(1, 'At least 1 day').max(3650).default(30),
  keepLast: z.number().int().min(1, 'Keep at least the newest backup').max(1000).default(3),
  /** Backups are incremental (only what changed); a full one at least this often (BACKUP_FULL_EVERY_DAYS). */
  fullEveryDays: z.number().int('Whole days').min(1, 'At least 1 day').max(3650).default(7),
  schedule: z
    .object({
      enabled: z.boolean().default(false),
      mode: z.enum(['interval', 'daily']).default('daily'),
      intervalHours: z.number().int('Whole hours').min(1, 'At least 1 hour').max(24 * 30).default(24),
      dailyAt: timeOfDay.default('02:00'),
    })
    .prefault({}),
  notifications: z
    .object({
      onFailure: z.boolean().default(true),
      onStale: z.boolean().default(true),
      staleHours: z.number().int().min(1, 'At least 1 hour').max(24 * 365).default(48),
      onLowSpace: z.boolean().default(true),
      lowSpaceMB: z.number().int().min(1).default(2048),
      onSuccess: z.boolean().default(false),
    })
    .prefault({}),
  pds: z
    .object({
      stopCommand: optionalCommand,
      startCommand: optionalCommand,
      healthUrl: z.union([z.literal(''), z.url({ protocol: /^https?$/, error: 'A URL like http://localhost:2583/xrpc/_health' })]).default(''),
      version: z.string().max(100).default(''),
    })
    .prefault({}),
  /**
   * Encrypted backups (age format). Recipients are public keys only: the machine being backed up never
   * needs the identity to write a backup. The passphrase itself is never in the settings file: `passphrase`
   * only says a backup is encrypted with one (kept in the OS keychain by the app, a file for the CLI).
   */
  encryption: z
    .object({
      recipients: z.array(z.string().trim().regex(AGE_RECIPIENT_PATTERN, 'An age public key: age1 followed by 58 letters and digits')).max(100).default([]),
      passphrase: z.boolean().default(false),
    })
    .refine((e) => !(e.passphrase && e.recipients.length > 0), { message: 'Encrypt either to public keys or with a passphrase, not both (age allows one or the other)', path: ['passphrase'] })
    .prefault({}),
  launchAtLogin: z.boolean().default(false),
});

export type Settings = z.infer<typeof settingsSchema>;
export type SettingsInput = z.input<typeof settingsSchema>;

export const DEFAULT_SETTINGS: Settings = settingsSchema.parse({});

/** Field path ("schedule.intervalHours") → what is wrong with it, for showing next to the field. */
export type FieldErrors = Record<string, string>;

export function validateSettings(input: unknown): { ok: true; settings: Settings } | { ok: false; errors: FieldErrors } {
  const parsed = settingsSchema.safeParse(input);
  if (parsed.success) return { ok: true, settings: parsed.data };
  const errors: FieldErrors = {};
  for (const issue of parsed.error.issues) errors[issue.path.join('.') || '(settings)'] ??= issue.message;
  return { ok: false, errors };
}

/**
 * Values the schema reads (a settings file or a PDS .env may hold them) but a backup cannot be made with.
 * The window shows them next to their field; saving them is refused.
 */
export function unsupportedSettings(settings: Pick<Settings, 'compression'>): FieldErrors {
  if ((WRITABLE_COMPRESSIONS as readonly string[]).includes(settings.compression)) return {};
  return {
    compression: `Backups cannot be written with ${settings.compression}: Node has no streaming ${settings.compression}, and it is many times slower than gzip on media. Choose ${WRITABLE_COMPRESSIONS.join(', ')}.`,
  };
}
