import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, validateSettings } from '../../shared/settings.js';

describe('settings schema', () => {
  it('defaults to the guide appendix A: disabled, 24 h, ./backups, 30 days, gzip, daily at 02:00', () => {
    expect(DEFAULT_SETTINGS).toMatchObject({
      backupDir: './backups',
      retainDays: 30,
      compression: 'gzip',
      schedule: { enabled: false, intervalHours: 24, dailyAt: '02:00' },
      notifications: { staleHours: 48, onFailure: true },
    });
  });

  it('names each invalid field with a reason a person can act on', () => {
    const result = validateSettings({ retainDays: 0, schedule: { dailyAt: '25:00' }, pds: { healthUrl: 'localhost:2583' } });
    expect(result).toEqual({
      ok: false,
      errors: {
        retainDays: 'At least 1 day',
        'schedule.dailyAt': 'Use a 24-hour time like 02:00',
        'pds.healthUrl': 'A URL like http://localhost:2583/xrpc/_health',
      },
    });
  });

  it('accepts an http(s) health URL or none', () => {
    for (const healthUrl of ['', 'http://localhost:2583/xrpc/_health', 'https://pds.example.com/xrpc/_health']) {
      expect(validateSettings({ pds: { healthUrl } }).ok).toBe(true);
    }
    expect(validateSettings({ pds: { healthUrl: 'ftp://pds.example.com' } }).ok).toBe(false);
  });
});

describe('encryption settings', () => {
  const recipient = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';

  it('default to no encryption, and keep public keys only', () => {
    expect(DEFAULT_SETTINGS.encryption).toEqual({ recipients: [], passphrase: false });
    const result = validateSettings({ encryption: { recipients: [` ${recipient} `] } });
    expect(result.ok && result.settings.encryption).toEqual({ recipients: [recipient], passphrase: false });
  });

  it('refuse what is not an age public key, and keys together with a passphrase', () => {
    const bad = validateSettings({ encryption: { recipients: ['AGE-SECRET-KEY-1QQQ'] } });
    expect(bad.ok === false && bad.errors['encryption.recipients.0']).toMatch(/An age public key/);
    const both = validateSettings({ encryption: { recipients: [recipient], passphrase: true } });
    expect(both.ok === false && both.errors['encryption.passphrase']).toMatch(/not both/);
  });
});
